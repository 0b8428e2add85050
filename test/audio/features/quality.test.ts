import { join } from "node:path";
import { fc, test as fcTest } from "@fast-check/vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { measureQuality, QualityAnalyzer } from "../../../src/audio/features/index.js";
import {
  chunksOf,
  concat,
  makeTempDir,
  readMono,
  SENTENCES,
  sine,
  speechWav,
  sox,
  whiteNoise,
} from "./gen.js";
import { toolGate } from "./tools.js";

describe("quality metrics (synthetic)", () => {
  it("measures RMS, peak and DC of a sine with offset", () => {
    const x = sine(16000, 440, 0.5).map((v) => v + 0.01);
    const q = measureQuality(x);
    expect(q.rmsDbfs!).toBeCloseTo(10 * Math.log10(0.125 + 0.0001), 2);
    expect(q.peakDbfs!).toBeCloseTo(20 * Math.log10(0.51), 2);
    expect(q.dcOffset).toBeCloseTo(0.01, 5);
    expect(q.clippingRatio).toBe(0);
    expect(q.durationSec).toBe(1);
  });

  it("detects hard clipping in runs but not isolated full-scale samples", () => {
    const clean = sine(16000, 100, 0.8);
    const clipped = clean.map((v) => Math.max(-0.6, Math.min(0.6, v)) / 0.6);
    const q = measureQuality(clipped);
    // 100 Hz sine of amplitude 0.8 clipped at 0.6: |sin| ≥ 0.75 for 46 % of the time.
    expect(q.clippingRatio).toBeGreaterThan(0.4);
    expect(q.clippingRatio).toBeLessThan(0.5);
    expect(q.clippedRuns).toBe(200);
    const spikes = new Float32Array(16000);
    for (let i = 0; i < spikes.length; i += 100) spikes[i] = 1;
    expect(measureQuality(spikes).clippingRatio).toBe(0);
    expect(measureQuality(clean).clippingRatio).toBe(0);
  });

  it("returns nulls for silence", () => {
    const q = measureQuality(new Float32Array(16000));
    expect(q.rmsDbfs).toBeNull();
    expect(q.peakDbfs).toBeNull();
    expect(q.snrDb).toBeNull();
    expect(q.wadaSnrDb).toBeNull();
  });

  fcTest.prop([fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 10 })], {
    numRuns: 30,
  })("is identical for any chunking", (sizes) => {
    const x = concat(
      whiteNoise(8000, 0.01, 9),
      sine(8000, 200, 1.2).map((v) => Math.max(-1, Math.min(1, v))),
      new Float32Array(3000),
    );
    const whole = measureQuality(x);
    const q = new QualityAnalyzer();
    for (const c of chunksOf(x, sizes)) q.push(c);
    expect(q.result()).toEqual(whole);
  });
});

const gate = toolGate("sox", "flite");

describe.skipIf(gate.skip)(`SNR estimates on speech + sox noise at known SNR${gate.note}`, () => {
  const tmp = makeTempDir();
  let speech: Float32Array;
  const noises = new Map<string, Float32Array>();
  const rows: string[] = [];

  beforeAll(() => {
    gate.assertAvailable();
    // Sentences separated by 0.4 s pauses, 0.5 s of silence around: a realistic take.
    const parts: Float32Array[] = [new Float32Array(8000)];
    SENTENCES.forEach((t, i) => {
      parts.push(readMono(speechWav(tmp.dir, `s${i}`, t, i % 2 === 0 ? "slt" : "kal16")).pcm);
      parts.push(new Float32Array(6400));
    });
    parts.push(new Float32Array(8000));
    speech = concat(...parts);
    const seconds = (speech.length / 16000 + 1).toFixed(2);
    for (const kind of ["whitenoise", "pinknoise", "brownnoise"]) {
      const p = join(tmp.dir, `${kind}.wav`);
      sox(["-n", "-r", "16000", "-c", "1", "-b", "16", p, "synth", seconds, kind, "vol", "0.5"]);
      noises.set(kind, readMono(p).pcm.subarray(0, speech.length));
    }
  });

  afterAll(() => {
    if (rows.length > 0) console.log(`SNR estimates (true → noise-floor / WADA):\n  ${rows.join("\n  ")}`);
    tmp.cleanup();
  });

  function mix(noise: Float32Array, snrDb: number): Float32Array {
    let es = 0;
    let en = 0;
    for (let i = 0; i < speech.length; i++) {
      es += speech[i]! ** 2;
      en += noise[i]! ** 2;
    }
    const g = Math.sqrt(es / en / 10 ** (snrDb / 10));
    return speech.map((v, i) => v + g * noise[i]!);
  }

  it("clean speech reads as high SNR", () => {
    const q = measureQuality(speech);
    rows.push(`clean: ${q.snrDb?.toFixed(1)} / ${q.wadaSnrDb?.toFixed(1)}`);
    expect(q.snrDb!).toBeGreaterThan(60);
  });

  it("noise-floor SNR is monotone and within 2 dB over 0–30 dB (white, pink, brown)", () => {
    for (const [kind, noise] of noises) {
      const got: number[] = [];
      const wada: number[] = [];
      for (const snr of [0, 5, 10, 15, 20, 25, 30]) {
        const q = measureQuality(mix(noise, snr));
        got.push(q.snrDb!);
        wada.push(q.wadaSnrDb!);
        expect(Math.abs(q.snrDb! - snr), `${kind} at ${snr} dB`).toBeLessThan(2);
      }
      rows.push(
        `${kind}: ${[0, 5, 10, 15, 20, 25, 30].map((s, i) => `${s}→${got[i]!.toFixed(1)}/${wada[i]!.toFixed(1)}`).join("  ")}`,
      );
      for (let i = 1; i < got.length; i++) expect(got[i]!).toBeGreaterThan(got[i - 1]!);
    }
  });

  it("WADA-SNR is monotone and within 3 dB up to 10 dB (it overshoots above: pauses)", () => {
    // WADA models the whole file as Gamma(0.4) speech; 0.4 s pauses and padding of pure noise
    // make the amplitude distribution peakier than that, which reads as a higher SNR.
    for (const kind of ["whitenoise", "pinknoise"]) {
      let prev = -Infinity;
      for (const snr of [0, 5, 10, 15, 20, 25, 30]) {
        const w = measureQuality(mix(noises.get(kind)!, snr)).wadaSnrDb!;
        if (snr <= 10) expect(Math.abs(w - snr), `${kind} at ${snr} dB`).toBeLessThan(3);
        expect(w).toBeGreaterThan(prev);
        prev = w;
      }
    }
  });
});
