import { afterAll, describe, expect, it } from "vitest";
import { numFramesFor, PitchTracker, YinPitch, type YinFrame } from "../../../src/audio/features/index.js";
import { Framer } from "../../../src/audio/features/framer.js";
import {
  chunksOf,
  concat,
  harmonicTone,
  makeTempDir,
  readMono,
  SENTENCES,
  sine,
  speechWav,
  whiteNoise,
} from "./gen.js";
import { toolGate } from "./tools.js";

const SR = 16000;

function track(x: Float32Array, sizes: readonly number[] = [x.length]): YinFrame[] {
  const frames: YinFrame[] = [];
  const t = new PitchTracker({}, (f) => frames.push({ ...f }));
  for (const c of chunksOf(x, sizes)) t.push(c);
  t.finish();
  return frames;
}

/** The full-rate reference: YinPitch on every 10 ms frame of the 16 kHz signal. */
function fullRate(x: Float32Array): YinFrame[] {
  const yin = new YinPitch();
  const frames: YinFrame[] = [];
  const out: YinFrame = { f0: 0, aperiodicity: 1, intensityDb: -150 };
  new Framer(yin.frameLength, 160).push(x, (f) => {
    yin.analyze(f, out);
    frames.push({ ...out });
  });
  return frames;
}

describe("PitchTracker (half-rate search, full-rate refinement)", () => {
  it("searches at half rate with the default range", () => {
    expect(new PitchTracker({}, () => undefined).decimated).toBe(true);
    // A range reaching past a quarter of the half rate falls back to the full-rate search.
    expect(new PitchTracker({ maxF0: 2500 }, () => undefined).decimated).toBe(false);
  });

  it("recovers the F0 of pure and harmonic tones 55–520 Hz within 0.5 % on every frame", () => {
    for (const f0 of [55, 80, 100, 137.5, 220, 310, 440, 520]) {
      for (const x of [sine(SR / 2, f0, 0.5), harmonicTone(SR / 2, f0, 0.3)]) {
        const frames = track(x);
        expect(frames.length).toBe(numFramesFor(x.length, 720, 160));
        for (const f of frames) {
          expect(f.f0, `${f0} Hz`).toBeGreaterThan(0);
          expect(Math.abs(f.f0 / f0 - 1), `${f0} Hz`).toBeLessThan(0.005);
          expect(f.aperiodicity).toBeLessThan(0.05);
        }
      }
    }
  });

  it("gives the full-rate frame count, intensity and unvoiced calls on noise and silence", () => {
    const x = concat(whiteNoise(SR / 2, 0.1), new Float32Array(SR / 2), harmonicTone(SR / 2, 150, 0.2));
    const got = track(x);
    const ref = fullRate(x);
    expect(got.length).toBe(ref.length);
    for (let i = 0; i < ref.length; i++) {
      // Intensity is computed on the full-rate frame exactly as before.
      expect(got[i]!.intensityDb).toBeCloseTo(ref[i]!.intensityDb, 9);
    }
    // Frames wholly inside the noise (0–0.5 s) and the silence (0.5–1 s): unvoiced.
    for (let i = 0; i < 50 - 5; i++) expect(got[i]!.f0, `noise frame ${i}`).toBe(0);
    for (let i = 50; i < 100 - 5; i++) {
      expect(got[i]!.f0, `silent frame ${i}`).toBe(0);
      expect(got[i]!.intensityDb).toBe(-150);
    }
  });

  it("is independent of chunking, including chunks shorter than the decimator's look-ahead", () => {
    const x = concat(harmonicTone(SR / 2, 180, 0.3), whiteNoise(3000, 0.05), harmonicTone(SR / 3, 95, 0.2));
    const whole = track(x);
    for (const sizes of [[1], [7, 1, 160, 3], [159, 161], [4096, 23]]) {
      expect(track(x, sizes)).toEqual(whole);
    }
  });

  it("handles streams shorter than one frame", () => {
    expect(track(new Float32Array(0))).toEqual([]);
    expect(track(harmonicTone(719, 150, 0.3))).toEqual([]);
    expect(track(harmonicTone(720, 150, 0.3))).toHaveLength(1);
  });
});

const gate = toolGate("sox", "flite");

describe.skipIf(gate.skip)(`PitchTracker against full-rate YIN on flite speech${gate.note}`, () => {
  const tmp = makeTempDir("voxvault-pitch-");
  afterAll(() => {
    tmp.cleanup();
  });

  it("agrees frame by frame with full-rate YIN on four voices", () => {
    for (const voice of ["slt", "awb", "rms", "kal16"] as const) {
      const x = readMono(speechWav(tmp.dir, voice, SENTENCES.join(" "), voice)).pcm;
      const got = track(x);
      const ref = fullRate(x);
      expect(got.length).toBe(ref.length);
      let both = 0;
      let agree = 0;
      let sameCall = 0;
      for (let i = 0; i < ref.length; i++) {
        const a = got[i]!.f0;
        const b = ref[i]!.f0;
        if (a > 0 === b > 0) sameCall++;
        if (a > 0 && b > 0) {
          both++;
          if (Math.abs(a / b - 1) < 0.01) agree++;
        }
      }
      console.log(
        `${voice}: same voicing call ${((100 * sameCall) / ref.length).toFixed(1)} % of ${ref.length} frames; ` +
          `F0 within 1 % on ${((100 * agree) / both).toFixed(1)} % of ${both} frames voiced in both`,
      );
      // Voicing calls and F0 of the frames both call voiced: the same in the vast majority
      // (kal16, a rough diphone voice with creak, differs most: octave jumps on either side).
      expect(sameCall / ref.length, voice).toBeGreaterThan(0.93);
      expect(both, voice).toBeGreaterThan(100);
      expect(agree / both, voice).toBeGreaterThan(0.9);
    }
  });
});
