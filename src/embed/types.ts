/**
 * Speaker embedders: the abstraction step that turns the feature stream of one recording into a
 * fixed-size speaker embedding, which the caller protects at once (src/template) and wipes.
 * Browser-safe types (docs/embedders.md).
 *
 * Data flow in the ingest:
 *
 *   PCM 16 kHz → FeaturePipeline({ ...embedder.features, onFrames: session.push })
 *              → pipeline.finish() → report → await session.finish(report) → embedding
 *              → protector.protectToBytes(embedding) → wipeEmbedding(embedding)
 *
 * The unprotected embedding is biometric data (it links recordings of one person and can
 * condition voice synthesis): it exists only in memory, is never logged, stored or returned by any
 * public API other than the session's finish(); every error message here is free of it.
 */

import type { FeatureFrames, FeaturePipelineOptions, FeatureReport } from "../audio/features/index.js";
import type { EmbeddingProfile } from "../template/index.js";

/** The FeaturePipeline options an embedder needs; the ingest passes them to its pipeline as is. */
export interface EmbedderFeatureOptions {
  readonly fbank: NonNullable<FeaturePipelineOptions["fbank"]>;
  readonly mfcc: NonNullable<FeaturePipelineOptions["mfcc"]>;
}

/**
 * The embedder's default decision threshold in the PROTECTED-template score domain (the IoM match
 * rate of src/template, in [0, 1]; accept when score >= threshold), with the template parameters it
 * holds for and the error rates measured at it.
 */
export interface TemplateCalibration {
  readonly threshold: number;
  /** IoM parameters the threshold was measured with (the score distribution depends on them). */
  readonly hashes: number;
  readonly q: number;
  /** False match and false non-match rates at the threshold on the calibration set. */
  readonly fmr: number;
  readonly fnmr: number;
  /** What the threshold was measured on, e.g. the corpus seed and size. */
  readonly source: string;
}

export interface Embedder {
  /** Names the embedder AND its model bytes (e.g. "voxvault-dsp/1+sha256:…"); bound into templates. */
  readonly id: string;
  /** Output dimension. */
  readonly dim: number;
  /**
   * Public normalisation from the embedder's own training, to pass to createTemplateProtector.
   * `profile.embedderId === id`, so a template made with another model version is refused
   * (TEMPLATE_MISMATCH, reason "profile").
   */
  readonly profile: EmbeddingProfile;
  /** FeaturePipeline options the sessions expect (fbank settings, MFCC on/off). */
  readonly features: EmbedderFeatureOptions;
  /**
   * Calibrated default threshold for the default template parameters, or null when none is known
   * (a user-supplied ONNX model without a calibration entry: the caller must configure one).
   */
  readonly calibration: TemplateCalibration | null;
  /**
   * Short-window embeddings for diarisation (src/diarise), when the embedder can make them from
   * summed frame statistics (the built-in one); absent for ONNX models.
   */
  readonly windows?: {
    readonly numCeps: number;
    /** A unit embedding from a statistics vector (UtteranceStats layout); NO_SPEECH if degenerate. */
    project(stats: Float64Array): Float32Array;
  };
  /** Starts one recording. Sessions are independent; an embedder may serve many at once. */
  createSession(): EmbeddingSession;
  /** Releases model resources (ONNX sessions); the built-in embedder has none. */
  close(): Promise<void>;
}

/**
 * One recording. Memory is bounded in the recording's length: sessions keep statistics or a
 * bounded window of frames, never the frame stream.
 */
export interface EmbeddingSession {
  /**
   * Consumes one batch of frames, exactly as FeaturePipeline's onFrames hands them out (the batch
   * is not retained; it may be reused by the caller afterwards).
   */
  push(frames: FeatureFrames): void;
  /**
   * Resolves when queued asynchronous work (ONNX inference of completed windows) has caught up.
   * Await it between pushes to bound memory; resolves at once for synchronous embedders.
   */
  drain(): Promise<void>;
  /**
   * Ends the recording and returns the embedding (a fresh array owned by the caller: protect it,
   * then wipe it with {@link wipeEmbedding}). Uses speech frames only (see each embedder);
   * NO_SPEECH when too little speech was seen. A session finishes once.
   */
  finish(report: FeatureReport): Promise<Float32Array>;
  /** Abandons the session and wipes its statistics; finish() then fails. Idempotent. */
  abort(): void;
}

/** Overwrites an embedding (or any statistics buffer) with zeros. */
export function wipeEmbedding(embedding: Float32Array | Float64Array): void {
  embedding.fill(0);
}
