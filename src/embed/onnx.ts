/**
 * ONNX speaker embedder (Node only): runs a user-supplied WeSpeaker / 3D-Speaker-style model with
 * onnxruntime-node, an optional dependency loaded on first use.
 *
 * Model contract (checked at load, MODEL_INVALID otherwise): one float32 input [1 | N, T, 80] with
 * a dynamic time axis — 80-bin Kaldi fbank, mean-normalised (CMN) as WeSpeaker's extraction does
 * (`feats - feats.mean(0)`) — and one float32 output [1 | N, D]. The model runs once at load on a
 * 2 s probe, which also tells D when the output shape is symbolic.
 *
 * Long recordings: fbank frames are cut into windows (default 10 s, hop 5 s; CMN per window, as
 * if each window were an utterance given to WeSpeaker); each window's embedding is length-
 * normalised and the recording's embedding is their average weighted by each window's speech time
 * from the VAD segments, again length-normalised. Windows with less than 30 % speech are left out
 * (all windows are used, weighted, when none reaches it). This is chunked extraction as in Kaldi's
 * x-vector recipe (nnet3-xvector-compute --chunk-size, chunk embeddings averaged; Snyder et al.,
 * "X-vectors: robust DNN embeddings for speaker recognition", ICASSP 2018). Memory: one window of
 * frames plus one D-vector per window (a 3-hour recording: ~2,200 windows).
 */

import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { FeatureFrames, FeatureReport, SpeechSegment } from "../audio/features/index.js";
import { VaultError } from "../errors.js";
import type { EmbeddingProfile } from "../template/index.js";
import type { Embedder, EmbedderFeatureOptions, EmbeddingSession, TemplateCalibration } from "./types.js";

/** The parts of onnxruntime's API used here (onnxruntime-common's InferenceSession and Tensor). */
interface OrtTensor {
  readonly dims: readonly number[];
  readonly type: string;
  readonly data: unknown;
}
interface OrtValueMetadata {
  readonly name: string;
  readonly isTensor: boolean;
  readonly type?: string;
  readonly shape?: readonly (number | string)[];
}
interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata?: readonly OrtValueMetadata[];
  readonly outputMetadata?: readonly OrtValueMetadata[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor | undefined>>;
  release(): Promise<void>;
}
interface OrtModule {
  readonly InferenceSession: {
    create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession>;
  };
  readonly Tensor: new (type: "float32", data: Float32Array, dims: readonly number[]) => OrtTensor;
}

export type FrontEnd = "wespeaker" | "3d-speaker";

export interface OnnxEmbedderOptions {
  /** Path of the .onnx file (the lead passes it from configuration). */
  readonly modelPath: string;
  /** Label in the embedder id (default "onnx"); the id always carries the file's SHA-256. */
  readonly name?: string;
  /**
   * Fbank convention the model was trained with: WeSpeaker (Hamming window, samples scaled by
   * 2^15; default) or 3D-Speaker (Povey window, samples in [-1, 1]).
   */
  readonly frontEnd?: FrontEnd;
  readonly numMelBins?: number;
  /** Window and hop in seconds (defaults 10 and 5). */
  readonly windowSec?: number;
  readonly hopSec?: number;
  /** Threshold for verify decisions, when the operator has calibrated this model (else null). */
  readonly calibration?: TemplateCalibration | null;
  /** Public normalisation to protect the outputs with (e.g. the mean of the model's training set). */
  readonly normalisation?: Pick<EmbeddingProfile, "mean" | "transform">;
  /** onnxruntime intra-op threads (default 1: the ingest runs recordings in parallel instead). */
  readonly threads?: number;
  /** Module to load (default "onnxruntime-node"); for tests. */
  readonly runtimeModule?: string;
}

const invalid = (message: string, cause?: unknown): VaultError =>
  new VaultError("MODEL_INVALID", message, cause === undefined ? undefined : { cause });

const INSTALL_HINT =
  "The ONNX embedder needs the optional package onnxruntime-node: install it with " +
  "`ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm install onnxruntime-node` " +
  "(the CPU build is inside the package; the variables stop its install script from downloading GPU parts).";

