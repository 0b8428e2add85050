import { VaultError } from "../../errors.js";
import type { ByteReader } from "./byte-reader.js";
import { ascii } from "./mpeg-header.js";
import type { AudioInfo, Codec, PlanarChunk } from "./types.js";

/**
 * Strict streaming WAV (RIFF/RF64) parser. Reads the header chunks, then streams the `data`
 * chunk in bounded pieces; nothing is ever allocated from a declared size.
 *
 * Decisions (docs/audio-input.md):
 * - data size 0xFFFFFFFF (or 0 with a RIFF size of 0/0xFFFFFFFF) is the streaming placeholder:
 *   read to end of stream, dropping a partial final frame;
 * - any other data size is exact: a stream that ends before it is CORRUPT_AUDIO;
 * - NaN or infinite float samples are CORRUPT_AUDIO (never silently sanitised);
 * - µ-law and A-law are decoded; ADPCM and every other format tag are UNSUPPORTED_FORMAT.
 */

type SampleKind = "u8" | "s16" | "s24" | "s32" | "f32" | "f64" | "mulaw" | "alaw";

export interface WavHeader {
  readonly info: AudioInfo;
  readonly sample: SampleKind;
  readonly blockAlign: number;
  /** Exact size of the data chunk; null when it is the streaming placeholder. */
  readonly dataBytes: number | null;
}

const FMT_PCM = 1;
const FMT_FLOAT = 3;
const FMT_ALAW = 6;
const FMT_MULAW = 7;
const FMT_EXTENSIBLE = 0xfffe;
const GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];
const MAX_FMT_BYTES = 1024;

function corrupt(msg: string): VaultError {
  return new VaultError("CORRUPT_AUDIO", msg);
}

function u16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}
function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}
function u64(b: Uint8Array, o: number): number {
  return u32(b, o) + u32(b, o + 4) * 2 ** 32;
}

interface Fmt {
  sample: SampleKind;
  codec: Codec;
  channels: number;
  sampleRate: number;
  blockAlign: number;
  bits: number;
}

function parseFmt(b: Uint8Array): Fmt {
  let tag = u16(b, 0);
  const channels = u16(b, 2);
  const sampleRate = u32(b, 4);
  const blockAlign = u16(b, 12);
  let bits = u16(b, 14);
  // The container: wBitsPerSample rounded up to bytes. For plain PCM nBlockAlign must be
  // nChannels × that (WAVEFORMATEX); in WAVE_FORMAT_EXTENSIBLE wBitsPerSample is the container
  // size and wValidBitsPerSample may be smaller (e.g. 24 valid bits in 32).
  const containerBytes = Math.ceil(bits / 8);
  if (tag === FMT_EXTENSIBLE) {
    if (b.length < 40 || u16(b, 16) < 22) throw corrupt("WAV extensible fmt chunk too short");
    const valid = u16(b, 18);
    if (valid > bits) throw corrupt("WAV valid bits exceed container bits");
    if (GUID_TAIL.some((v, i) => b[26 + i] !== v)) {
      throw new VaultError("UNSUPPORTED_FORMAT", "unsupported WAV subformat");
    }
    tag = u16(b, 24);
    bits = valid || bits;
  }
  if (tag !== FMT_PCM && tag !== FMT_FLOAT && tag !== FMT_MULAW && tag !== FMT_ALAW) {
    throw new VaultError("UNSUPPORTED_FORMAT", `unsupported WAV format tag 0x${tag.toString(16)}`, {
      details: { formatTag: tag },
    });
  }
  if (channels === 0) throw corrupt("WAV declares zero channels");
  if (sampleRate === 0) throw corrupt("WAV declares a zero sample rate");
  if (blockAlign === 0 || blockAlign % channels !== 0) throw corrupt("WAV block align is inconsistent");
  const width = blockAlign / channels;
  if (width !== containerBytes) {
    throw corrupt("WAV block align does not match the bits per sample");
  }
  let sample: SampleKind | undefined;
  let codec: Codec | undefined;
  if (tag === FMT_PCM && bits >= 1 && bits <= width * 8) {
    sample = (["u8", "s16", "s24", "s32"] as const)[width - 1];
    codec = (["pcm_u8", "pcm_s16", "pcm_s24", "pcm_s32"] as const)[width - 1];
  } else if (tag === FMT_FLOAT && (width === 4 || width === 8) && bits === width * 8) {
    sample = width === 4 ? "f32" : "f64";
    codec = width === 4 ? "pcm_f32" : "pcm_f64";
  } else if ((tag === FMT_MULAW || tag === FMT_ALAW) && width === 1) {
    sample = tag === FMT_MULAW ? "mulaw" : "alaw";
    codec = tag === FMT_MULAW ? "pcm_mulaw" : "pcm_alaw";
  }
  if (sample === undefined || codec === undefined) throw corrupt("WAV sample width is inconsistent");
  return { sample, codec, channels, sampleRate, blockAlign, bits };
}

