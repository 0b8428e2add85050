import { createRequire } from "node:module";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FeaturePipeline, type FeatureReport } from "../../src/audio/features/index.js";
import { isVaultError } from "../../src/errors.js";
import { createOnnxEmbedder, embedPcm } from "../../src/embed/node.js";
import { need } from "../support/tools.js";
import {
  ELEM_FLOAT,
  encodeModel,
  meanProjectionModel,
  varianceProjectionModel,
  type Graph,
} from "./onnx-proto.js";
import { chunks, speechLike, TestRng } from "./signals.js";

function hasOnnxRuntime(): boolean {
  try {
    createRequire(import.meta.url).resolve("onnxruntime-node");
    return true;
  } catch {
    return false;
  }
}

const available = need(
  "onnxruntime-node",
  hasOnnxRuntime(),
  "the optional package onnxruntime-node is not installed",
);
const dir = mkdtempSync(join(tmpdir(), "vv-onnx-"));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

async function expectInvalid(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    expect(isVaultError(e, "MODEL_INVALID")).toBe(true);
    expect((e as Error).message).toMatch(pattern);
    return;
  }
  throw new Error("expected MODEL_INVALID");
}

const DIM = 8;
const W = (() => {
  const r = new TestRng(42);
  return Float32Array.from({ length: 80 * DIM }, () => r.normal() / 9);
})();

/** Direct computation of what the ONNX embedder should give for the variance model. */
function expected(report: FeatureReport, fbank: Float32Array, win: number, hop: number): Float64Array {
  const bins = 80;
  const T = fbank.length / bins;
  const starts: [number, number][] = [];
  for (let s = 0; s + win <= T; s += hop) starts.push([s, win]);
  if (T < win) starts.push([0, T]);
  else if (T - (starts.at(-1)![0] + win) >= Math.min(hop, 50)) starts.push([T - win, win]);
  const out = new Float64Array(DIM);
  const embs: { w: number; v: Float64Array; ratio: number }[] = [];
  for (const [s, n] of starts) {
    const mean = new Float64Array(bins);
    for (let t = 0; t < n; t++) for (let j = 0; j < bins; j++) mean[j]! += fbank[(s + t) * bins + j]! / n;
    const v2 = new Float64Array(bins);
    for (let t = 0; t < n; t++)
      for (let j = 0; j < bins; j++) {
        const x = Math.fround(fbank[(s + t) * bins + j]! - mean[j]!);
        v2[j]! += (x * x) / n;
      }
    const v = new Float64Array(DIM);
    for (let k = 0; k < DIM; k++) for (let j = 0; j < bins; j++) v[k]! += v2[j]! * W[j * DIM + k]!;
    const norm = Math.hypot(...v);
    for (let k = 0; k < DIM; k++) v[k] = v[k]! / norm;
    const a = s * 0.01;
    const b = (s + n - 1) * 0.01 + 0.025;
    const w = report.vad.segments.reduce(
      (acc, g) => acc + Math.max(0, Math.min(b, g.endSec) - Math.max(a, g.startSec)),
      0,
    );
    embs.push({ w, v, ratio: w / (n * 0.01) });
  }
  const useAll = !embs.some((e) => e.ratio >= 0.3);
  for (const e of embs) if (useAll || e.ratio >= 0.3) for (let k = 0; k < DIM; k++) out[k]! += e.w * e.v[k]!;
  const norm = Math.hypot(...out);
  return out.map((x) => x / norm);
}

