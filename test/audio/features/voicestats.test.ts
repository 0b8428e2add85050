import { fc, test as fcTest } from "@fast-check/vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  analyzeVoice,
  PitchTracker,
  VOICE_STATS_HOP_SEC,
  VoiceStatsAnalyzer,
  YinPitch,
  type YinFrame,
} from "../../../src/audio/features/index.js";
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

describe("YIN", () => {
  it("recovers the F0 of pure and harmonic tones within 0.5 %", () => {
    const yin = new YinPitch();
    const out: YinFrame = { f0: 0, aperiodicity: 1, intensityDb: 0 };
    for (const f0 of [55, 80, 100, 137.5, 220, 310, 440, 520]) {
      for (const x of [sine(yin.frameLength, f0, 0.5), harmonicTone(yin.frameLength, f0, 0.3)]) {
        yin.analyze(x, out);
        expect(Math.abs(out.f0 / f0 - 1), `${f0} Hz`).toBeLessThan(0.005);
        expect(out.aperiodicity).toBeLessThan(0.05);
      }
    }
  });

  it("calls noise and silence unvoiced", () => {
    const yin = new YinPitch();
    const out: YinFrame = { f0: 0, aperiodicity: 1, intensityDb: 0 };
    yin.analyze(whiteNoise(yin.frameLength, 0.1), out);
    expect(out.f0).toBe(0);
    expect(out.aperiodicity).toBeGreaterThan(0.3);
    yin.analyze(new Float32Array(yin.frameLength), out);
    expect(out.f0).toBe(0);
    expect(out.intensityDb).toBe(-150);
  });
});

describe("voice statistics (synthetic)", () => {
  it("F0 percentiles of a glide span the glide; voicing ratio reflects silence", () => {
    // 2 s glide from 100 to 200 Hz (exponential), then 2 s of silence.
    const n = 2 * SR;
    const x = new Float32Array(2 * n);
    let phase = 0;
    for (let i = 0; i < n; i++) {
      const f = 100 * Math.pow(2, i / n);
      phase += (2 * Math.PI * f) / SR;
      x[i] = 0.3 * Math.sin(phase) + 0.1 * Math.sin(2 * phase);
    }
    const v = analyzeVoice(x);
    const p = v.f0Hz!;
    // Exponential glide: percentile q sits at 100·2^q Hz.
    for (const [q, got] of [
      [0.05, p.p5],
      [0.25, p.p25],
      [0.5, p.p50],
      [0.75, p.p75],
      [0.95, p.p95],
    ] as const) {
      expect(Math.abs(got / (100 * Math.pow(2, q)) - 1), `p${q * 100}`).toBeLessThan(0.02);
    }
    expect(v.voicedRatio).toBeGreaterThan(0.45);
    expect(v.voicedRatio).toBeLessThan(0.52);
    expect(v.durationSec).toBe(4);
  });

  it("counts amplitude-modulated syllables: 4 Hz bursts → ≈ 4 syllables/s", () => {
    const n = 5 * SR;
    const tone = harmonicTone(n, 150, 0.3);
    const x = tone.map((v, i) => v * Math.sin((Math.PI * 4 * i) / SR) ** 2);
    const v = analyzeVoice(x);
    expect(v.syllableCount).toBeGreaterThanOrEqual(19);
    expect(v.syllableCount).toBeLessThanOrEqual(20);
    expect(v.speechRateSps!).toBeCloseTo(4, 0);
  });

  it("returns nulls for silence and noise", () => {
    for (const x of [new Float32Array(SR), whiteNoise(SR, 0.1)]) {
      const v = analyzeVoice(x);
      expect(v.f0Hz).toBeNull();
      expect(v.syllableCount).toBe(0);
    }
  });

  it("the pitch tracker takes a hop of whole samples only", () => {
    const frames: number[] = [];
    const t = new PitchTracker({ sampleRate: SR, hopSec: 0.02 }, (f) => frames.push(f.f0));
    t.push(harmonicTone(SR, 150, 1));
    t.finish();
    // 1 s at a 20 ms hop on 45 ms frames: frames starting at 0, 20, …, 940 ms
    expect(frames.length).toBe(Math.floor((SR - t.frameLength) / t.hop) + 1);
    expect(t.hop).toBe(320);
    expect(() => new PitchTracker({ sampleRate: SR, hopSec: 0.01003 }, () => undefined)).toThrow(
      /whole number/,
    );
  });

  fcTest.prop([fc.array(fc.integer({ min: 1, max: 4000 }), { minLength: 1, maxLength: 8 })], { numRuns: 20 })(
    "chunking does not change the result",
    (sizes) => {
      const x = concat(harmonicTone(SR, 180, 0.3), new Float32Array(4000), harmonicTone(SR / 2, 120, 0.2));
      const whole = analyzeVoice(x);
      const a = new VoiceStatsAnalyzer();
      for (const c of chunksOf(x, sizes)) a.push(c);
      expect(a.finish()).toEqual(whole);
    },
  );
});

const gate = toolGate("sox", "flite");

