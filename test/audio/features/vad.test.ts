import { fc, test as fcTest } from "@fast-check/vitest";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  assertEnoughSpeech,
  detectSpeech,
  hasEnoughSpeech,
  VoiceActivityDetector,
  type VadResult,
} from "../../../src/audio/features/index.js";
import { isVaultError } from "../../../src/errors.js";
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

const SR = 16000;

describe("VAD without speech", () => {
  it("finds nothing in silence, stationary noise or a steady tone", () => {
    for (const x of [new Float32Array(SR * 5), whiteNoise(SR * 5, 0.05), sine(SR * 5, 440, 0.3)]) {
      const v = detectSpeech(x);
      expect(v.speechSec).toBeLessThan(0.2);
      expect(hasEnoughSpeech(v)).toBe(false);
    }
  });

  it("NO_SPEECH below the minimum", () => {
    const v: VadResult = { durationSec: 3, speechSec: 0.4, speechRatio: 0.13, segments: [] };
    try {
      assertEnoughSpeech(v);
      expect.unreachable();
    } catch (e) {
      expect(isVaultError(e, "NO_SPEECH")).toBe(true);
    }
    expect(() => {
      assertEnoughSpeech(v, { minSpeechSec: 0.3 });
    }).not.toThrow();
  });
});

interface Layout {
  pcm: Float32Array;
  /** True speech spans (utterance start/end after trimming flite's own silence), seconds. */
  truth: [number, number][];
}

/** Trims leading/trailing samples below 1 % of the peak. */
function trim(x: Float32Array): [number, number] {
  let peak = 0;
  for (const v of x) peak = Math.max(peak, Math.abs(v));
  let a = 0;
  let b = x.length - 1;
  while (a < b && Math.abs(x[a]!) < 0.01 * peak) a++;
  while (b > a && Math.abs(x[b]!) < 0.01 * peak) b--;
  return [a, b + 1];
}

function layout(utts: Float32Array[], gapsSec: number[]): Layout {
  const parts: Float32Array[] = [];
  const truth: [number, number][] = [];
  let pos = 0;
  utts.forEach((u, i) => {
    const gap = new Float32Array(Math.round(gapsSec[i]! * SR));
    parts.push(gap, u);
    pos += gap.length;
    const [a, b] = trim(u);
    truth.push([(pos + a) / SR, (pos + b) / SR]);
    pos += u.length;
  });
  parts.push(new Float32Array(Math.round(gapsSec[utts.length]! * SR)));
  return { pcm: concat(...parts), truth };
}

function addNoise(x: Float32Array, noise: Float32Array, snrDb: number): Float32Array {
  let es = 0;
  let en = 0;
  for (let i = 0; i < x.length; i++) {
    es += x[i]! ** 2;
    en += noise[i]! ** 2;
  }
  const g = Math.sqrt(es / en / 10 ** (snrDb / 10));
  return x.map((v, i) => v + g * noise[i]!);
}

/** Frame-level (10 ms) agreement between detected segments and truth spans. */
function score(
  v: VadResult,
  truth: [number, number][],
  duration: number,
): { acc: number; miss: number; fa: number } {
  const n = Math.floor(duration * 100);
  const inAny = (t: number, segs: [number, number][]): boolean => segs.some(([a, b]) => t >= a && t < b);
  const det = v.segments.map((s) => [s.startSec, s.endSec] as [number, number]);
  let ok = 0;
  let miss = 0;
  let fa = 0;
  let speech = 0;
  for (let i = 0; i < n; i++) {
    const t = (i + 0.5) / 100;
    const a = inAny(t, truth);
    const b = inAny(t, det);
    if (a) speech++;
    if (a === b) ok++;
    else if (a) miss++;
    else fa++;
  }
  return { acc: ok / n, miss: miss / speech, fa: fa / (n - speech) };
}

const gate = toolGate("sox", "flite");

