/** Browser-safe audio building blocks: no node:* imports, no Buffer, no fs. */
export type { AudioInfo, Codec, Container, DecodeLimits, DecodedAudio, PlanarChunk } from "./types.js";
export { DEFAULT_DECODE_LIMITS, checkInfo, resolveLimits } from "./limits.js";
export { ByteReader } from "./byte-reader.js";
export { SNIFF_BYTES, detectContainer, type Sniffed } from "./sniff.js";
export { readWavHeader, wavChunks, deinterleave, type WavHeader } from "./wav.js";
export { decodeWav } from "./decode-wav.js";
export { guardDuration } from "./guard.js";
export { Resampler, resampleBuffer, resampleStream, downmix } from "./resample.js";
export type { ResamplerOptions, ResamplerDesign } from "./resample.js";
