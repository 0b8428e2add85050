import { join } from "node:path";
import { fc, test as fcTest } from "@fast-check/vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  kWeightingHighPass,
  kWeightingShelf,
  LoudnessMeter,
  measureLoudness,
  type LoudnessResult,
} from "../../../src/audio/features/index.js";
import { isVaultError } from "../../../src/errors.js";
import { chunksOf, makeTempDir, sine, speechWav, SENTENCES, sox, whiteNoise } from "./gen.js";
import { run, toolGate } from "./tools.js";
import { readWav, writeWav } from "./wav.js";

const dbToAmp = (db: number): number => Math.pow(10, db / 20);

function* zip3<T>(a: Iterable<T>, b: Iterable<T>, c: Iterable<T>): Generator<[T, T, T]> {
  const ib = b[Symbol.iterator]();
  const ic = c[Symbol.iterator]();
  for (const x of a) yield [x, ib.next().value as T, ic.next().value as T];
}

describe("K-weighting", () => {
  it("reproduces the BS.1770-4 Table 1/2 coefficients at 48 kHz", () => {
    const s = kWeightingShelf(48000);
    expect(s.b0).toBeCloseTo(1.53512485958697, 9);
    expect(s.b1).toBeCloseTo(-2.69169618940638, 9);
    expect(s.b2).toBeCloseTo(1.19839281085285, 9);
    expect(s.a1).toBeCloseTo(-1.69065929318241, 9);
    expect(s.a2).toBeCloseTo(0.73248077421585, 9);
    const h = kWeightingHighPass(48000);
    expect([h.b0, h.b1, h.b2]).toEqual([1, -2, 1]);
    expect(h.a1).toBeCloseTo(-1.99004745483398, 9);
    expect(h.a2).toBeCloseTo(0.99007225036621, 9);
  });
});

describe("LoudnessMeter (synthetic, no tools)", () => {
  it("reads a stereo 997 Hz sine at −23 dBFS as −23 LUFS at 16, 44.1 and 48 kHz", () => {
    for (const sr of [16000, 44100, 48000]) {
      const x = sine(sr * 10, 997, dbToAmp(-23), sr);
      const r = measureLoudness([x, x], sr);
      expect(r.integratedLufs!).toBeCloseTo(-23, 1);
      expect(r.loudnessRangeLu!).toBeLessThan(0.1);
      expect(r.maxMomentaryLufs!).toBeCloseTo(-23, 1);
    }
  });

  it("applies the gates: silence is null, a quiet tail below −10 LU is ignored", () => {
    expect(measureLoudness([new Float32Array(48000)], 48000).integratedLufs).toBeNull();
    expect(measureLoudness([new Float32Array(48000)], 48000).truePeakDbtp).toBeNull();
    const sr = 48000;
    const loud = sine(sr * 5, 997, dbToAmp(-20), sr);
    const quiet = sine(sr * 20, 997, dbToAmp(-40), sr);
    const both = new Float32Array(loud.length + quiet.length);
    both.set(loud);
    both.set(quiet, loud.length);
    // −40 dBFS mono ≈ −43 LUFS: above the absolute gate, below the relative gate (−33). What
    // passes: 47 fully loud blocks and the 3 straddling the step (¾, ½, ¼ loud, all within
    // 10 LU), so the mean energy is 48.5/50 of the tone's.
    const r = measureLoudness([both], sr);
    expect(r.integratedLufs!).toBeCloseTo(-23.01 + 10 * Math.log10(48.5 / 50), 2);
  });

  fcTest.prop(
    [
      fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 6 }),
    ],
    { numRuns: 20 },
  )("stereo runs a two-channel loop that gives exactly the per-channel result", (seed, sizes) => {
    // A third, silent channel of weight 0 sends the same signal through the per-channel loop.
    const sr = 44100;
    const n = sr * 3;
    const l = whiteNoise(n, 0.3, seed);
    const r = sine(n, 440, 0.4, sr);
    const stereo = new LoudnessMeter({ sampleRate: sr, channels: 2 });
    const general = new LoudnessMeter({ sampleRate: sr, channels: 3, channelWeights: [1, 1, 0] });
    const silent = new Float32Array(n);
    for (const [a, b, c] of zip3(chunksOf(l, sizes), chunksOf(r, sizes), chunksOf(silent, sizes))) {
      stereo.push([a, b]);
      general.push([a, b, c]);
    }
    expect({ ...stereo.finish(), channels: 3 }).toEqual(general.finish());
  });

  it("weights surround channels by 1.41 and ignores LFE (5.1)", () => {
    const sr = 48000;
    const x = sine(sr * 4, 997, dbToAmp(-23), sr);
    const z = new Float32Array(x.length);
    const front = measureLoudness([x, z, z, z, z, z], sr).integratedLufs!;
    const lfe = measureLoudness([z, z, z, x, z, z], sr).integratedLufs;
    const surround = measureLoudness([z, z, z, z, x, z], sr).integratedLufs!;
    expect(lfe).toBeNull();
    expect(surround - front).toBeCloseTo(10 * Math.log10(1.41), 3);
  });

  it("finds inter-sample peaks: fs/4 sine at 45° phase reads ≈ +3 dB above its samples", () => {
    const sr = 48000;
    const x = sine(sr, sr / 4, 0.5, sr, Math.PI / 4);
    const r = measureLoudness([x], sr);
    expect(r.samplePeakDbfs!).toBeCloseTo(20 * Math.log10(0.5 / Math.SQRT2), 3);
    expect(r.truePeakDbtp! - r.samplePeakDbfs!).toBeGreaterThan(2.5);
    expect(r.truePeakDbtp!).toBeLessThan(20 * Math.log10(0.5) + 0.2);
  });

  it("rejects bad layouts", () => {
    for (const o of [
      { sampleRate: 100, channels: 1 },
      { sampleRate: 48000, channels: 0 },
      { sampleRate: 48000, channels: 2, channelWeights: [1] },
    ]) {
      try {
        new LoudnessMeter(o);
        expect.unreachable();
      } catch (e) {
        expect(isVaultError(e, "INVALID_ARGUMENT")).toBe(true);
      }
    }
  });

  fcTest.prop([fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 8 })], { numRuns: 25 })(
    "chunking (planar or interleaved) does not change the result",
    (sizes) => {
      const sr = 44100;
      const l = whiteNoise(sr * 2, 0.1, 5);
      const r = sine(sr * 2, 440, 0.3, sr);
      const whole = measureLoudness([l, r], sr);
      const m = new LoudnessMeter({ sampleRate: sr, channels: 2 });
      const lc = chunksOf(l, sizes);
      const rc = chunksOf(r, sizes);
      lc.forEach((c, i) => {
        if (i % 2 === 0) m.push([c, rc[i]!]);
        else {
          const inter = new Float32Array(c.length * 2);
          for (let j = 0; j < c.length; j++) {
            inter[2 * j] = c[j]!;
            inter[2 * j + 1] = rc[i]![j]!;
          }
          m.pushInterleaved(inter);
        }
      });
      expect(m.finish()).toEqual(whole);
    },
  );
});