describe.skipIf(!available)("ONNX embedder (onnxruntime-node, generated test models)", () => {
  it("matches a direct computation over windows (CMN per window, speech-weighted average)", async () => {
    const path = write("var.onnx", varianceProjectionModel(W, DIM));
    const e = await createOnnxEmbedder({ modelPath: path, name: "test-var", windowSec: 3, hopSec: 1.5 });
    try {
      expect(e.dim).toBe(DIM);
      expect(e.id).toMatch(/^test-var\+sha256:[0-9a-f]{16}$/);
      expect(e.features).toEqual({
        fbank: { numMelBins: 80, windowType: "hamming", sampleScale: 32768 },
        mfcc: false,
      });
      expect(e.calibration).toBeNull();
      for (const seconds of [8.37, 2.2]) {
        const pcm = speechLike(seconds, { seed: 9 });
        const fb: Float32Array[] = [];
        const p = new FeaturePipeline({ ...e.features, onFrames: (f) => fb.push(f.fbank.slice()) });
        p.push(pcm);
        const report = p.finish();
        const all = new Float32Array(fb.reduce((s, f) => s + f.length, 0));
        let o = 0;
        for (const f of fb) {
          all.set(f, o);
          o += f.length;
        }
        const want = expected(report, all, 300, 150);
        const got = (await embedPcm(e, chunks(pcm, [4000, 123]))).embedding;
        expect(got).toHaveLength(DIM);
        for (let k = 0; k < DIM; k++) expect(got[k]).toBeCloseTo(want[k]!, 4);
      }
    } finally {
      await e.close();
    }
  });

  it("accepts a 3D-Speaker front end and a symbolic batch; rejects silence with NO_SPEECH", async () => {
    const path = write("mean.onnx", meanProjectionModel(W, DIM, { inputName: "x" }));
    const e = await createOnnxEmbedder({ modelPath: path, frontEnd: "3d-speaker" });
    try {
      expect(e.features.fbank).toEqual({ numMelBins: 80, windowType: "povey", sampleScale: 1 });
      expect(e.id).toMatch(/^onnx\+sha256:/);
      try {
        await embedPcm(e, [new Float32Array(48000)]);
        throw new Error("no error");
      } catch (err) {
        expect(isVaultError(err, "NO_SPEECH")).toBe(true);
      }
    } finally {
      await e.close();
    }
  });

  it("MODEL_INVALID: missing, corrupt and wrongly shaped models", async () => {
    await expectInvalid(createOnnxEmbedder({ modelPath: join(dir, "absent.onnx") }), /Cannot read/);
    const r = new TestRng(7);
    const junk = Uint8Array.from({ length: 3000 }, () => Math.floor(r.unit() * 256));
    await expectInvalid(createOnnxEmbedder({ modelPath: write("junk.onnx", junk) }), /cannot load/);
    const good = varianceProjectionModel(W, DIM);
    await expectInvalid(
      createOnnxEmbedder({ modelPath: write("cut.onnx", good.subarray(0, good.length - 40)) }),
      /cannot load/,
    );

    const base = (over: Partial<Graph>): Uint8Array =>
      encodeModel({
        inputs: [{ name: "feats", elemType: ELEM_FLOAT, shape: [1, "T", 80] }],
        outputs: [{ name: "embs", elemType: ELEM_FLOAT, shape: [1, DIM] }],
        initializers: [{ name: "W", dims: [80, DIM], data: W }],
        nodes: [
          {
            opType: "ReduceMean",
            inputs: ["feats"],
            outputs: ["p"],
            attributes: [
              { name: "axes", ints: [1] },
              { name: "keepdims", int: 0 },
            ],
          },
          { opType: "MatMul", inputs: ["p", "W"], outputs: ["embs"] },
        ],
        ...over,
      });
    // Fixed time axis.
    await expectInvalid(
      createOnnxEmbedder({
        modelPath: write(
          "fixed-t.onnx",
          base({ inputs: [{ name: "feats", elemType: ELEM_FLOAT, shape: [1, 200, 80] }] }),
        ),
      }),
      /time axis must be dynamic/,
    );
    // 40 features per frame.
    await expectInvalid(
      createOnnxEmbedder({
        modelPath: write(
          "bins40.onnx",
          base({
            inputs: [{ name: "feats", elemType: ELEM_FLOAT, shape: [1, "T", 40] }],
            initializers: [{ name: "W", dims: [40, DIM], data: W.subarray(0, 40 * DIM) }],
          }),
        ),
      }),
      /expects 40 features per frame/,
    );
    // Rank-2 input.
    await expectInvalid(
      createOnnxEmbedder({
        modelPath: write(
          "rank2.onnx",
          base({
            inputs: [{ name: "feats", elemType: ELEM_FLOAT, shape: ["T", 80] }],
            nodes: [
              {
                opType: "ReduceMean",
                inputs: ["feats"],
                outputs: ["p"],
                attributes: [
                  { name: "axes", ints: [0] },
                  { name: "keepdims", int: 1 },
                ],
              },
              { opType: "MatMul", inputs: ["p", "W"], outputs: ["embs"] },
            ],
          }),
        ),
      }),
      /shape \[batch, T, 80\]/,
    );
    // Output of rank 3 (no pooling over time).
    await expectInvalid(
      createOnnxEmbedder({
        modelPath: write(
          "rank3out.onnx",
          base({
            outputs: [{ name: "embs", elemType: ELEM_FLOAT, shape: [1, "T", DIM] }],
            nodes: [{ opType: "MatMul", inputs: ["feats", "W"], outputs: ["embs"] }],
          }),
        ),
      }),
      /shape \[batch, D\]/,
    );
    // Two inputs.
    await expectInvalid(
      createOnnxEmbedder({
        modelPath: write(
          "two-inputs.onnx",
          base({
            inputs: [
              { name: "feats", elemType: ELEM_FLOAT, shape: [1, "T", 80] },
              { name: "mask", elemType: ELEM_FLOAT, shape: [1, "T"] },
            ],
          }),
        ),
      }),
      /exactly one input/,
    );
    // A model whose output is not finite (log of negative values).
    await expectInvalid(
      createOnnxEmbedder({
        modelPath: write(
          "nan.onnx",
          base({
            nodes: [
              {
                opType: "ReduceMean",
                inputs: ["feats"],
                outputs: ["p"],
                attributes: [
                  { name: "axes", ints: [1] },
                  { name: "keepdims", int: 0 },
                ],
              },
              { opType: "MatMul", inputs: ["p", "W"], outputs: ["q"] },
              { opType: "Log", inputs: ["q"], outputs: ["embs"] },
            ],
          }),
        ),
      }),
      /non-finite/,
    );
  });

  it("MODEL_INVALID with an install hint when onnxruntime-node cannot be loaded", async () => {
    const path = write("ok.onnx", varianceProjectionModel(W, DIM));
    await expectInvalid(
      createOnnxEmbedder({ modelPath: path, runtimeModule: "onnxruntime-node-not-installed-here" }),
      /npm install onnxruntime-node/,
    );
  });
});
