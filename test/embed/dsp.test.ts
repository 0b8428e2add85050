import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FeaturePipeline, type FeatureFrames } from "../../src/audio/features/index.js";
import { isVaultError } from "../../src/errors.js";
import {
  createDspEmbedder,
  embedPcm,
  parseCalibration,
  parseDspModel,
  statsDim,
  UtteranceStats,
  wipeEmbedding,
  type DspModelFile,
} from "../../src/embed/index.js";
import { builtinModelPaths, loadBuiltinEmbedder } from "../../src/embed/node.js";
import { createTemplateProtector } from "../../src/template/index.js";
import { chunks, speechLike } from "./signals.js";

const paths = builtinModelPaths();
const modelBytes = new Uint8Array(readFileSync(paths.model));
const calibrationBytes = new Uint8Array(readFileSync(paths.calibration));

async function expectCode(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    expect(isVaultError(e) ? e.code : String(e)).toBe(code);
    return;
  }
  throw new Error(`expected ${code}`);
}

function collect(pcm: Float32Array, numCeps = 20): { frames: FeatureFrames[]; speechSec: number } {
  const frames: FeatureFrames[] = [];
  const p = new FeaturePipeline({
    fbank: { windowType: "hamming", sampleScale: 32768 },
    mfcc: { numCeps },
    onFrames: (f) => frames.push(f),
  });
  for (const c of chunks(pcm, [16000])) p.push(c);
  return { frames, speechSec: p.finish().vad.speechSec };
}

/** Straightforward whole-utterance implementation of UtteranceStats (all frames in memory). */
function referenceStats(
  frames: readonly FeatureFrames[],
  speechSec: number,
  keep: number,
  minFrames: number,
): Float64Array {
  const C = frames[0]!.numCeps;
  const d = C - 1;
  const ceps: number[][] = [];
  const energy: number[] = [];
  for (const f of frames) {
    for (let t = 0; t < f.numFrames; t++) {
      ceps.push(Array.from(f.mfcc!.subarray(t * C + 1, (t + 1) * C)));
      const row = Array.from(f.fbank.subarray(t * f.numMelBins, (t + 1) * f.numMelBins));
      const max = Math.max(...row);
      energy.push(
        Math.floor(
          ((max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0))) * (10 / Math.LN10)) / 0.5,
        ),
      );
    }
  }
  const T = ceps.length;
  const clamp = (i: number): number => Math.min(T - 1, Math.max(0, i));
  const delta = (x: number[][]): number[][] =>
    x.map((_, t) =>
      Array.from(
        { length: d },
        (_, i) =>
          (x[clamp(t + 1)]![i]! - x[clamp(t - 1)]![i]! + 2 * (x[clamp(t + 2)]![i]! - x[clamp(t - 2)]![i]!)) /
          10,
      ),
    );
  const dl = delta(ceps);
  const dd = delta(dl);
  // Loudest bins first, the boundary bin pro rata.
  const want = Math.min(T, Math.max(minFrames, Math.round(keep * speechSec * 100)));
  const bins = [...new Set(energy)].sort((a, b) => b - a);
  const w = new Float64Array(T);
  let need = want;
  for (const b of bins) {
    if (need <= 0) break;
    const members = energy.map((e, i) => (e === b ? i : -1)).filter((i) => i >= 0);
    const f = members.length <= need ? 1 : need / members.length;
    for (const i of members) w[i] = f;
    need -= members.length;
  }
  const W = w.reduce((s, v) => s + v, 0);
  const wmean = (x: number[][], i: number): number => x.reduce((s, r, t) => s + w[t]! * r[i]!, 0) / W;
  const wcov = (x: number[][], i: number, j: number): number =>
    x.reduce((s, r, t) => s + w[t]! * r[i]! * r[j]!, 0) / W - wmean(x, i) * wmean(x, j);
  const out: number[] = [];
  for (let i = 0; i < d; i++) out.push(wmean(ceps, i));
  for (let i = 0; i < d; i++) out.push(Math.sqrt(wcov(ceps, i, i)));
  for (let i = 0; i < d; i++)
    for (let j = i + 1; j < d; j++)
      out.push(wcov(ceps, i, j) / Math.sqrt(wcov(ceps, i, i) * wcov(ceps, j, j)));
  for (let i = 0; i < d; i++) out.push(Math.sqrt(wcov(dl, i, i)));
  for (let i = 0; i < d; i++) out.push(Math.sqrt(wcov(dd, i, i)));
  return Float64Array.from(out);
}

