/**
 * Feature extraction DSP for the ingest pipeline (docs/features.md). Browser-safe, synchronous,
 * incremental: every extractor takes chunks with push() and gives identical results however the
 * stream is chunked. Start with FeaturePipeline (16 kHz mono) and LoudnessMeter (original signal).
 */
export { RealFft } from "./fft.js";
export { Framer } from "./framer.js";
export { makeWindow, type WindowType } from "./window.js";
export { makeMelBanks, melScale, inverseMelScale, type MelBanks } from "./mel.js";
export {
  computeFbank,
  FbankComputer,
  FbankExtractor,
  FBANK_DEFAULTS,
  FLOAT32_EPSILON,
  fbankGeometry,
  numFramesFor,
  resolveFbankOptions,
  type FbankBatch,
  type FbankOptions,
  type ResolvedFbankOptions,
} from "./fbank.js";
export { MfccTransform, type MfccOptions } from "./mfcc.js";
export { applyCmn, MeanAccumulator, subtractMean } from "./cmn.js";
export { kWeightingHighPass, kWeightingShelf, type BiquadCoefficients } from "./kweighting.js";
export { TruePeakChannel } from "./truepeak.js";
export {
  defaultChannelWeights,
  LoudnessMeter,
  measureLoudness,
  type LoudnessOptions,
  type LoudnessResult,
} from "./loudness.js";
export { SnrEstimator, wadaSnrFromG, SNR_MAX_DB, SNR_MIN_DB } from "./snr.js";
export { measureQuality, QualityAnalyzer, type QualityMetrics, type QualityOptions } from "./quality.js";
export {
  assertEnoughSpeech,
  createVadProcessor,
  detectSpeech,
  hasEnoughSpeech,
  MIN_SPEECH_SEC,
  VadFrameProcessor,
  VoiceActivityDetector,
  type SpeechRequirement,
  type SpeechSegment,
  type VadOptions,
  type VadResult,
} from "./vad.js";
export { YinPitch, type YinFrame, type YinOptions } from "./yin.js";
export { DEFAULT_PITCH_HOP_SEC, PitchTracker } from "./pitch-tracker.js";
export {
  analyzeVoice,
  VOICE_STATS_HOP_SEC,
  VoiceStatsAccumulator,
  VoiceStatsAnalyzer,
  type F0Percentiles,
  type VoiceStats,
  type VoiceStatsOptions,
} from "./voicestats.js";
export {
  checkSamples,
  FeaturePipeline,
  PIPELINE_SAMPLE_RATE,
  type FeatureFrames,
  type FeaturePipelineOptions,
  type PcmStats,
  type FeatureReport,
} from "./pipeline.js";
