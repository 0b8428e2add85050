import { fc, test as fcTest } from "@fast-check/vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  analyzeVoice,
  applyCmn,
  computeFbank,
  detectSpeech,
  FeaturePipeline,
  measureQuality,
  MfccTransform,
  type FeatureFrames,
  type FeatureReport,
} from "../../../src/audio/features/index.js";
import { isVaultError } from "../../../src/errors.js";
import { chunksOf, concat, makeTempDir, readMono, SENTENCES, sine, speechWav, whiteNoise } from "./gen.js";
import { toolGate } from "./tools.js";

function runPipeline(
  x: Float32Array,
  sizes: readonly number[],
  options: ConstructorParameters<typeof FeaturePipeline>[0] = {},
): { report: FeatureReport; fbank: Float32Array; mfcc: Float32Array } {
  const fb: Float32Array[] = [];
  const mf: Float32Array[] = [];
  let next = 0;
  const p = new FeaturePipeline({
    ...options,
    onFrames: (f: FeatureFrames) => {
      expect(f.firstFrame).toBe(next);
      next += f.numFrames;
      fb.push(f.fbank);
      if (f.mfcc) mf.push(f.mfcc);
    },
  });
  for (const c of chunksOf(x, sizes)) p.push(c);
  return { report: p.finish(), fbank: concat(...fb), mfcc: concat(...mf) };
}

/** Voiced-ish synthetic utterance: harmonic bursts at 4 Hz with a 150→220 Hz glide, in noise. */
function synthetic(seconds: number): Float32Array {
  const n = Math.round(seconds * 16000);
  const x = whiteNoise(n, 0.002, 11);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / 16000;
    if (t < 0.5 || t > seconds - 0.5) continue;
    phase += (2 * Math.PI * (150 + 70 * (t / seconds))) / 16000;
    const env = Math.sin(Math.PI * 4 * t) ** 2;
    x[i] = x[i]! + env * (0.2 * Math.sin(phase) + 0.1 * Math.sin(2 * phase) + 0.05 * Math.sin(3 * phase));
  }
  return x;
}

describe("FeaturePipeline", () => {
  it("equals the standalone extractors", () => {
    const x = synthetic(4);
    const { report, fbank, mfcc } = runPipeline(x, [1234, 77, 16000], { mfcc: { numCeps: 20 } });
    const ref = computeFbank(x);
    expect(fbank).toEqual(ref.data);
    expect(mfcc).toEqual(new MfccTransform(80, { numCeps: 20 }).applyAll(ref.data, ref.numFrames));
    expect(report.frames.count).toBe(ref.numFrames);
    expect(report.quality).toEqual(measureQuality(x));
    expect(report.vad).toEqual(detectSpeech(x));
    expect(report.voice).toEqual(analyzeVoice(x));
    // CMN with the reported mean equals CMN over the stored frames.
    const cmn = applyCmn(Float32Array.from(fbank), 80);
    const viaMean = fbank.map((v, i) => v - report.frames.fbankMean[i % 80]!);
    for (let i = 0; i < cmn.length; i += 997) expect(viaMean[i]).toBeCloseTo(cmn[i]!, 4);
  });

  it("reports the synthetic utterance sensibly", () => {
    const { report } = runPipeline(synthetic(6), [4096]);
    expect(report.durationSec).toBe(6);
    expect(report.vad.speechRatio).toBeGreaterThan(0.6);
    expect(report.vad.speechRatio).toBeLessThan(0.9);
    expect(report.enoughSpeech).toBe(true);
    expect(report.voice.f0Hz!.p50).toBeGreaterThan(170);
    expect(report.voice.f0Hz!.p50).toBeLessThan(200);
    expect(report.voice.speechRateSps!).toBeGreaterThan(2.5);
    expect(report.quality.snrDb!).toBeGreaterThan(25);
  });

  it("says there is not enough speech in noise or a tone", () => {
    for (const x of [whiteNoise(16000 * 4, 0.1), sine(16000 * 4, 1000, 0.5), new Float32Array(16000)]) {
      const { report } = runPipeline(x, [3000]);
      expect(report.enoughSpeech).toBe(false);
    }
  });

  it("handles input shorter than one frame", () => {
    const { report, fbank } = runPipeline(new Float32Array(100).fill(0.1), [7]);
    expect(report.frames.count).toBe(0);
    expect(fbank.length).toBe(0);
    expect(report.vad.segments).toEqual([]);
    expect(report.voice.f0Hz).toBeNull();
  });

  it("rejects non-finite and absurdly large samples as CORRUPT_AUDIO, and use after finish", () => {
    for (const bad of [Number.NaN, Infinity, -Infinity, 1.5e6, -3e38]) {
      const p = new FeaturePipeline();
      try {
        p.push(Float32Array.of(0, 0.5, bad));
        expect.unreachable();
      } catch (e) {
        expect(isVaultError(e, "CORRUPT_AUDIO"), String(bad)).toBe(true);
      }
    }
    // Far over full scale is still audio (float input may exceed ±1).
    const loud = new FeaturePipeline();
    loud.push(Float32Array.of(0, 1e6, -1e6, 40));
    const q = new FeaturePipeline();
    q.finish();
    try {
      q.push(new Float32Array(10));
      expect.unreachable();
    } catch (e) {
      expect(isVaultError(e, "INVALID_ARGUMENT")).toBe(true);
    }
  });

  fcTest.prop([fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 10 })], {
    numRuns: 15,
  })("chunking does not change anything", (sizes) => {
    const x = synthetic(3);
    const a = runPipeline(x, [x.length], { mfcc: {} });
    const b = runPipeline(x, sizes, { mfcc: {} });
    expect(b.fbank).toEqual(a.fbank);
    expect(b.mfcc).toEqual(a.mfcc);
    expect(b.report).toEqual(a.report);
  });
});

const gate = toolGate("sox", "flite");

describe.skipIf(gate.skip)(`FeaturePipeline on flite speech${gate.note}`, () => {
  const tmp = makeTempDir();
  beforeAll(() => {
    gate.assertAvailable();
  });
  afterAll(() => {
    tmp.cleanup();
  });

  it("produces a coherent report for a spoken take (WeSpeaker fbank settings)", () => {
    const speech = readMono(speechWav(tmp.dir, "take", SENTENCES.slice(0, 2).join(" "), "slt")).pcm;
    const x = concat(new Float32Array(16000), speech, new Float32Array(16000));
    const { report } = runPipeline(x, [16000], { fbank: { windowType: "hamming", sampleScale: 32768 } });
    expect(report.enoughSpeech).toBe(true);
    expect(report.vad.segments.length).toBeGreaterThanOrEqual(1);
    expect(report.vad.segments[0]!.startSec).toBeGreaterThan(0.9);
    expect(report.voice.f0Hz!.p50).toBeGreaterThan(140);
    expect(report.voice.f0Hz!.p50).toBeLessThan(190);
    expect(report.quality.clippingRatio).toBe(0);
  });
});