describe("streaming utterance statistics", () => {
  it.each([
    ["short (12 frames)", 0.13],
    ["a few seconds", 3.2],
  ])("equal a whole-utterance computation: %s", (_, seconds) => {
    const { frames, speechSec } = collect(speechLike(seconds, { seed: 3 }), 8);
    const s = new UtteranceStats({ numCeps: 8, keepFraction: 0.8, minFrames: 5 });
    for (const f of frames) s.accept(f);
    const got = s.finish(Math.max(speechSec, 0.1));
    const want = referenceStats(frames, Math.max(speechSec, 0.1), 0.8, 5);
    expect(got).toHaveLength(statsDim(8));
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 9);
  });

  it("keep memory bounded: statistics are per energy bin, not per frame", () => {
    const s = new UtteranceStats({ numCeps: 20, keepFraction: 0.8, minFrames: 50 });
    // 90 s at levels spanning 53 dB.
    for (let k = 0; k < 9; k++) {
      const { frames } = collect(speechLike(10, { seed: k, level: 0.5 * 10 ** (-k / 3) }));
      for (const f of frames) s.accept({ ...f, firstFrame: s.frameCount });
    }
    expect(s.frameCount).toBeGreaterThan(8900);
    expect(s.binCount).toBeLessThan(400);
  });

  it("rejects frames without MFCC, out of order, or after finish", () => {
    const { frames } = collect(speechLike(1));
    const s = new UtteranceStats({ numCeps: 20, keepFraction: 0.8, minFrames: 5 });
    expect(() => {
      s.accept({ ...frames[0]!, mfcc: null });
    }).toThrow(/MFCC/);
    expect(() => {
      s.accept({ ...frames[0]!, firstFrame: 7 });
    }).toThrow(/order/);
  });
});