describe.skipIf(gate.skip)(`voice statistics on flite speech${gate.note}`, () => {
  const tmp = makeTempDir();
  const rows: string[] = [];
  const text = SENTENCES.join(" ");

  beforeAll(() => {
    gate.assertAvailable();
  });

  afterAll(() => {
    if (rows.length > 0) console.log(`voice stats:\n  ${rows.join("\n  ")}`);
    tmp.cleanup();
  });

  it("F0 moves by the sox pitch-shift ratio (±3 %) for four voices", () => {
    for (const voice of ["slt", "awb", "rms", "kal16"] as const) {
      const base = analyzeVoice(readMono(speechWav(tmp.dir, `${voice}0`, text, voice)).pcm);
      for (const cents of [-500, 400, 700]) {
        const shifted = analyzeVoice(
          readMono(speechWav(tmp.dir, `${voice}${cents}`, text, voice, ["pitch", `${cents}`])).pcm,
        );
        const want = Math.pow(2, cents / 1200);
        const got = shifted.f0Hz!.p50 / base.f0Hz!.p50;
        rows.push(
          `${voice} pitch ${cents} c: median F0 ${base.f0Hz!.p50.toFixed(1)} → ${shifted.f0Hz!.p50.toFixed(1)} Hz ` +
            `(ratio ${got.toFixed(3)}, want ${want.toFixed(3)}); p5–p95 ${shifted.f0Hz!.p5.toFixed(0)}–${shifted.f0Hz!.p95.toFixed(0)}`,
        );
        expect(Math.abs(got / want - 1), `${voice} ${cents}`).toBeLessThan(0.03);
      }
      rows.push(
        `${voice}: voiced ${(base.voicedRatio * 100).toFixed(0)} %, ${base.syllableCount} syllables, ` +
          `${base.speechRateSps!.toFixed(2)} syl/s, articulation ${base.articulationRateSps!.toFixed(2)} syl/s`,
      );
    }
  });

  it("the 20 ms recipe (v3) agrees with the 10 ms one (v2) on each voice", () => {
    expect(VOICE_STATS_HOP_SEC).toBe(0.02);
    for (const voice of ["slt", "awb", "rms", "kal16"] as const) {
      const { pcm } = readMono(speechWav(tmp.dir, `${voice}h`, text, voice));
      const v2 = analyzeVoice(pcm, { hopSec: 0.01 });
      const v3 = analyzeVoice(pcm);
      expect(v3).toEqual(analyzeVoice(pcm, { hopSec: 0.02 }));
      expect(v3).not.toEqual(v2);
      // The tails hold a few dozen frames of a 17 s utterance, so they move more.
      for (const [q, maxCents] of [
        ["p5", 60],
        ["p25", 15],
        ["p50", 15],
        ["p75", 15],
        ["p95", 60],
      ] as const) {
        const cents = 1200 * Math.log2(v3.f0Hz![q] / v2.f0Hz![q]);
        rows.push(`${voice} ${q}: ${cents.toFixed(1)} cents`);
        expect(Math.abs(cents), `${voice} ${q}`).toBeLessThan(maxCents);
      }
      expect(Math.abs(v3.voicedRatio - v2.voicedRatio), voice).toBeLessThan(0.03);
      expect(Math.abs(v3.syllableCount / v2.syllableCount - 1), voice).toBeLessThan(0.1);
      rows.push(
        `${voice} hop 20 vs 10 ms: p50 ${v3.f0Hz!.p50.toFixed(1)} / ${v2.f0Hz!.p50.toFixed(1)} Hz, voiced ` +
          `${v3.voicedRatio.toFixed(3)} / ${v2.voicedRatio.toFixed(3)}, syllables ${v3.syllableCount} / ${v2.syllableCount}`,
      );
    }
  });

  it("syllable count is close to the text's and speaking rate follows sox tempo", () => {
    // SENTENCES hold 11 + 18 + 16 + 22 = 67 syllables (dictionary count). The intensity-peak
    // method undercounts fast speech (syllables merge) and overcounts slowed speech (WSOLA
    // ripples), so the rate tracks tempo with a compressed slope: we require monotonicity and
    // the ratio within 25 % of the tempo factor.
    for (const voice of ["slt", "awb", "rms", "kal16"] as const) {
      const base = analyzeVoice(readMono(speechWav(tmp.dir, `${voice}t`, text, voice)).pcm);
      expect(Math.abs(base.syllableCount - 67) / 67, `${voice} syllables ${base.syllableCount}`).toBeLessThan(
        0.25,
      );
      let prev = 0;
      const row: string[] = [
        `${voice}: 1.0× ${base.syllableCount} syl, ${base.speechRateSps!.toFixed(2)} syl/s`,
      ];
      for (const tempo of [0.8, 1.25, 1.5]) {
        const wav = speechWav(tmp.dir, `${voice}t${tempo}`, text, voice, ["tempo", "-s", `${tempo}`]);
        const v = analyzeVoice(readMono(wav).pcm);
        const ratio = v.speechRateSps! / base.speechRateSps!;
        row.push(
          `${tempo}× ${v.syllableCount} syl, ${v.speechRateSps!.toFixed(2)} syl/s (ratio ${ratio.toFixed(2)})`,
        );
        expect(Math.abs(ratio / tempo - 1), `${voice} tempo ${tempo}`).toBeLessThan(0.25);
        if (tempo > 1) expect(v.speechRateSps!).toBeGreaterThan(prev);
        prev = v.speechRateSps!;
      }
      rows.push(row.join("; "));
    }
  });
});