interface FfmpegLoudness {
  integrated: number;
  lra: number;
  peak: number;
}

function ffmpegEbur128(path: string): FfmpegLoudness {
  const out = run("ffmpeg", [
    "-nostats",
    "-hide_banner",
    "-i",
    path,
    "-af",
    "ebur128=peak=true",
    "-f",
    "null",
    "-",
  ]);
  const summary = out.slice(out.lastIndexOf("Summary:"));
  const num = (re: RegExp): number => {
    const m = re.exec(summary);
    if (!m) throw new Error(`cannot parse ffmpeg summary: ${summary}`);
    return m[1] === "-inf" ? -Infinity : Number(m[1]);
  };
  return {
    integrated: num(/I:\s+(-?[\d.]+|-inf) LUFS/),
    lra: num(/LRA:\s+(-?[\d.]+) LU/),
    peak: num(/Peak:\s+(-?[\d.]+|-inf) dBFS/),
  };
}

const gate = toolGate("ffmpeg", "sox", "flite");

describe.skipIf(gate.skip)(`LoudnessMeter vs ffmpeg ebur128${gate.note}`, () => {
  const tmp = makeTempDir();
  const files: { name: string; path: string }[] = [];
  const rows: string[] = [];

  beforeAll(() => {
    gate.assertAvailable();
    const d = tmp.dir;
    const add = (name: string, path: string): void => {
      files.push({ name, path });
    };
    // EBU Tech 3341 case 1: stereo 1 kHz (997 Hz) at −23 dBFS → −23 LUFS.
    const s48 = sine(48000 * 20, 997, dbToAmp(-23), 48000);
    writeWav(join(d, "ebu_sine_stereo_48k.wav"), { sampleRate: 48000, channels: [s48, s48] });
    add("997 Hz −23 dBFS stereo 48k", join(d, "ebu_sine_stereo_48k.wav"));
    const s44 = sine(44100 * 10, 997, dbToAmp(-18), 44100);
    writeWav(join(d, "sine_mono_44k.wav"), { sampleRate: 44100, channels: [s44] });
    add("997 Hz −18 dBFS mono 44.1k", join(d, "sine_mono_44k.wav"));
    const isp = sine(48000 * 3, 12000, 0.7, 48000, Math.PI / 4);
    writeWav(join(d, "isp_48k.wav"), { sampleRate: 48000, channels: [isp, isp] });
    add("fs/4 inter-sample-peak sine 48k", join(d, "isp_48k.wav"));
    // Speech: four sentences by two voices, at several levels and rates.
    const speech = speechWav(d, "speech", SENTENCES.join(" "), "slt");
    const speech2 = speechWav(d, "speech2", SENTENCES.slice().reverse().join(" "), "rms");
    for (const [lvl, rate] of [
      [-3, 16000],
      [-16, 16000],
      [-30, 16000],
      [-12, 44100],
      [-20, 48000],
    ] as const) {
      const p = join(d, `speech_${-lvl}_${rate}.wav`);
      sox([speech, "-r", `${rate}`, "-b", "24", p, "gain", "-n", `${lvl}`]);
      add(`speech peak ${lvl} dBFS ${rate / 1000}k`, p);
    }
    const st = join(d, "speech_stereo_48k.wav");
    sox(["-M", speech, speech2, "-r", "48000", "-b", "24", st, "gain", "-n", "-6"]);
    add("speech stereo (2 voices) 48k", st);
    const pink = join(d, "pink_44k.wav");
    sox(["-n", "-r", "44100", "-c", "2", "-b", "24", pink, "synth", "8", "pinknoise", "vol", "0.2"]);
    add("pink noise stereo 44.1k", pink);
    const white = join(d, "white_16k.wav");
    sox(["-n", "-r", "16000", "-c", "1", "-b", "16", white, "synth", "8", "whitenoise", "vol", "0.05"]);
    add("white noise mono 16k", white);
    const burst = join(d, "speech_then_silence_48k.wav");
    sox([speech, "-r", "48000", "-b", "24", burst, "gain", "-n", "-10", "pad", "0", "10"]);
    add("speech + 10 s digital silence 48k", burst);
  });

  afterAll(() => {
    if (rows.length > 0) {
      console.log(`loudness vs ffmpeg ebur128 (ours / ffmpeg):\n  ${rows.join("\n  ")}`);
    }
    tmp.cleanup();
  });

  it("integrated loudness within 0.1 LU and true peak within 0.5 dB", () => {
    const measured: [string, LoudnessResult, FfmpegLoudness][] = [];
    for (const f of files) {
      const w = readWav(f.path);
      const m = new LoudnessMeter({ sampleRate: w.sampleRate, channels: w.channels.length });
      // Feed in uneven chunks, as the ingest path would.
      const sizes = [4093, 17, 32768];
      const parts = w.channels.map((c) => chunksOf(c, sizes));
      for (let i = 0; i < parts[0]!.length; i++) m.push(parts.map((p) => p[i]!));
      const ours = m.finish();
      const ref = ffmpegEbur128(f.path);
      measured.push([f.name, ours, ref]);
      rows.push(
        `${f.name}: I ${ours.integratedLufs?.toFixed(2)} / ${ref.integrated.toFixed(1)} LUFS, ` +
          `TP ${ours.truePeakDbtp?.toFixed(2)} / ${ref.peak.toFixed(1)} dBTP, ` +
          `LRA ${ours.loudnessRangeLu?.toFixed(1) ?? "-"} / ${ref.lra.toFixed(1)} LU`,
      );
    }
    for (const [name, ours, ref] of measured) {
      // ffmpeg prints one decimal: allow its rounding (0.05) on top of 0.1 LU.
      expect(Math.abs(ours.integratedLufs! - ref.integrated), name).toBeLessThanOrEqual(0.15);
      if (name.startsWith("fs/4")) {
        // A 12 kHz sine of amplitude 0.7 sampled at 45°: the true peak is exactly −3.10 dBTP.
        // The Annex 2 filter reads −3.02; ffmpeg (swresample to 192 kHz) overshoots to −2.5,
        // so here we hold ourselves to the analytic value instead of ffmpeg's.
        expect(Math.abs(ours.truePeakDbtp! - 20 * Math.log10(0.7)), name).toBeLessThan(0.15);
        expect(Math.abs(ours.truePeakDbtp! - ref.peak), name).toBeLessThan(0.7);
      } else {
        expect(Math.abs(ours.truePeakDbtp! - ref.peak), name).toBeLessThanOrEqual(0.5);
      }
    }
    const ebu = measured[0]![1];
    expect(ebu.integratedLufs!).toBeCloseTo(-23, 1);
  });
});