describe("built-in DSP embedder", () => {
  it("loads the shipped model with its calibration", async () => {
    const e = await loadBuiltinEmbedder();
    expect(e.id).toMatch(/^voxvault-dsp-v2\+sha256:[0-9a-f]{16}$/);
    expect(e.dim).toBe(80);
    expect(e.profile).toEqual({ embedderId: e.id, inputDim: 80 });
    expect(e.features).toEqual({
      fbank: { numMelBins: 80, windowType: "hamming", sampleScale: 32768 },
      mfcc: { numCeps: 20, cepstralLifter: 22 },
    });
    expect(e.calibration).not.toBeNull();
    expect(e.calibration!.threshold).toBeGreaterThan(0.25);
    expect(e.calibration!.threshold).toBeLessThan(1);
    expect(e.calibration!.hashes).toBe(1024);
    expect(e.calibration!.q).toBe(4);
    await e.close();
  });

  it("gives a unit vector that does not depend on how the stream is chunked", async () => {
    const e = createDspEmbedder(modelBytes);
    const pcm = speechLike(4, { seed: 5 });
    const a = (await embedPcm(e, chunks(pcm, [16000]))).embedding;
    const b = (await embedPcm(e, chunks(pcm, [1, 777, 160, 4000]))).embedding;
    const c = (await embedPcm(e, [pcm])).embedding;
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(Array.from(c)).toEqual(Array.from(a));
    expect(a.reduce((s, v) => s + v * v, 0)).toBeCloseTo(1, 5);
  });

  it("tells synthetic voices apart better than chance, through the protected templates", async () => {
    const e = createDspEmbedder(modelBytes, { calibration: calibrationBytes });
    const voices = [
      { f0: 110, formants: [550, 1500] as const },
      { f0: 210, formants: [800, 2200] as const },
    ];
    const emb = await Promise.all(
      voices.flatMap((v, i) =>
        [11, 12].map(
          async (seed) => (await embedPcm(e, [speechLike(5, { ...v, seed: seed + 10 * i })])).embedding,
        ),
      ),
    );
    const p = createTemplateProtector(new Uint8Array(32).fill(7), { profile: e.profile });
    const t = emb.map((x) => p.protect(x));
    const same = (p.compare(t[0]!, t[1]!) + p.compare(t[2]!, t[3]!)) / 2;
    const diff = (p.compare(t[0]!, t[2]!) + p.compare(t[1]!, t[3]!)) / 2;
    expect(same).toBeGreaterThan(diff);
    expect(same).toBeGreaterThan(e.calibration!.threshold);
    p.dispose();
    for (const x of emb) wipeEmbedding(x);
    expect(emb[0]!.every((v) => v === 0)).toBe(true);
  });

  it("raises NO_SPEECH for silence and for too little audio", async () => {
    const e = createDspEmbedder(modelBytes);
    await expectCode(embedPcm(e, [new Float32Array(32000)]), "NO_SPEECH");
    await expectCode(embedPcm(e, [speechLike(0.3)]), "NO_SPEECH");
  });

  it("a session finishes once; abort wipes it; a report from another stream is refused", async () => {
    const e = createDspEmbedder(modelBytes);
    const pcm = speechLike(2);
    const s = e.createSession();
    const p = new FeaturePipeline({
      ...e.features,
      onFrames: (f) => {
        s.push(f);
      },
    });
    p.push(pcm);
    const report = p.finish();
    await s.finish(report);
    await expectCode(s.finish(report), "INVALID_ARGUMENT");
    const s2 = e.createSession();
    s2.abort();
    await expectCode(s2.finish(report), "INVALID_ARGUMENT");
    const s3 = e.createSession();
    await expectCode(s3.finish(report), "INVALID_ARGUMENT"); // saw no frames
  });

  it("refuses templates made with another model version", async () => {
    const file = JSON.parse(new TextDecoder().decode(modelBytes)) as DspModelFile;
    const other = new TextEncoder().encode(
      JSON.stringify({ ...file, training: { ...file.training, note: "retrained" } }),
    );
    const a = createDspEmbedder(modelBytes);
    const b = createDspEmbedder(other);
    expect(b.id).not.toBe(a.id);
    const pcm = speechLike(3);
    const key = new Uint8Array(32).fill(9);
    const ta = createTemplateProtector(key, { profile: a.profile }).protectToBytes(
      (await embedPcm(a, [pcm])).embedding,
    );
    const pb = createTemplateProtector(key, { profile: b.profile });
    const tb = pb.protectToBytes((await embedPcm(b, [pcm])).embedding);
    try {
      pb.compare(ta, tb);
      throw new Error("compared across model versions");
    } catch (err) {
      expect(isVaultError(err, "TEMPLATE_MISMATCH")).toBe(true);
      expect((err as { details?: { reason?: string } }).details?.reason).toBe("profile");
    }
  });

  it("MODEL_INVALID for damaged model files; calibration only for its own model", async () => {
    const file = JSON.parse(new TextDecoder().decode(modelBytes)) as DspModelFile;
    const enc = (x: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(x));
    const bad: Uint8Array[] = [
      new Uint8Array([0xff, 0xfe, 0x00]),
      enc({ ...file, format: "other/1" }),
      enc({ ...file, name: "Bad Name" }),
      enc({ ...file, features: { ...file.features, numCeps: 1 } }),
      enc({ ...file, projection: { ...file.projection, wccn: { ...file.projection.wccn, shape: [3, 3] } } }),
      enc({ ...file, projection: { ...file.projection, lda: { ...file.projection.lda, f32: "!!!" } } }),
      enc({
        ...file,
        projection: {
          ...file.projection,
          outputMean: { shape: [40], f32: btoa("\u0000\u0000\u00c0\u007f".repeat(40)) },
        },
      }),
      enc({ ...file, projection: undefined }),
    ];
    for (const b of bad) await expectCode(() => parseDspModel(b), "MODEL_INVALID");
    const id = parseDspModel(modelBytes).id;
    expect(parseCalibration(calibrationBytes, id)?.threshold).toBeGreaterThan(0);
    expect(parseCalibration(calibrationBytes, "voxvault-dsp-v2+sha256:0000000000000000")).toBeNull();
    expect(
      createDspEmbedder(enc({ ...file, training: {} }), { calibration: calibrationBytes }).calibration,
    ).toBeNull();
    await expectCode(() => parseCalibration(enc({ format: "x" }), id), "MODEL_INVALID");
    await expectCode(loadBuiltinEmbedder({ modelPath: "/nonexistent/model.json" }), "MODEL_INVALID");
  });
});