describe.skipIf(gate.skip)(`VAD on built speech/silence layouts${gate.note}`, () => {
  const tmp = makeTempDir();
  let base: Layout;
  const noises = new Map<string, Float32Array>();
  const rows: string[] = [];

  beforeAll(() => {
    gate.assertAvailable();
    const utts = [
      readMono(speechWav(tmp.dir, "u0", SENTENCES[0]!, "slt")).pcm,
      readMono(speechWav(tmp.dir, "u1", SENTENCES[1]!, "kal16")).pcm,
      readMono(speechWav(tmp.dir, "u2", "Yes.", "awb")).pcm,
      readMono(speechWav(tmp.dir, "u3", SENTENCES[2]!, "rms")).pcm,
    ];
    base = layout(utts, [1.5, 2.0, 1.2, 2.5, 3.0]);
    const seconds = (base.pcm.length / SR + 1).toFixed(2);
    for (const kind of ["whitenoise", "pinknoise", "brownnoise"]) {
      const p = join(tmp.dir, `${kind}.wav`);
      sox(["-n", "-r", "16000", "-c", "1", "-b", "16", p, "synth", seconds, kind, "vol", "0.5"]);
      noises.set(kind, readMono(p).pcm.subarray(0, base.pcm.length));
    }
  });

  afterAll(() => {
    if (rows.length > 0)
      console.log(`VAD (frame accuracy, miss, false alarm, segments):\n  ${rows.join("\n  ")}`);
    tmp.cleanup();
  });

  function check(name: string, x: Float32Array, minAcc: number): VadResult {
    const v = detectSpeech(x);
    const dur = x.length / SR;
    const s = score(v, base.truth, dur);
    const truthSec = base.truth.reduce((a, [s0, s1]) => a + s1 - s0, 0);
    rows.push(
      `${name}: acc ${(s.acc * 100).toFixed(1)} %, miss ${(s.miss * 100).toFixed(1)} %, ` +
        `FA ${(s.fa * 100).toFixed(1)} %, ratio ${v.speechRatio.toFixed(3)} (truth ${(truthSec / dur).toFixed(3)}), ` +
        `${v.segments.length} segments: ${v.segments.map((g) => `${g.startSec.toFixed(2)}–${g.endSec.toFixed(2)}`).join(" ")}`,
    );
    expect(s.acc, name).toBeGreaterThan(minAcc);
    expect(Math.abs(v.speechRatio - truthSec / dur), name).toBeLessThan(0.08);
    // Every true utterance overlaps a detected segment, and every segment overlaps an utterance.
    for (const [a, b] of base.truth) {
      expect(
        v.segments.some((g) => g.startSec < b && g.endSec > a),
        `${name}: utterance ${a}–${b}`,
      ).toBe(true);
    }
    for (const g of v.segments) {
      expect(
        base.truth.some(([a, b]) => g.startSec < b && g.endSec > a),
        `${name}: spurious ${g.startSec}`,
      ).toBe(true);
    }
    return v;
  }

  it("clean layout: segments match the utterances to within 150 ms", () => {
    const v = check("clean", base.pcm, 0.95);
    expect(v.segments.length).toBe(base.truth.length);
    v.segments.forEach((g, i) => {
      const [a, b] = base.truth[i]!;
      expect(Math.abs(g.startSec - a)).toBeLessThan(0.15);
      expect(Math.abs(g.endSec - b)).toBeLessThan(0.15);
    });
  });

  it("robust to white, pink and brown noise at 10–30 dB SNR", () => {
    for (const [kind, noise] of noises) {
      for (const snr of [30, 20, 10]) {
        check(`${kind} ${snr} dB`, addNoise(base.pcm, noise, snr), snr >= 20 ? 0.93 : 0.9);
      }
    }
  });

  it("level-independent: 20 dB quieter speech gives the same segments", () => {
    const loud = detectSpeech(base.pcm);
    const quiet = detectSpeech(base.pcm.map((v) => v * 0.1));
    expect(quiet.segments.length).toBe(loud.segments.length);
    expect(Math.abs(quiet.speechSec - loud.speechSec)).toBeLessThan(0.1);
  });

  fcTest.prop([fc.array(fc.integer({ min: 1, max: 20000 }), { minLength: 1, maxLength: 6 })], { numRuns: 8 })(
    "chunking does not change the result",
    (sizes) => {
      const x = addNoise(base.pcm, noises.get("pinknoise")!, 15);
      const whole = detectSpeech(x);
      const v = new VoiceActivityDetector();
      for (const c of chunksOf(x, sizes)) v.push(c);
      expect(v.finish()).toEqual(whole);
    },
  );
});
