import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fc, test as fcTest } from "@fast-check/vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  applyCmn,
  computeFbank,
  FbankExtractor,
  MeanAccumulator,
  MfccTransform,
  numFramesFor,
  RealFft,
  subtractMean,
} from "../../../src/audio/features/index.js";
import { isVaultError } from "../../../src/errors.js";
import { chunksOf, concat, makeTempDir, readMono, sine, speechWav, sox, whiteNoise } from "./gen.js";
import { run, toolGate, torchPython } from "./tools.js";

describe("RealFft", () => {
  it("matches a naive DFT and inverts", () => {
    for (const n of [4, 8, 64, 512, 1024]) {
      const fft = new RealFft(n);
      const x = whiteNoise(n, 1, n);
      const re = new Float64Array(n / 2 + 1);
      const im = new Float64Array(n / 2 + 1);
      fft.forward(x, re, im);
      let err = 0;
      for (let k = 0; k <= n / 2; k++) {
        let r = 0;
        let i = 0;
        for (let t = 0; t < n; t++) {
          r += x[t]! * Math.cos((-2 * Math.PI * k * t) / n);
          i += x[t]! * Math.sin((-2 * Math.PI * k * t) / n);
        }
        err = Math.max(err, Math.abs(r - re[k]!), Math.abs(i - im[k]!));
      }
      expect(err).toBeLessThan(1e-9 * n);
      const back = new Float64Array(n);
      fft.inverse(re, im, back);
      for (let t = 0; t < n; t++) expect(back[t]).toBeCloseTo(x[t]!, 9);
    }
  });

  it("rejects sizes that are not powers of two", () => {
    expect(() => new RealFft(400)).toThrow(/power of two/);
  });
});

describe("fbank framing and invariants", () => {
  it("produces Kaldi's frame count (snip_edges)", () => {
    expect(numFramesFor(399, 400, 160)).toBe(0);
    expect(numFramesFor(400, 400, 160)).toBe(1);
    expect(numFramesFor(559, 400, 160)).toBe(1);
    expect(numFramesFor(560, 400, 160)).toBe(2);
    expect(computeFbank(new Float32Array(16000)).numFrames).toBe(98);
  });

  it("floors silence at ln(FLT_EPSILON)", () => {
    const f = computeFbank(new Float32Array(800));
    for (const v of f.data) expect(v).toBeCloseTo(Math.log(1.1920928955078125e-7), 5);
  });

  it("puts a tone's energy in the right mel bin", () => {
    const ex = new FbankExtractor();
    const f = ex.push(sine(4000, 1000, 0.5));
    const centers = ex.computer.banks.centerHz;
    const row = f.data.subarray(0, 80);
    let best = 0;
    for (let m = 1; m < 80; m++) if (row[m]! > row[best]!) best = m;
    expect(Math.abs(centers[best]! - 1000)).toBeLessThan(40);
  });

  it("sampleScale adds 2·ln(scale) to the log power", () => {
    const x = whiteNoise(4000, 0.1);
    const a = computeFbank(x);
    const b = computeFbank(x, { sampleScale: 32768 });
    const shift = 2 * Math.log(32768);
    for (let i = 0; i < a.data.length; i++) expect(b.data[i]! - a.data[i]!).toBeCloseTo(shift, 3);
  });

  it("is deterministic with dither 0 and with a seeded dither", () => {
    const x = whiteNoise(8000, 0.1);
    expect(computeFbank(x).data).toEqual(computeFbank(x).data);
    const d1 = computeFbank(x, { dither: 1, sampleScale: 32768, ditherSeed: 7 }).data;
    const d2 = computeFbank(x, { dither: 1, sampleScale: 32768, ditherSeed: 7 }).data;
    const d3 = computeFbank(x, { dither: 1, sampleScale: 32768, ditherSeed: 8 }).data;
    expect(d1).toEqual(d2);
    expect(d1).not.toEqual(d3);
  });

  it("validates options with INVALID_ARGUMENT", () => {
    for (const bad of [
      { numMelBins: 0 },
      { sampleRate: -1 },
      { lowFreq: 9000 },
      { roundToPowerOfTwo: false },
    ]) {
      try {
        new FbankExtractor(bad);
        expect.unreachable();
      } catch (e) {
        expect(isVaultError(e, "INVALID_ARGUMENT")).toBe(true);
      }
    }
  });

  fcTest.prop([fc.array(fc.integer({ min: 0, max: 1200 }), { minLength: 1, maxLength: 12 })], {
    numRuns: 40,
  })("frames are identical for any chunking (incl. dither)", (sizes) => {
    const x = concat(whiteNoise(3000, 0.05, 3), sine(2000, 220, 0.3));
    const opts = { dither: 0.5, sampleScale: 32768, ditherSeed: 3 };
    const whole = computeFbank(x, opts);
    const ex = new FbankExtractor(opts);
    const parts: Float32Array[] = [];
    let next = 0;
    for (const c of chunksOf(
      x,
      sizes.map((s) => s + 1),
    )) {
      const b = ex.push(c);
      expect(b.firstFrame).toBe(next);
      next += b.numFrames;
      parts.push(b.data);
    }
    expect(ex.finish().numFrames).toBe(0);
    expect(concat(...parts)).toEqual(whole.data);
  });
});

