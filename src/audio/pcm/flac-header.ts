import { VaultError } from "../../errors.js";
import { ascii } from "./mpeg-header.js";

export interface FlacStreamInfo {
  readonly sampleRate: number;
  readonly channels: number;
  readonly bitsPerSample: number;
  /** 0 when the encoder did not know it (streamed encode). */
  readonly totalSamples: number;
  readonly maxBlockSize: number;
}

/** Bytes needed to parse STREAMINFO: "fLaC" + block header + 34-byte body. */
export const FLAC_HEAD_BYTES = 42;

/** Parses the mandatory first metadata block, STREAMINFO. */
export function parseFlacStreamInfo(b: Uint8Array): FlacStreamInfo {
  if (b.length < FLAC_HEAD_BYTES) throw new VaultError("CORRUPT_AUDIO", "FLAC header truncated");
  if (ascii(b, 0, 4) !== "fLaC") throw new VaultError("UNSUPPORTED_FORMAT", "not a FLAC stream");
  const type = b[4]! & 0x7f;
  const len = (b[5]! << 16) | (b[6]! << 8) | b[7]!;
  if (type !== 0 || len !== 34) throw new VaultError("CORRUPT_AUDIO", "FLAC STREAMINFO missing");
  const s = b.subarray(8);
  const minBlock = (s[0]! << 8) | s[1]!;
  const maxBlockSize = (s[2]! << 8) | s[3]!;
  const sampleRate = (s[10]! << 12) | (s[11]! << 4) | (s[12]! >> 4);
  const channels = ((s[12]! >> 1) & 7) + 1;
  const bitsPerSample = (((s[12]! & 1) << 4) | (s[13]! >> 4)) + 1;
  const low = ((s[14]! << 24) | (s[15]! << 16) | (s[16]! << 8) | s[17]!) >>> 0;
  const totalSamples = (s[13]! & 0x0f) * 2 ** 32 + low;
  if (minBlock < 16 || maxBlockSize < minBlock || sampleRate === 0 || bitsPerSample < 4) {
    throw new VaultError("CORRUPT_AUDIO", "FLAC STREAMINFO inconsistent");
  }
  return { sampleRate, channels, bitsPerSample, totalSamples, maxBlockSize };
}
