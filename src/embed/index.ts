/**
 * Speaker embedders (docs/embedders.md). This entry is browser-safe: the types, the built-in DSP
 * embedder (from model bytes) and the one-call helper. Node-only loaders: ./node.js.
 */
export type { Embedder, EmbedderFeatureOptions, EmbeddingSession, TemplateCalibration } from "./types.js";
export { wipeEmbedding } from "./types.js";
export { createDspEmbedder, projectStats, type DspEmbedderOptions } from "./dsp/embedder.js";
export {
  DSP_CALIBRATION_FORMAT,
  DSP_MODEL_FORMAT,
  dspModelId,
  parseCalibration,
  parseDspModel,
  type CalibrationFile,
  type DspModel,
  type DspModelFile,
} from "./dsp/model.js";
export { statsDim, UtteranceStats, type UtteranceStatsOptions } from "./dsp/stats.js";
export { chunked, embedPcm, type EmbedResult } from "./run.js";
