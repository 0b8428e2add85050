/**
 * Trains the built-in embedder's projection and writes models/<name>.json.
 *
 *   node scripts/embedder/run.mjs train [--out models/voxvault-dsp-v2.json] [--dim 80] [--ridge 0.01]
 *
 * 1. Builds (or reuses) the training corpus (scripts/embedder/corpus.ts) under
 *    bench/out/embedder/train-corpus: 16 flite/festival people and 29 MBROLA people × 20
 *    utterances, pseudo-speakers of them × 8, with texts, channel draws and noise samples disjoint
 *    from the evaluation corpora; the held-out MBROLA voices are never used.
 * 2. Runs every utterance through the FeaturePipeline with the embedder's feature settings and the
 *    same streaming statistics the embedder uses at run time (src/embed/dsp/stats.ts).
 * 3. Fits standardisation → LDA → length norm → WCCN → length norm → centring (see
 *    src/embed/dsp/embedder.ts for the references), one class per (pseudo-)speaker.
 * 4. Optionally (--cv) reports a speaker-disjoint 2-fold cross-validation EER on the training
 *    corpus itself: the hyper-parameters were chosen with it, not with the evaluation corpus.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FeaturePipeline } from "../../src/audio/features/index.js";
import { VaultError } from "../../src/errors.js";
import { projectStats } from "../../src/embed/dsp/embedder.js";
import {
  DSP_MODEL_FORMAT,
  encodeArray,
  parseDspModel,
  type DspModelFile,
} from "../../src/embed/dsp/model.js";
import { UtteranceStats } from "../../src/embed/dsp/stats.js";
import { equalErrorRate } from "../../src/eval/index.js";
import type { CorpusManifest } from "../../bench/privacy/corpus.js";
import { readWav } from "../../bench/privacy/wav.js";
import { baseVoice, FOLDS, TRAIN_SEED } from "./corpus.js";
import { cholesky, invertLower, matmul, regularise, scatter, symmetricEigen, transpose } from "./linalg.js";

export interface TrainSettings {
  readonly name: string;
  readonly numCeps: number;
  readonly cepstralLifter: number;
  readonly keepFraction: number;
  readonly minFrames: number;
  readonly dim: number;
  /** LDA within-class scatter shrinkage (× mean eigenvalue). */
  readonly ridge: number;
  /** WCCN covariance shrinkage. */
  readonly wccnRidge: number;
}

export const DEFAULT_SETTINGS: TrainSettings = {
  name: "voxvault-dsp-v2",
  numCeps: 20,
  cepstralLifter: 22,
  keepFraction: 0.8,
  minFrames: 50,
  // Chosen by the speaker-disjoint cross-validation on the training corpus (--cv), never on the
  // held-out voices: docs/privacy-eval.md §4.
  dim: 80,
  ridge: 0.01,
  wccnRidge: 1e-3,
};

export const FBANK = { numMelBins: 80, windowType: "hamming", sampleScale: 32768 } as const;

/** The statistics vector of one utterance, computed exactly as a DSP embedder session does. */
export function utteranceStats(pcm: Float32Array, s: TrainSettings): Float64Array {
  const stats = new UtteranceStats({
    numCeps: s.numCeps,
    keepFraction: s.keepFraction,
    minFrames: s.minFrames,
  });
  const p = new FeaturePipeline({
    fbank: FBANK,
    mfcc: { numCeps: s.numCeps, cepstralLifter: s.cepstralLifter },
    onFrames: (f) => {
      stats.accept(f);
    },
  });
  for (let i = 0; i < pcm.length; i += 16000) p.push(pcm.subarray(i, Math.min(pcm.length, i + 16000)));
  return stats.finish(p.finish().vad.speechSec);
}

export interface LabelledStats {
  readonly id: string;
  readonly speaker: string;
  readonly stats: Float64Array;
}

/**
 * Statistics of every utterance of a corpus part. An utterance the embedder itself would refuse
 * (NO_SPEECH: a synthesis failure, e.g. a diphone voice that rendered a click and silence) is left
 * out and reported through `onRefused`, as an ingest would refuse it.
 */
export function corpusStats(
  dir: string,
  manifest: CorpusManifest,
  s: TrainSettings,
  onRefused: (id: string) => void = (id) => {
    console.warn(`training: ${id} refused (NO_SPEECH), left out`);
  },
): LabelledStats[] {
  const out: LabelledStats[] = [];
  for (const u of manifest.utterances) {
    try {
      out.push({
        id: u.id,
        speaker: u.speaker,
        stats: utteranceStats(readWav(join(dir, u.file)).samples, s),
      });
    } catch (e) {
      if (!(e instanceof VaultError) || e.code !== "NO_SPEECH") throw e;
      onRefused(u.id);
    }
  }
  return out;
}

function lnorm(v: Float64Array): Float64Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n) || 1;
  return v.map((x) => x / n);
}

function apply(m: Float64Array, rows: number, cols: number, v: Float64Array): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let a = 0;
    for (let c = 0; c < cols; c++) a += m[r * cols + c]! * v[c]!;
    out[r] = a;
  }
  return out;
}