describe("MFCC and CMN", () => {
  it("MFCC c0 of a flat log-mel is √N·value (orthonormal DCT, lifter 1 at c0)", () => {
    const t = new MfccTransform(80, { numCeps: 13 });
    const out = new Float32Array(13);
    t.apply(new Float32Array(80).fill(2), 0, out, 0);
    expect(out[0]).toBeCloseTo(2 * Math.sqrt(80), 4);
    for (let k = 1; k < 13; k++) expect(Math.abs(out[k]!)).toBeLessThan(1e-5);
  });

  it("CMN removes the per-dimension mean", () => {
    const data = Float32Array.from({ length: 30 }, (_, i) => (i % 3) * 10 + i);
    const acc = new MeanAccumulator(3);
    acc.add(data);
    const m = acc.mean();
    applyCmn(data, 3);
    for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let t = 0; t < 10; t++) s += data[t * 3 + j]!;
      expect(Math.abs(s)).toBeLessThan(1e-4);
    }
    expect(m[0]).toBeCloseTo(13.5, 4);
    expect(() => subtractMean(new Float32Array(4), new Float32Array(3))).toThrow();
  });
});

interface RefOutput {
  path: string;
  frames: number;
  dims: number;
}
interface RefManifest {
  files: { wav: string; stem: string; outputs: Record<string, RefOutput> }[];
}

const torchGate = toolGate("torchaudio", "sox", "flite");

describe.skipIf(torchGate.skip)(`fbank vs torchaudio.compliance.kaldi${torchGate.note}`, () => {
  const tmp = makeTempDir();
  let manifest: RefManifest;
  const results: string[] = [];

  beforeAll(() => {
    torchGate.assertAvailable();
    const d = tmp.dir;
    const wavs = [
      speechWav(d, "speech_slt", "The quick brown fox jumps over the lazy dog.", "slt"),
      speechWav(d, "speech_kal", "Please call Stella and ask her to bring these things.", "kal16", [
        "vol",
        "0.5",
      ]),
      join(d, "noise.wav"),
      join(d, "sweep.wav"),
      join(d, "quiet_tone.wav"),
    ];
    sox(["-n", "-r", "16000", "-c", "1", "-b", "16", wavs[2]!, "synth", "2", "whitenoise", "vol", "0.3"]);
    sox([
      "-n",
      "-r",
      "16000",
      "-c",
      "1",
      "-b",
      "16",
      wavs[3]!,
      "synth",
      "2",
      "sine",
      "50-7900",
      "vol",
      "0.5",
    ]);
    sox(["-n", "-r", "16000", "-c", "1", "-b", "16", wavs[4]!, "synth", "1.5", "sine", "300", "vol", "0.01"]);
    const script = join(import.meta.dirname, "../../../scripts/dev/kaldi_fbank_ref.py");
    const out = run(torchPython()!, [script, "--out", d, ...wavs]).trim();
    manifest = JSON.parse(readFileSync(out.split("\n").pop()!, "utf8")) as RefManifest;
  });

  afterAll(() => {
    if (results.length > 0) console.log(`fbank vs torchaudio (max |Δ|):\n  ${results.join("\n  ")}`);
    tmp.cleanup();
  });

  function load(o: RefOutput): Float32Array {
    const b = readFileSync(o.path);
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  }

  function maxAbsDiff(a: Float32Array, b: Float32Array): number {
    expect(a.length).toBe(b.length);
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
    return m;
  }

  /**
   * Checks one configuration against torchaudio run in float32 (as the embedders do) and in
   * float64. Against float64 we must agree to tol64 (1e-4 for log-mel; MFCC sums 23–80 log-mels
   * through torchaudio's float32 DCT matrix and a lifter of up to 12, so 5e-4); against float32
   * to 1e-3, except that torchaudio's own float32 rounding (|ref32 − ref64|) is allowed on top.
   */
  function check(
    stem: string,
    name: string,
    ours: Float32Array,
    frames: number,
    ref32: RefOutput,
    ref64: RefOutput,
    tol64 = 1e-4,
  ): void {
    expect(frames).toBe(ref32.frames);
    const r32 = load(ref32);
    const r64 = load(ref64);
    const d64 = maxAbsDiff(ours, r64);
    const d32 = maxAbsDiff(ours, r32);
    const self = maxAbsDiff(r32, r64);
    results.push(
      `${stem} ${name}: vs float32 ${d32.toExponential(2)}, vs float64 ${d64.toExponential(2)} ` +
        `(torchaudio float32 vs float64: ${self.toExponential(2)})`,
    );
    expect(d64).toBeLessThan(tol64);
    expect(d32).toBeLessThan(Math.max(1e-3, self + tol64));
  }

  it("log-mel (povey, [-1,1] input: 3D-Speaker)", () => {
    for (const f of manifest.files) {
      const ours = computeFbank(readMono(f.wav).pcm);
      check(
        f.stem,
        "fbank_povey",
        ours.data,
        ours.numFrames,
        f.outputs.fbank_povey!,
        f.outputs.fbank_povey_f64!,
      );
    }
  });

  it("log-mel (hamming, ×32768: WeSpeaker)", () => {
    for (const f of manifest.files) {
      const ours = computeFbank(readMono(f.wav).pcm, { windowType: "hamming", sampleScale: 32768 });
      check(
        f.stem,
        "fbank_wespeaker",
        ours.data,
        ours.numFrames,
        f.outputs.fbank_wespeaker!,
        f.outputs.fbank_wespeaker_f64!,
      );
    }
  });

  it("MFCC (23 and 80 mel bins)", () => {
    for (const f of manifest.files) {
      for (const [name, bins, ceps] of [
        ["mfcc_23", 23, 13],
        ["mfcc_80", 80, 20],
      ] as const) {
        const fb = computeFbank(readMono(f.wav).pcm, { numMelBins: bins });
        const ours = new MfccTransform(bins, { numCeps: ceps }).applyAll(fb.data, fb.numFrames);
        check(f.stem, name, ours, fb.numFrames, f.outputs[name]!, f.outputs[`${name}_f64`]!, 5e-4);
      }
    }
  });
});
