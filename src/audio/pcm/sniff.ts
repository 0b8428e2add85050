import { isAdtsSync } from "./aac.js";
import { amrMagic } from "./amr.js";
import { ascii, isMpegSync } from "./mpeg-header.js";

/** How many leading bytes detectContainer wants to see (fewer is fine at end of stream). */
export const SNIFF_BYTES = 4096;

export type Sniffed =
  | { readonly kind: "wav" | "flac" | "ogg" | "webm" | "mp3" | "mp4" | "adts" }
  | { readonly kind: "amr"; readonly amr: "amr_nb" | "amr_wb" }
  /** An ID3v2 tag of this many bytes precedes the real container. */
  | { readonly kind: "id3"; readonly tagBytes: number }
  /** A recognised container or codec that is not supported natively. */
  | { readonly kind: "unsupported"; readonly format: string }
  /** The bytes start like a known container but end before its magic is complete. */
  | { readonly kind: "truncated"; readonly format: string }
  | { readonly kind: "unknown" };

const PREFIXES: readonly (readonly [string, string])[] = [
  ["RIFF", "wav"],
  ["RF64", "wav"],
  ["fLaC", "flac"],
  ["OggS", "ogg"],
  ["\x1a\x45\xdf\xa3", "webm"],
  ["ID3", "id3"],
  ["#!AMR", "amr"],
  ["FORM", "aiff"],
];

/**
 * Detects the container from its magic bytes only. `atEnd` says the stream holds no more bytes
 * than `head`, which lets a lone MP3 frame count as MP3.
 */
export function detectContainer(head: Uint8Array, atEnd: boolean): Sniffed {
  const s4 = ascii(head, 0, 4);
  if ((s4 === "RIFF" || s4 === "RF64") && head.length >= 12) {
    const form = ascii(head, 8, 4);
    if (form === "WAVE") return { kind: "wav" };
    return { kind: "unsupported", format: form === "AVI " ? "avi" : "riff" };
  }
  if (s4 === "RIFX") return { kind: "unsupported", format: "rifx" };
  if (s4 === "fLaC") return { kind: "flac" };
  if (s4 === "OggS") return { kind: "ogg" };
  if (s4 === "\x1a\x45\xdf\xa3") return { kind: "webm" };
  if (ascii(head, 0, 3) === "ID3" && head.length >= 10) {
    let size = 0;
    for (let i = 6; i < 10; i++) {
      const b = head[i]!;
      if (b & 0x80) return { kind: "unknown" };
      size = size * 128 + b;
    }
    const footer = (head[5]! & 0x10) !== 0 ? 10 : 0;
    return { kind: "id3", tagBytes: 10 + size + footer };
  }
  if (ascii(head, 0, 5) === "#!AMR") {
    const m = amrMagic(head);
    if (m === "amr_nb" || m === "amr_wb") return { kind: "amr", amr: m };
    if (m === "multichannel") return { kind: "unsupported", format: "multichannel amr" };
    if (m === "truncated") return { kind: "truncated", format: "amr" };
    return { kind: "unknown" };
  }
  if (s4 === "FORM") return { kind: "unsupported", format: "aiff" };
  // ISO BMFF (MP4, M4A, MOV, 3GP): 'ftyp' first, or a bare QuickTime movie starting with
  // 'moov' or 'wide' (ISO/IEC 14496-12 §4.3; QuickTime File Format).
  const box = ascii(head, 4, 4);
  if (box === "ftyp" || box === "moov" || box === "wide") return { kind: "mp4" };
  if (s4 === "caff") return { kind: "unsupported", format: "caf" };
  if (s4 === "wvpk") return { kind: "unsupported", format: "wavpack" };
  if (s4 === "MAC ") return { kind: "unsupported", format: "ape" };
  if (s4 === ".snd") return { kind: "unsupported", format: "au" };
  if (isAdtsSync(head)) return { kind: "adts" };
  if (isMpegSync(head, 0, atEnd)) return { kind: "mp3" };
  for (const [magic, format] of PREFIXES) {
    const n = Math.min(head.length, magic.length);
    if (
      n > 0 &&
      head.length < magic.length + (magic.length === 4 ? 8 : 7) &&
      ascii(head, 0, n) === magic.slice(0, n)
    ) {
      return { kind: "truncated", format };
    }
  }
  return { kind: "unknown" };
}