/** Reads chunks up to the start of `data` and returns the header; the reader is left at the samples. */
export async function readWavHeader(r: ByteReader): Promise<WavHeader> {
  const riff = await r.read(12);
  if (riff.length < 12) throw corrupt("WAV header truncated");
  const magic = ascii(riff, 0, 4);
  if ((magic !== "RIFF" && magic !== "RF64") || ascii(riff, 8, 4) !== "WAVE") {
    throw new VaultError("UNSUPPORTED_FORMAT", "not a RIFF/RF64 WAVE file");
  }
  const riffSize = u32(riff, 4);
  let ds64Data: number | undefined;
  let fmt: Fmt | undefined;
  for (;;) {
    const ch = await r.read(8);
    if (ch.length < 8) throw corrupt(fmt ? "WAV has no data chunk" : "WAV has no fmt chunk");
    const id = ascii(ch, 0, 4);
    const size = u32(ch, 4);
    const padded = size + (size & 1);
    if (id === "ds64" && magic === "RF64") {
      if (size < 24 || size > MAX_FMT_BYTES) throw corrupt("RF64 ds64 chunk malformed");
      const body = await r.read(padded);
      if (body.length < padded) throw corrupt("WAV header truncated");
      ds64Data = u64(body, 8);
    } else if (id === "fmt ") {
      if (fmt) throw corrupt("WAV has two fmt chunks");
      if (size < 16 || size > MAX_FMT_BYTES) throw corrupt("WAV fmt chunk has a bad size");
      const body = await r.read(padded);
      if (body.length < padded) throw corrupt("WAV header truncated");
      fmt = parseFmt(body.subarray(0, size));
    } else if (id === "data") {
      if (!fmt) throw corrupt("WAV data chunk precedes fmt");
      let dataBytes: number | null = size;
      if (magic === "RF64" && size === 0xffffffff) {
        if (ds64Data === undefined) throw corrupt("RF64 without ds64 chunk");
        dataBytes = ds64Data;
      } else if (size === 0xffffffff || (size === 0 && (riffSize === 0 || riffSize === 0xffffffff))) {
        dataBytes = null;
      }
      if (dataBytes !== null && dataBytes % fmt.blockAlign !== 0) {
        throw corrupt("WAV data size is not a whole number of frames");
      }
      const info: AudioInfo = {
        container: "wav",
        codec: fmt.codec,
        sampleRate: fmt.sampleRate,
        channels: fmt.channels,
        bitsPerSample: fmt.bits,
        ...(dataBytes === null ? {} : { declaredDurationSec: dataBytes / fmt.blockAlign / fmt.sampleRate }),
      };
      return { info, sample: fmt.sample, blockAlign: fmt.blockAlign, dataBytes };
    } else {
      // LIST, fact, JUNK, bext, ...: skipped without buffering, whatever their declared size.
      if ((await r.skip(padded)) < padded) throw corrupt("WAV chunk truncated");
    }
  }
}

const MULAW = new Float32Array(256);
const ALAW = new Float32Array(256);
for (let i = 0; i < 256; i++) {
  const u = ~i & 0xff;
  const mag = ((((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4)) - 0x84;
  MULAW[i] = (u & 0x80 ? -mag : mag) / 32768;
  const a = i ^ 0x55;
  const seg = (a & 0x70) >> 4;
  let t = (a & 0x0f) << 4;
  t = seg === 0 ? t + 8 : ((t + 0x108) << (seg - 1)) >>> 0;
  ALAW[i] = (a & 0x80 ? t : -t) / 32768;
}

/** Converts whole frames of interleaved little-endian samples to planar float. */
export function deinterleave(bytes: Uint8Array, sample: SampleKind, channels: number): PlanarChunk {
  const width = sampleWidth(sample);
  const frames = Math.floor(bytes.length / (width * channels));
  const out: Float32Array[] = [];
  for (let c = 0; c < channels; c++) out.push(new Float32Array(frames));
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let c = 0; c < channels; c++) {
    const dst = out[c]!;
    const step = width * channels;
    let o = c * width;
    switch (sample) {
      case "u8":
        for (let i = 0; i < frames; i++, o += step) dst[i] = (bytes[o]! - 128) / 128;
        break;
      case "s16":
        for (let i = 0; i < frames; i++, o += step) dst[i] = dv.getInt16(o, true) / 32768;
        break;
      case "s24":
        for (let i = 0; i < frames; i++, o += step) {
          dst[i] = ((bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16)) << 8) / 2147483648;
        }
        break;
      case "s32":
        for (let i = 0; i < frames; i++, o += step) dst[i] = dv.getInt32(o, true) / 2147483648;
        break;
      case "f32":
      case "f64":
        for (let i = 0; i < frames; i++, o += step) {
          const v = sample === "f32" ? dv.getFloat32(o, true) : dv.getFloat64(o, true);
          // v - v is NaN for NaN and for +/-Infinity.
          if (v - v !== 0) throw corrupt("WAV contains NaN or infinite samples");
          dst[i] = v;
        }
        break;
      case "mulaw":
        for (let i = 0; i < frames; i++, o += step) dst[i] = MULAW[bytes[o]!]!;
        break;
      case "alaw":
        for (let i = 0; i < frames; i++, o += step) dst[i] = ALAW[bytes[o]!]!;
        break;
    }
  }
  return out;
}

function sampleWidth(s: SampleKind): number {
  return s === "u8" || s === "mulaw" || s === "alaw"
    ? 1
    : s === "s16"
      ? 2
      : s === "s24"
        ? 3
        : s === "f64"
          ? 8
          : 4;
}

/** Streams the data chunk as planar chunks of at most framesPerChunk frames. */
export async function* wavChunks(
  r: ByteReader,
  h: WavHeader,
  framesPerChunk = 8192,
): AsyncGenerator<PlanarChunk, void, undefined> {
  const chunkBytes = framesPerChunk * h.blockAlign;
  let left = h.dataBytes ?? Infinity;
  while (left > 0) {
    const want = Math.min(left, chunkBytes);
    const bytes = await r.read(want);
    if (bytes.length < want) {
      if (h.dataBytes !== null) throw corrupt("WAV data ends before its declared size");
      const whole = bytes.length - (bytes.length % h.blockAlign);
      if (whole > 0) yield deinterleave(bytes.subarray(0, whole), h.sample, h.info.channels);
      return;
    }
    left -= want;
    yield deinterleave(bytes, h.sample, h.info.channels);
  }
}
