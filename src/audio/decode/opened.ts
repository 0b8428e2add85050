import type { AudioInfo, PlanarChunk } from "../pcm/types.js";

/** A container opened for decoding: header facts plus the lazy stream of planar chunks. */
export interface Opened {
  info: AudioInfo;
  chunks: AsyncIterable<PlanarChunk>;
  /** Truncation check against what the header declared, run when the stream ends. */
  onEnd?: (frames: number) => void;
  /** Where the audio data ends, in input bytes, when the header says so exactly (WAV). */
  declaredEnd?: number;
  /** Releases resources held before iteration starts (the ffmpeg child, a started worker). */
  abort?: () => void;
}
