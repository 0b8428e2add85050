/**
 * The built-in speaker embedder: no neural network, no download, browser-safe.
 *
 *   speech frames' MFCC statistics (UtteranceStats: mean, standard deviation and correlations of
 *   c1..c19, standard deviations of Δ and ΔΔ; 247 dimensions)
 *   → standardisation → LDA (Fisher 1936; as the channel-compensating projection of i-vector
 *     systems, Dehak et al., "Front-end factor analysis for speaker verification", IEEE TASLP
 *     19(4), 2011) → length normalisation → WCCN (Hatch, Kajarekar & Stolcke, "Within-class
 *     covariance normalization for SVM-based speaker recognition", Interspeech 2006)
 *   → length normalisation, centring, length normalisation (Garcia-Romero & Espy-Wilson,
 *     "Analysis of i-vector length normalization in speaker recognition systems", Interspeech
 *     2011) → a unit vector compared by cosine, which the IoM protection approximates.
 *
 * Covariance-type statistics of cepstra as speaker features go back to Gish & Schmidt ("Text-
 * independent speaker identification", IEEE Signal Processing Magazine 11(4), 1994); the projection
 * is trained by scripts/embedder/train.ts on a generated corpus (docs/embedders.md).
 */

import type { FeatureFrames, FeatureReport } from "../../audio/features/index.js";
import { VaultError } from "../../errors.js";
import type { Embedder, EmbeddingSession, TemplateCalibration } from "../types.js";
import { parseCalibration, parseDspModel, type DspModel } from "./model.js";
import { UtteranceStats } from "./stats.js";

function normalise(v: Float64Array): Float64Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s);
  if (!(n > 0)) throw new VaultError("NO_SPEECH", "Degenerate speech statistics (no variation).");
  for (let i = 0; i < v.length; i++) v[i] = v[i]! / n;
  return v;
}

/** Applies the trained projection to a statistics vector (exported for training and tests). */
export function projectStats(model: DspModel, stats: Float64Array): Float32Array {
  const { statsDim: n, dim } = model;
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = (stats[i]! - model.inputMean[i]!) / model.inputScale[i]!;
  const z = new Float64Array(dim);
  for (let r = 0; r < dim; r++) {
    let acc = 0;
    const row = r * n;
    for (let c = 0; c < n; c++) acc += model.lda[row + c]! * x[c]!;
    z[r] = acc;
  }
  normalise(z);
  const y = new Float64Array(dim);
  for (let r = 0; r < dim; r++) {
    let acc = 0;
    for (let c = 0; c < dim; c++) acc += model.wccn[r * dim + c]! * z[c]!;
    y[r] = acc;
  }
  normalise(y);
  for (let i = 0; i < dim; i++) y[i] = y[i]! - model.outputMean[i]!;
  normalise(y);
  const out = Float32Array.from(y);
  x.fill(0);
  z.fill(0);
  y.fill(0);
  return out;
}

class DspSession implements EmbeddingSession {
  private readonly stats: UtteranceStats;
  private done = false;

  constructor(private readonly model: DspModel) {
    const f = model.file.features;
    this.stats = new UtteranceStats({
      numCeps: f.numCeps,
      keepFraction: f.keepFraction,
      minFrames: f.minFrames,
    });
  }

  push(frames: FeatureFrames): void {
    this.stats.accept(frames);
  }

  drain(): Promise<void> {
    return Promise.resolve();
  }

  finish(report: FeatureReport): Promise<Float32Array> {
    try {
      if (this.done) throw new VaultError("INVALID_ARGUMENT", "dsp embedder: session already finished");
      this.done = true;
      if (report.frames.count !== this.stats.frameCount) {
        throw new VaultError(
          "INVALID_ARGUMENT",
          "dsp embedder: the session did not see every frame of the report",
        );
      }
      const s = this.stats.finish(report.vad.speechSec);
      try {
        return Promise.resolve(projectStats(this.model, s));
      } finally {
        s.fill(0);
      }
    } catch (e) {
      this.stats.wipe();
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  abort(): void {
    this.done = true;
    this.stats.wipe();
  }
}

export interface DspEmbedderOptions {
  /** Contents of the calibration file; ignored (calibration null) when made for another model. */
  readonly calibration?: Uint8Array;
}

/** Creates the built-in embedder from model file bytes (browser-safe; Node: loadBuiltinEmbedder). */
export function createDspEmbedder(modelBytes: Uint8Array, options: DspEmbedderOptions = {}): Embedder {
  const model = parseDspModel(modelBytes);
  const f = model.file.features;
  const calibration: TemplateCalibration | null =
    options.calibration === undefined ? null : parseCalibration(options.calibration, model.id);
  return {
    id: model.id,
    dim: model.dim,
    // The output is already centred and whitened: the profile only names the embedder.
    profile: { embedderId: model.id, inputDim: model.dim },
    features: {
      fbank: { numMelBins: f.numMelBins, windowType: f.windowType, sampleScale: f.sampleScale },
      mfcc: { numCeps: f.numCeps, cepstralLifter: f.cepstralLifter },
    },
    calibration,
    windows: { numCeps: f.numCeps, project: (stats) => projectStats(model, stats) },
    createSession: () => new DspSession(model),
    close: () => Promise.resolve(),
  };
}