async function loadRuntime(specifier: string): Promise<OrtModule> {
  let ns: unknown;
  try {
    ns = await import(specifier);
  } catch (e) {
    throw invalid(INSTALL_HINT, e);
  }
  const pick = (m: unknown): OrtModule | undefined =>
    typeof m === "object" && m !== null && "InferenceSession" in m && "Tensor" in m
      ? (m as OrtModule)
      : undefined;
  const mod = pick(ns) ?? pick((ns as { default?: unknown }).default);
  if (mod === undefined) throw invalid(`${specifier} does not look like onnxruntime. ${INSTALL_HINT}`);
  return mod;
}

const isDynamic = (d: number | string | undefined): boolean => typeof d === "string" || d === -1;

/** Checks the declared input/output signature; returns the declared D when known. */
function checkSignature(
  session: OrtSession,
  bins: number,
): { input: string; output: string; dim: number | null } {
  if (session.inputNames.length !== 1) {
    throw invalid(`ONNX speaker model must have exactly one input, has ${session.inputNames.length}.`);
  }
  if (session.outputNames.length !== 1) {
    throw invalid(`ONNX speaker model must have exactly one output, has ${session.outputNames.length}.`);
  }
  const input = session.inputNames[0]!;
  const output = session.outputNames[0]!;
  const im = session.inputMetadata?.[0];
  const om = session.outputMetadata?.[0];
  if (im !== undefined) {
    const s = im.shape ?? [];
    if (!im.isTensor || im.type !== "float32")
      throw invalid(`ONNX model input "${input}" must be a float32 tensor.`);
    if (s.length !== 3)
      throw invalid(`ONNX model input "${input}" must have shape [batch, T, ${bins}], has rank ${s.length}.`);
    if (!(isDynamic(s[0]) || s[0] === 1))
      throw invalid(`ONNX model input "${input}": batch must be 1 or dynamic.`);
    if (!isDynamic(s[1]))
      throw invalid(`ONNX model input "${input}": the time axis must be dynamic, is ${String(s[1])}.`);
    if (!(isDynamic(s[2]) || s[2] === bins)) {
      throw invalid(
        `ONNX model input "${input}" expects ${String(s[2])} features per frame, the front end gives ${bins}.`,
      );
    }
  }
  let dim: number | null = null;
  if (om !== undefined) {
    const s = om.shape ?? [];
    if (!om.isTensor || om.type !== "float32")
      throw invalid(`ONNX model output "${output}" must be a float32 tensor.`);
    if (s.length !== 2)
      throw invalid(`ONNX model output "${output}" must have shape [batch, D], has rank ${s.length}.`);
    if (typeof s[1] === "number" && s[1] > 0) dim = s[1];
  }
  return { input, output, dim };
}

/** Runs one [1, T, bins] window; returns the raw output vector (MODEL_INVALID on a wrong shape). */
async function infer(
  ort: OrtModule,
  session: OrtSession,
  io: { input: string; output: string },
  feats: Float32Array,
  frames: number,
  bins: number,
): Promise<Float32Array> {
  const result = await session.run({ [io.input]: new ort.Tensor("float32", feats, [1, frames, bins]) });
  const out = result[io.output];
  if (out?.type !== "float32" || !(out.data instanceof Float32Array)) {
    throw invalid(`ONNX model gave no float32 output "${io.output}".`);
  }
  if (out.dims.length !== 2 || out.dims[0] !== 1) {
    throw invalid(`ONNX model output has shape [${out.dims.join(", ")}], expected [1, D].`);
  }
  const v = Float32Array.from(out.data);
  for (const x of v) if (!Number.isFinite(x)) throw invalid("ONNX model output contains non-finite values.");
  return v;
}

function l2normalise(v: Float32Array | Float64Array): boolean {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s);
  if (!(n > 0)) return false;
  for (let i = 0; i < v.length; i++) v[i] = v[i]! / n;
  return true;
}

function speechOverlap(segments: readonly SpeechSegment[], start: number, end: number): number {
  let s = 0;
  for (const seg of segments) s += Math.max(0, Math.min(end, seg.endSec) - Math.max(start, seg.startSec));
  return s;
}

interface WindowResult {
  readonly firstFrame: number;
  readonly frames: number;
  readonly embedding: Float32Array;
}

class OnnxSession implements EmbeddingSession {
  private readonly ring: Float32Array;
  private frames = 0;
  private lastWindowEnd = 0;
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown = undefined;
  private readonly results: WindowResult[] = [];
  private done = false;
  private aborted = false;

