/**
 * Browser entry of the abstraction step: PCM → features → built-in embedder → protected template,
 * with nothing Node-only (test/browser bundles it with esbuild for the browser platform, which
 * fails on any node:* import, and runs it in headless Chromium). The web console will call the
 * same function on microphone PCM.
 */

// Through the public browser-safe entries, so that the bundle test covers all of them.
import { chunked, createDspEmbedder, embedPcm, wipeEmbedding } from "./index.js";
import { createTemplateProtector } from "../template/index.js";

export interface AbstractionResult {
  readonly embedderId: string;
  /** Encoded protected template (src/template format v1). */
  readonly template: Uint8Array;
  readonly speechSec: number;
  /** The embedder's calibrated threshold, or null. */
  readonly threshold: number | null;
}

/** 16 kHz mono PCM → protected template under `templateKey`, fed in chunks of `chunkSize`. */
export async function abstractPcm(
  modelBytes: Uint8Array,
  calibrationBytes: Uint8Array | null,
  templateKey: Uint8Array,
  pcm: Float32Array,
  chunkSize = 16000,
): Promise<AbstractionResult> {
  const embedder = createDspEmbedder(
    modelBytes,
    calibrationBytes === null ? {} : { calibration: calibrationBytes },
  );
  const protector = createTemplateProtector(templateKey, { profile: embedder.profile });
  try {
    const { embedding, report } = await embedPcm(embedder, chunked(pcm, chunkSize));
    const template = protector.protectToBytes(embedding);
    wipeEmbedding(embedding);
    return {
      embedderId: embedder.id,
      template,
      speechSec: report.vad.speechSec,
      threshold: embedder.calibration?.threshold ?? null,
    };
  } finally {
    protector.dispose();
  }
}
