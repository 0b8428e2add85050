/**
 * The whole abstraction step for one recording, for callers that need nothing else from the
 * feature pipeline (benchmarks, tests, a verification probe). The ingest, which also keeps the
 * quality, voice and frame derivations, wires the same calls into its own pipeline.
 */

import { FeaturePipeline, type FeaturePipelineOptions, type FeatureReport } from "../audio/features/index.js";
import type { Embedder } from "./types.js";

export interface EmbedResult {
  /** The unprotected embedding: protect it, then wipe it (wipeEmbedding). */
  readonly embedding: Float32Array;
  readonly report: FeatureReport;
}

/** Runs 16 kHz mono PCM chunks through a FeaturePipeline configured for `embedder`. */
export async function embedPcm(
  embedder: Embedder,
  pcm: Iterable<Float32Array> | AsyncIterable<Float32Array>,
  pipelineOptions: Omit<FeaturePipelineOptions, "fbank" | "mfcc" | "onFrames"> = {},
): Promise<EmbedResult> {
  const session = embedder.createSession();
  try {
    const pipeline = new FeaturePipeline({
      ...pipelineOptions,
      ...embedder.features,
      onFrames: (f) => {
        session.push(f);
      },
    });
    for await (const chunk of pcm) {
      pipeline.push(chunk);
      await session.drain();
    }
    const report = pipeline.finish();
    return { embedding: await session.finish(report), report };
  } catch (e) {
    session.abort();
    throw e;
  }
}

/** Splits a buffer into chunks (default 1 s at 16 kHz) for embedPcm. */
export function* chunked(pcm: Float32Array, size = 16000): Generator<Float32Array> {
  for (let i = 0; i < pcm.length; i += size) yield pcm.subarray(i, Math.min(pcm.length, i + size));
}
