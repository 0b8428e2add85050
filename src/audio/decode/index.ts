/**
 * Audio input: decoding and resampling (Node entry). Browser-safe pieces live in ../pcm/.
 * See docs/audio-input.md.
 */
export { decodeAudio, type DecodeOptions } from "./decode.js";
export { decodeToMono16k, TARGET_SAMPLE_RATE, type Mono16kAudio, type Mono16kOptions } from "./mono16k.js";
export { defaultWorkerUrl } from "./worker-host.js";
export { DEFAULT_DECODE_LIMITS, resolveLimits } from "../pcm/limits.js";
export { Resampler, resampleBuffer, resampleStream, downmix } from "../pcm/resample.js";
export type { ResamplerOptions, ResamplerDesign } from "../pcm/resample.js";
export type { AudioInfo, Codec, Container, DecodeLimits, DecodedAudio, PlanarChunk } from "../pcm/types.js";