  constructor(private readonly e: LoadedModel) {
    this.ring = new Float32Array(e.windowFrames * e.bins);
  }

  push(f: FeatureFrames): void {
    if (this.done) throw new VaultError("INVALID_ARGUMENT", "onnx embedder: session already finished");
    const { bins, windowFrames: win, hopFrames: hop } = this.e;
    if (f.numMelBins !== bins) {
      throw new VaultError(
        "INVALID_ARGUMENT",
        `onnx embedder: needs ${bins}-bin fbank frames (pass embedder.features)`,
      );
    }
    if (f.firstFrame !== this.frames)
      throw new VaultError("INVALID_ARGUMENT", "onnx embedder: frames out of order or missing");
    for (let t = 0; t < f.numFrames; t++) {
      const slot = this.frames % win;
      this.ring.set(f.fbank.subarray(t * bins, (t + 1) * bins), slot * bins);
      this.frames++;
      const start = this.frames - win;
      if (start >= 0 && start % hop === 0) this.enqueue(start, win);
    }
  }

  /** Copies frames [start, start + n) out of the ring, mean-normalises them and queues inference. */
  private enqueue(start: number, n: number): void {
    const { bins, windowFrames: win } = this.e;
    const feats = new Float32Array(n * bins);
    const mean = new Float64Array(bins);
    for (let t = 0; t < n; t++) {
      const slot = (start + t) % win;
      feats.set(this.ring.subarray(slot * bins, (slot + 1) * bins), t * bins);
      for (let j = 0; j < bins; j++) mean[j]! += feats[t * bins + j]! / n;
    }
    for (let t = 0; t < n; t++)
      for (let j = 0; j < bins; j++) feats[t * bins + j] = feats[t * bins + j]! - mean[j]!;
    this.lastWindowEnd = start + n;
    this.chain = this.chain.then(async () => {
      if (this.failure !== undefined || this.aborted) return;
      try {
        const v = await infer(this.e.ort, this.e.session, this.e, feats, n, bins);
        if (v.length !== this.e.dim)
          throw invalid(`ONNX model output has ${v.length} values, expected ${this.e.dim}.`);
        if (l2normalise(v)) this.results.push({ firstFrame: start, frames: n, embedding: v });
      } catch (err) {
        this.failure = err;
      } finally {
        feats.fill(0);
      }
    });
  }

  drain(): Promise<void> {
    return this.chain;
  }

  async finish(report: FeatureReport): Promise<Float32Array> {
    if (this.done) throw new VaultError("INVALID_ARGUMENT", "onnx embedder: session already finished");
    const { windowFrames: win, hopFrames: hop, minFrames } = this.e;
    if (report.frames.count !== this.frames) {
      this.abort();
      throw new VaultError(
        "INVALID_ARGUMENT",
        "onnx embedder: the session did not see every frame of the report",
      );
    }
    // The tail: the last full window (or the whole recording when shorter than one window).
    if (this.frames < win) {
      if (this.frames >= minFrames) this.enqueue(0, this.frames);
    } else if (this.frames - this.lastWindowEnd >= Math.min(hop, minFrames)) {
      this.enqueue(this.frames - win, win);
    }
    this.done = true;
    await this.chain;
    this.ring.fill(0);
    try {
      if (this.failure !== undefined) {
        throw this.failure instanceof Error
          ? this.failure
          : new VaultError("INTERNAL", "ONNX inference failed.");
      }
      const shift = report.frames.frameShiftSec;
      const len = report.frames.frameLengthSec;
      const weights = this.results.map((r) =>
        speechOverlap(report.vad.segments, r.firstFrame * shift, (r.firstFrame + r.frames - 1) * shift + len),
      );
      const total = weights.reduce((a, b) => a + b, 0);
      if (!(total > 0)) {
        throw new VaultError("NO_SPEECH", "No speech for a speaker embedding.", {
          details: { speechSec: report.vad.speechSec },
        });
      }
      const ratio = this.results.map((r, i) => weights[i]! / (r.frames * shift));
      const useAll = !ratio.some((x) => x >= 0.3);
      const out = new Float64Array(this.e.dim);
      this.results.forEach((r, i) => {
        if (!useAll && ratio[i]! < 0.3) return;
        for (let k = 0; k < out.length; k++) out[k]! += weights[i]! * r.embedding[k]!;
      });
      if (!l2normalise(out)) throw new VaultError("NO_SPEECH", "Degenerate speaker embedding.");
      const e = Float32Array.from(out);
      out.fill(0);
      return e;
    } finally {
      for (const r of this.results) r.embedding.fill(0);
      this.results.length = 0;
    }
  }

