/**
 * Builds the speaker embedder a vault's configuration names: the built-in DSP embedder (model and
 * calibration shipped in models/), or a user-supplied WeSpeaker-style ONNX model (onnxruntime-node
 * is an optional dependency; its absence is a clear MODEL_INVALID).
 */
import { createOnnxEmbedder, loadBuiltinEmbedder } from "./embed/node.js";
import type { EmbedderConfig } from "./ingest/config.js";
import type { EmbedderPort } from "./ingest/embedder-port.js";

export function defaultEmbedderFactory(config: EmbedderConfig): Promise<EmbedderPort | undefined> {
  return config.kind === "onnx" ? createOnnxEmbedder({ modelPath: config.model }) : loadBuiltinEmbedder();
}