/** Fits the projection and returns the model file (not yet serialised). */
export function trainModel(
  data: readonly LabelledStats[],
  s: TrainSettings,
  training: Record<string, unknown>,
): DspModelFile {
  const n = data[0]!.stats.length;
  const labels = data.map((d) => d.speaker);
  const mean = new Float64Array(n);
  const scale = new Float64Array(n);
  for (const d of data) for (let i = 0; i < n; i++) mean[i]! += d.stats[i]! / data.length;
  for (const d of data) for (let i = 0; i < n; i++) scale[i]! += (d.stats[i]! - mean[i]!) ** 2 / data.length;
  for (let i = 0; i < n; i++) scale[i] = Math.sqrt(scale[i]!) + 1e-9;
  const x = data.map((d) => Float64Array.from(d.stats, (v, i) => (v - mean[i]!) / scale[i]!));

  // LDA: whiten the (shrunk) within-class scatter, then the leading directions of the between-class
  // scatter in the whitened space.
  const { within, between } = scatter(x, labels, n);
  const ew = symmetricEigen(regularise(within, n, s.ridge), n);
  const whiten = new Float64Array(n * n); // rows: eigenvectors / sqrt(eigenvalue)
  for (let r = 0; r < n; r++) {
    const f = 1 / Math.sqrt(ew.values[r]!);
    for (let k = 0; k < n; k++) whiten[r * n + k] = ew.vectors[r * n + k]! * f;
  }
  const bw = matmul(matmul(whiten, between, n, n, n), transpose(whiten, n, n), n, n, n);
  const eb = symmetricEigen(bw, n);
  const classes = new Set(labels).size;
  const dim = Math.min(s.dim, classes - 1);
  const lda = matmul(eb.vectors.subarray(0, dim * n), whiten, dim, n, n);

  // WCCN on the length-normalised LDA outputs.
  const z = x.map((v) => lnorm(apply(lda, dim, n, v)));
  const byClass = new Map<string, Float64Array[]>();
  z.forEach((v, k) => byClass.set(labels[k]!, [...(byClass.get(labels[k]!) ?? []), v]));
  const w = new Float64Array(dim * dim);
  for (const g of byClass.values()) {
    const mc = new Float64Array(dim);
    for (const v of g) for (let i = 0; i < dim; i++) mc[i]! += v[i]! / g.length;
    for (const v of g)
      for (let i = 0; i < dim; i++)
        for (let j = 0; j < dim; j++)
          w[i * dim + j]! += ((v[i]! - mc[i]!) * (v[j]! - mc[j]!)) / g.length / byClass.size;
  }
  const wccn = invertLower(cholesky(regularise(w, dim, s.wccnRidge), dim), dim);
  const y = z.map((v) => lnorm(apply(wccn, dim, dim, v)));
  const outMean = new Float64Array(dim);
  for (const v of y) for (let i = 0; i < dim; i++) outMean[i]! += v[i]! / y.length;

  return {
    format: DSP_MODEL_FORMAT,
    name: s.name,
    features: {
      numMelBins: FBANK.numMelBins,
      windowType: FBANK.windowType,
      sampleScale: FBANK.sampleScale,
      numCeps: s.numCeps,
      cepstralLifter: s.cepstralLifter,
      keepFraction: s.keepFraction,
      minFrames: s.minFrames,
    },
    projection: {
      inputMean: encodeArray(mean, [n]),
      inputScale: encodeArray(scale, [n]),
      lda: encodeArray(lda, [dim, n]),
      wccn: encodeArray(wccn, [dim, dim]),
      outputMean: encodeArray(outMean, [dim]),
    },
    training: {
      ...training,
      classes,
      utterances: data.length,
      dim,
      ridge: s.ridge,
      wccnRidge: s.wccnRidge,
    },
  };
}

export function serialiseModel(file: DspModelFile): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(file, null, 1) + "\n");
}

/**
 * Speaker-disjoint 2-fold cross-validation on the training corpus: train on the (pseudo-)speakers
 * of one fold's base voices, score all pairs of the other fold's utterances by cosine.
 */
export function crossValidate(
  data: readonly LabelledStats[],
  s: TrainSettings,
): { eer: number; folds: number[] } {
  const mated: number[] = [];
  const nonMated: number[] = [];
  const folds: number[] = [];
  for (const fold of FOLDS) {
    const train = data.filter((d) => fold.includes(baseVoice(d.speaker)));
    const test = data.filter((d) => !fold.includes(baseVoice(d.speaker)));
    const model = parseDspModel(serialiseModel(trainModel(train, s, {})));
    const e = test.map((d) => projectStats(model, d.stats));
    const m: number[] = [];
    const nm: number[] = [];
    for (let i = 0; i < e.length; i++) {
      for (let j = i + 1; j < e.length; j++) {
        let c = 0;
        for (let t = 0; t < model.dim; t++) c += e[i]![t]! * e[j]![t]!;
        (test[i]!.speaker === test[j]!.speaker ? m : nm).push(c);
      }
    }
    folds.push(equalErrorRate(m, nm).eer);
    for (const v of m) mated.push(v);
    for (const v of nm) nonMated.push(v);
  }
  return { eer: equalErrorRate(mated, nonMated).eer, folds };
}

export function trainingProvenance(manifests: readonly CorpusManifest[]): Record<string, unknown> {
  return {
    corpus: "scripts/embedder/corpus.ts",
    seed: TRAIN_SEED,
    configDigests: manifests.map((m) => m.configDigest),
    speakers: manifests.flatMap((m) => m.speakers.map((sp) => sp.id)),
    utterancesPerSpeaker: manifests.map((m) => m.utterancesPerSpeaker),
    tools: manifests[0]?.tools ?? {},
  };
}

/** Reads a JSON manifest (helper for the CLI entry). */
export function readManifest(dir: string): CorpusManifest {
  return JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as CorpusManifest;
}