  abort(): void {
    this.done = true;
    this.aborted = true;
    this.ring.fill(0);
    for (const r of this.results) r.embedding.fill(0);
    this.results.length = 0;
  }
}

interface LoadedModel {
  readonly ort: OrtModule;
  readonly session: OrtSession;
  readonly input: string;
  readonly output: string;
  readonly dim: number;
  readonly bins: number;
  readonly windowFrames: number;
  readonly hopFrames: number;
  readonly minFrames: number;
}

/** Loads and checks the model; the embedder's close() releases the onnxruntime session. */
export async function createOnnxEmbedder(options: OnnxEmbedderOptions): Promise<Embedder> {
  const bins = options.numMelBins ?? 80;
  const windowSec = options.windowSec ?? 10;
  const hopSec = options.hopSec ?? windowSec / 2;
  if (!(windowSec >= 1 && windowSec <= 60) || !(hopSec > 0 && hopSec <= windowSec)) {
    throw new VaultError(
      "INVALID_ARGUMENT",
      "onnx embedder: need 1 <= windowSec <= 60 and 0 < hopSec <= windowSec",
    );
  }
  if (!Number.isInteger(bins) || bins < 23 || bins > 128) {
    throw new VaultError("INVALID_ARGUMENT", "onnx embedder: numMelBins must be an integer in [23, 128]");
  }
  const name = options.name ?? "onnx";
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name))
    throw new VaultError("INVALID_ARGUMENT", "onnx embedder: bad name");
  let bytes: Uint8Array;
  try {
    bytes = await readFile(options.modelPath);
  } catch (e) {
    throw invalid(`Cannot read the ONNX model ${options.modelPath}.`, e);
  }
  const ort = await loadRuntime(options.runtimeModule ?? "onnxruntime-node");
  let session: OrtSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      executionProviders: ["cpu"],
      intraOpNumThreads: options.threads ?? 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
    });
  } catch (e) {
    throw invalid(
      `onnxruntime cannot load ${options.modelPath}: ${(e as Error).message.split("\n")[0] ?? ""}`,
      e,
    );
  }
  try {
    const sig = checkSignature(session, bins);
    // Probe: 2 s of a fixed pattern, to check that the model runs and to learn D.
    const probeFrames = 200;
    const probe = Float32Array.from({ length: probeFrames * bins }, (_, i) => Math.sin(i * 0.37) * 2);
    let v: Float32Array;
    try {
      v = await infer(ort, session, sig, probe, probeFrames, bins);
    } catch (e) {
      if (e instanceof VaultError) throw e;
      throw invalid(
        `The ONNX model fails on a [1, ${probeFrames}, ${bins}] input: ${(e as Error).message.split("\n")[0] ?? ""}`,
        e,
      );
    }
    if (sig.dim !== null && v.length !== sig.dim)
      throw invalid(`ONNX model output has ${v.length} values, declares ${sig.dim}.`);
    const dim = v.length;
    if (dim < 2 || dim > 4096) throw invalid(`ONNX model output dimension ${dim} is outside [2, 4096].`);
    const id = `${name}+sha256:${createHash("sha256").update(bytes).digest("hex").slice(0, 16)}`;
    const loaded: LoadedModel = {
      ort,
      session,
      input: sig.input,
      output: sig.output,
      dim,
      bins,
      windowFrames: Math.round(windowSec * 100),
      hopFrames: Math.round(hopSec * 100),
      minFrames: 50,
    };
    const features: EmbedderFeatureOptions =
      options.frontEnd === "3d-speaker"
        ? { fbank: { numMelBins: bins, windowType: "povey", sampleScale: 1 }, mfcc: false }
        : { fbank: { numMelBins: bins, windowType: "hamming", sampleScale: 32768 }, mfcc: false };
    return {
      id,
      dim,
      profile: { embedderId: id, inputDim: dim, ...options.normalisation },
      features,
      calibration: options.calibration ?? null,
      createSession: () => new OnnxSession(loaded),
      close: () => session.release(),
    };
  } catch (e) {
    await session.release();
    throw e;
  }
}
