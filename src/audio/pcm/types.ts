/**
 * The decoded-audio contract shared by every decoder and by the resampler. Browser-safe: plain
 * TypedArrays only.
 */

/** Containers recognised by their magic bytes (never by file name). */
export type Container = "wav" | "flac" | "mp3" | "ogg" | "webm" | "mp4" | "3gp" | "adts" | "amr" | "ffmpeg";

/** Codecs delivered by the supported containers. */
export type Codec =
  | "pcm_u8"
  | "pcm_s16"
  | "pcm_s24"
  | "pcm_s32"
  | "pcm_f32"
  | "pcm_f64"
  | "pcm_mulaw"
  | "pcm_alaw"
  | "flac"
  | "mp3"
  | "vorbis"
  | "opus"
  | "aac"
  | "amr_nb"
  | "amr_wb";

/** What the header says, known before the first sample is decoded. */
export interface AudioInfo {
  readonly container: Container;
  readonly codec: Codec;
  /** Rate of the samples the decoder yields (Opus: always 48000). */
  readonly sampleRate: number;
  /** Channels the decoder yields (after any decoder quirk is undone, e.g. MP3 mono). */
  readonly channels: number;
  readonly bitsPerSample?: number;
  /** Duration the header declares, if it declares one; a hint, except for WAV where it is exact. */
  readonly declaredDurationSec?: number;
}

/**
 * One chunk of planar audio: one Float32Array per channel, all of the same length, nominal range
 * [-1, 1]. Consumers may keep or transfer the arrays: decoders never reuse them.
 */
export type PlanarChunk = Float32Array[];

/** A streaming decode: the header facts plus the samples, pulled chunk by chunk. */
export interface DecodedAudio {
  readonly info: AudioInfo;
  readonly chunks: AsyncIterable<PlanarChunk>;
}

/** Resource and sanity limits applied while decoding. See DEFAULT_DECODE_LIMITS. */
export interface DecodeLimits {
  /** Input larger than this is refused with TOO_LARGE (checked while streaming). */
  readonly maxInputBytes: number;
  /** Audio longer than this is refused with TOO_LONG (declared duration first, then counted). */
  readonly maxDurationSec: number;
  /** Audio shorter than this is refused with TOO_SHORT before any sample is yielded. */
  readonly minDurationSec: number;
  readonly minSampleRate: number;
  readonly maxSampleRate: number;
  readonly maxChannels: number;
  /** Decode-time budget: floor + per MiB of input + per second of decoded audio. */
  readonly decodeFloorMs: number;
  readonly decodeMsPerMiB: number;
  readonly decodeMsPerAudioSec: number;
}
