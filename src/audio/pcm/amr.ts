import { VaultError } from "../../errors.js";

/**
 * AMR storage format (RFC 4867 §5): a magic line, then frames of one header byte
 * (P, FT(4), Q, P, P) followed by the speech bits of frame type FT. The same frames, without the
 * magic, are the samples of 3GP `samr`/`sawb` tracks (3GPP TS 26.244 §6.5).
 */

export type AmrKind = "amr_nb" | "amr_wb";

export const AMR_MAGIC: Readonly<Record<AmrKind, Uint8Array>> = {
  amr_nb: new TextEncoder().encode("#!AMR\n"),
  amr_wb: new TextEncoder().encode("#!AMR-WB\n"),
};

/**
 * Bytes per frame, header included, by frame type; 0 marks a type that is reserved (RFC 4867
 * §5.3; 3GPP TS 26.101 table 1a and TS 26.201 table 1a). NB: 0–7 speech, 8 SID, 15 NO_DATA.
 * WB: 0–8 speech, 9 SID, 14 SPEECH_LOST, 15 NO_DATA.
 */
const FRAME_BYTES: Readonly<Record<AmrKind, readonly number[]>> = {
  amr_nb: [13, 14, 16, 18, 20, 21, 27, 32, 6, 0, 0, 0, 0, 0, 0, 1],
  amr_wb: [18, 24, 33, 37, 41, 47, 51, 59, 61, 6, 0, 0, 0, 0, 1, 1],
};

export const AMR_RATE: Readonly<Record<AmrKind, number>> = { amr_nb: 8000, amr_wb: 16000 };
/** Samples per 20 ms frame. */
export const AMR_FRAME_SAMPLES: Readonly<Record<AmrKind, number>> = { amr_nb: 160, amr_wb: 320 };

/** Which AMR magic b starts with; "truncated" if b is a proper prefix of one. */
export function amrMagic(b: Uint8Array): AmrKind | "multichannel" | "truncated" | null {
  for (const kind of ["amr_wb", "amr_nb"] as const) {
    const m = AMR_MAGIC[kind];
    if (b.length >= m.length && m.every((x, i) => b[i] === x)) return kind;
  }
  const s = String.fromCharCode(...b.subarray(0, 12));
  if (s.startsWith("#!AMR_MC1.0\n") || s.startsWith("#!AMR-WB_MC1.0\n")) return "multichannel";
  if ("#!AMR-WB\n".startsWith(s) || "#!AMR\n".startsWith(s)) return "truncated";
  return null;
}

/**
 * Length of the storage-format frame whose header byte is given, checking its frame type; throws
 * CORRUPT_AUDIO on a reserved type. The padding bits are ignored, as RFC 4867 §5.3 tells receivers.
 */
export function amrFrameBytes(kind: AmrKind, header: number): number {
  const n = FRAME_BYTES[kind][(header >> 3) & 15]!;
  if (n === 0) throw new VaultError("CORRUPT_AUDIO", "AMR frame has a reserved frame type");
  return n;
}

/** Frames in a whole buffer of storage-format frames; throws if the last one is cut short. */
export function countAmrFrames(kind: AmrKind, b: Uint8Array): number {
  let off = 0;
  let n = 0;
  while (off < b.length) {
    off += amrFrameBytes(kind, b[off]!);
    n++;
  }
  if (off !== b.length) throw new VaultError("CORRUPT_AUDIO", "AMR sample ends inside a frame");
  return n;
}
