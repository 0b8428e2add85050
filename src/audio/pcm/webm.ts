import { VaultError } from "../../errors.js";
import type { ByteReader } from "./byte-reader.js";
import { OGG_BOS, OGG_EOS, opusPacketSamples, parseOggHead, writeOggPage } from "./ogg.js";
import { parseAudioSpecificConfig, type AacConfig } from "./aac.js";
import type { AudioInfo } from "./types.js";

/**
 * Streaming WebM/Matroska demuxer for one Opus or AAC audio track (the first by default), plus a
 * remuxer to Ogg Opus so the bounded chunked Ogg Opus decoder can decode Opus; AAC frames go to
 * the AAC decoder with the track's AudioSpecificConfig (CodecPrivate). Segment and Cluster are entered whatever
 * their size (MediaRecorder writes "unknown" sizes); other top-level elements are skipped
 * without buffering; blocks of other tracks (video) are skipped after reading their track number.
 * DiscardPadding becomes the end granule of the last Ogg page, so the decoder trims it.
 */

const ID = {
  EBML: 0x1a45dfa3,
  DocType: 0x4282,
  Segment: 0x18538067,
  Info: 0x1549a966,
  TimecodeScale: 0x2ad7b1,
  Duration: 0x4489,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  TrackType: 0x83,
  CodecID: 0x86,
  CodecPrivate: 0x63a2,
  Audio: 0xe1,
  Channels: 0x9f,
  Cluster: 0x1f43b675,
  SimpleBlock: 0xa3,
  BlockGroup: 0xa0,
  Block: 0xa1,
  DiscardPadding: 0x75a2,
} as const;

const MAX_HEADER_ELEMENT = 1 << 20;
const MAX_BLOCK = 1 << 20;

function corrupt(msg: string): VaultError {
  return new VaultError("CORRUPT_AUDIO", msg);
}

interface Vint {
  value: number;
  len: number;
  unknown: boolean;
}

/** EBML variable-size integer (marker stripped); null if b is too short. */
function readVint(b: Uint8Array, off: number, maxLen = 8): Vint | null {
  const first = b[off];
  if (first === undefined) return null;
  let len = 1;
  while (len <= maxLen && !(first & (0x80 >> (len - 1)))) len++;
  if (len > maxLen) throw corrupt("WebM element has an invalid length field");
  if (off + len > b.length) return null;
  let value = first & (0xff >> len);
  let allOnes = value === 0xff >> len;
  for (let i = 1; i < len; i++) {
    const v = b[off + i]!;
    value = value * 256 + v;
    if (v !== 0xff) allOnes = false;
  }
  return { value, len, unknown: allOnes };
}

function readId(b: Uint8Array, off: number): Vint | null {
  const first = b[off];
  if (first === undefined) return null;
  if (first < 0x10) throw corrupt("WebM element has an invalid id");
  const len = first & 0x80 ? 1 : first & 0x40 ? 2 : first & 0x20 ? 3 : 4;
  if (off + len > b.length) return null;
  let value = 0;
  for (let i = 0; i < len; i++) value = value * 256 + b[off + i]!;
  return { value, len, unknown: false };
}

interface Child {
  id: number;
  body: Uint8Array;
}

/** Children of a fully buffered master element. */
function children(b: Uint8Array): Child[] {
  const out: Child[] = [];
  let off = 0;
  while (off < b.length) {
    const id = readId(b, off);
    const size = id && readVint(b, off + id.len);
    if (!id || !size || size.unknown) throw corrupt("WebM element malformed");
    const start = off + id.len + size.len;
    if (start + size.value > b.length) throw corrupt("WebM element overruns its parent");
    out.push({ id: id.value, body: b.subarray(start, start + size.value) });
    off = start + size.value;
  }
  return out;
}

function uint(b: Uint8Array): number {
  let v = 0;
  for (const x of b) v = v * 256 + x;
  return v;
}

function sint(b: Uint8Array): number {
  if (b.length === 0) return 0;
  let v = uint(b);
  if (b[0]! & 0x80) v -= 2 ** (8 * b.length);
  return v;
}

function float(b: Uint8Array): number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return b.length === 4 ? dv.getFloat32(0) : b.length === 8 ? dv.getFloat64(0) : NaN;
}

function text(b: Uint8Array): string {
  let s = "";
  for (const x of b) {
    if (x === 0) break;
    s += String.fromCharCode(x);
  }
  return s;
}

export interface WebmOpusHeader {
  readonly info: AudioInfo;
  readonly codec: "opus";
  /** The OpusHead packet from CodecPrivate. */
  readonly opusHead: Uint8Array;
}

export interface WebmAacHeader {
  readonly info: AudioInfo;
  readonly codec: "aac";
  readonly aac: AacConfig;
}

export type WebmHeader = WebmOpusHeader | WebmAacHeader;

export interface WebmPacket {
  readonly frame: Uint8Array;
  /** DiscardPadding of the block that carried the frame, in nanoseconds (0 if none). */
  readonly discardNs: number;
}

/** Splits a (Simple)Block body into its frames, honouring all three lacing modes. */
export function blockFrames(b: Uint8Array): { track: number; frames: Uint8Array[] } {
  const tn = readVint(b, 0);
  if (!tn || b.length < tn.len + 3) throw corrupt("WebM block malformed");
  const flags = b[tn.len + 2]!;
  let off = tn.len + 3;
  const lacing = (flags >> 1) & 3;
  if (lacing === 0) return { track: tn.value, frames: [b.subarray(off)] };
  const count = (b[off++] ?? -1) + 1;
  if (count < 1) throw corrupt("WebM block malformed");
  const sizes: number[] = [];
  if (lacing === 1) {
    for (let i = 0; i < count - 1; i++) {
      let s = 0;
      let v: number;
      do {
        v = b[off++] ?? -1;
        if (v < 0) throw corrupt("WebM lacing malformed");
        s += v;
      } while (v === 255);
      sizes.push(s);
    }
  } else if (lacing === 3) {
    let prev = 0;
    for (let i = 0; i < count - 1; i++) {
      const v = readVint(b, off);
      if (!v) throw corrupt("WebM lacing malformed");
      off += v.len;
      prev = i === 0 ? v.value : prev + v.value - (2 ** (7 * v.len - 1) - 1);
      if (prev < 0) throw corrupt("WebM lacing malformed");
      sizes.push(prev);
    }
  } else {
    const rest = b.length - off;
    if (rest % count !== 0) throw corrupt("WebM lacing malformed");
    for (let i = 0; i < count - 1; i++) sizes.push(rest / count);
  }
  const frames: Uint8Array[] = [];
  for (const s of sizes) {
    if (off + s > b.length) throw corrupt("WebM lacing malformed");
    frames.push(b.subarray(off, off + s));
    off += s;
  }
  frames.push(b.subarray(off));
  return { track: tn.value, frames };
}

export class WebmDemuxer {
  readonly #r: ByteReader;
  readonly #audioTrack: number;
  #track = -1;
  #seenEbml = false;
  #done = false;

  /** audioTrack: which audio track, 0-based among the file's audio tracks (default 0). */
  constructor(r: ByteReader, audioTrack = 0) {
    this.#r = r;
    this.#audioTrack = audioTrack;
  }

  /** Element header at the reader; null at a clean end of stream. */
  async #header(): Promise<{ id: number; size: number | null } | null> {
    if (await this.#r.atEnd()) return null;
    await this.#r.fill(12);
    const b = this.#r.peek(12);
    const id = readId(b, 0);
    const size = id && readVint(b, id.len);
    if (!id || !size) throw corrupt("WebM element header truncated");
    await this.#r.read(id.len + size.len);
    if (!size.unknown && size.value > 2 ** 50) throw corrupt("WebM element size is absurd");
    return { id: id.value, size: size.unknown ? null : size.value };
  }

  async #body(size: number | null, max: number): Promise<Uint8Array> {
    if (size === null || size > max) throw corrupt("WebM element too large");
    const b = await this.#r.read(size);
    if (b.length < size) throw corrupt("WebM element truncated");
    return b;
  }

  async #skip(size: number | null): Promise<void> {
    if (size === null) throw corrupt("WebM element of unknown size");
    if ((await this.#r.skip(size)) < size) throw corrupt("WebM element truncated");
  }

  /** Reads up to and including Tracks; returns what the chosen audio track declares. */
  async readHeader(): Promise<WebmHeader> {
    let timecodeScale = 1e6;
    let durationTicks: number | undefined;
    for (;;) {
      const h = await this.#header();
      if (!h) throw corrupt("WebM ends before its Tracks");
      switch (h.id) {
        case ID.EBML: {
          const doc = children(await this.#body(h.size, 4096)).find((c) => c.id === ID.DocType);
          const type = doc ? text(doc.body) : "matroska";
          if (type !== "webm" && type !== "matroska") {
            throw new VaultError("UNSUPPORTED_FORMAT", "unsupported EBML document type");
          }
          this.#seenEbml = true;
          break;
        }
        case ID.Segment:
          break;
        case ID.Info:
          for (const c of children(await this.#body(h.size, MAX_HEADER_ELEMENT))) {
            if (c.id === ID.TimecodeScale) timecodeScale = uint(c.body);
            if (c.id === ID.Duration) durationTicks = float(c.body);
          }
          break;
        case ID.Tracks: {
          const head = this.#pickTrack(await this.#body(h.size, MAX_HEADER_ELEMENT));
          // The segment's duration spans every track: it bounds the audio only when audio is all.
          const declared =
            durationTicks !== undefined &&
            Number.isFinite(durationTicks) &&
            durationTicks > 0 &&
            head.onlyTrack
              ? { declaredDurationSec: (durationTicks * timecodeScale) / 1e9 }
              : {};
          if (head.codec === "aac") {
            const info: AudioInfo = {
              container: "webm",
              codec: "aac",
              sampleRate: head.aac.coreRate,
              channels: Math.max(1, head.aac.channelConfig),
              ...declared,
            };
            return { info, codec: "aac", aac: head.aac };
          }
          const info: AudioInfo = {
            container: "webm",
            codec: "opus",
            sampleRate: 48000,
            channels: head.channels,
            ...declared,
          };
          return { info, codec: "opus", opusHead: head.opusHead };
        }
        case ID.Cluster:
        case ID.SimpleBlock:
        case ID.BlockGroup:
          throw corrupt("WebM block before Tracks");
        default:
          if (!this.#seenEbml) throw corrupt("WebM does not start with an EBML header");
          await this.#skip(h.size);
      }
    }
  }

  #pickTrack(tracks: Uint8Array): (
    { codec: "opus"; channels: number; opusHead: Uint8Array } | { codec: "aac"; aac: AacConfig }
  ) & {
    onlyTrack: boolean;
  } {
    let audio = 0;
    let total = 0;
    const entries = children(tracks);
    const onlyTrack = entries.filter((t) => t.id === ID.TrackEntry).length === 1;
    for (const t of entries) {
      if (t.id !== ID.TrackEntry) continue;
      total++;
      const f = children(t.body);
      const get = (id: number): Uint8Array | undefined => f.find((c) => c.id === id)?.body;
      if (uint(get(ID.TrackType) ?? new Uint8Array()) !== 2) continue; // video, subtitles: skipped
      if (audio++ !== this.#audioTrack) continue;
      const codec = text(get(ID.CodecID) ?? new Uint8Array());
      const priv = get(ID.CodecPrivate);
      this.#track = uint(get(ID.TrackNumber) ?? new Uint8Array());
      // Matroska codec ids: A_OPUS; A_AAC with the AudioSpecificConfig as CodecPrivate.
      if (codec === "A_OPUS") {
        if (!priv) throw corrupt("WebM Opus track has no OpusHead");
        const head = parseOggHead(priv);
        return { codec: "opus", channels: head.channels, opusHead: new Uint8Array(priv), onlyTrack };
      }
      if (codec === "A_AAC" || codec.startsWith("A_AAC/")) {
        if (!priv) throw corrupt("Matroska AAC track has no AudioSpecificConfig");
        return { codec: "aac", aac: parseAudioSpecificConfig(priv), onlyTrack };
      }
      throw new VaultError("UNSUPPORTED_FORMAT", `unsupported WebM audio codec (${codec.slice(0, 32)})`);
    }
    if (audio > 0) {
      throw new VaultError(
        "INVALID_ARGUMENT",
        `audio track ${this.#audioTrack + 1} requested; the file has ${audio}`,
      );
    }
    throw new VaultError("NO_AUDIO", total > 0 ? "the file has no audio track" : "the file has no tracks");
  }

  /** Opus frames of the chosen track, in stream order. */
  async *packets(): AsyncGenerator<WebmPacket, void, undefined> {
    while (!this.#done) {
      const h = await this.#header();
      if (!h) return;
      switch (h.id) {
        case ID.Segment:
        case ID.Cluster:
          break;
        case ID.EBML:
          // A second EBML document (concatenated files): stop at the first one.
          this.#done = true;
          return;
        case ID.SimpleBlock: {
          if (h.size === null) throw corrupt("WebM block of unknown size");
          await this.#r.fill(Math.min(h.size, 8));
          const tn = readVint(this.#r.peek(Math.min(h.size, 8)), 0);
          if (!tn) throw corrupt("WebM block truncated");
          if (tn.value !== this.#track) {
            await this.#skip(h.size);
            break;
          }
          for (const frame of blockFrames(await this.#body(h.size, MAX_BLOCK)).frames) {
            yield { frame, discardNs: 0 };
          }
          break;
        }
        case ID.BlockGroup: {
          if (h.size !== null && h.size > MAX_BLOCK) {
            await this.#skip(h.size); // far larger than any Opus block: another track's
            break;
          }
          let frames: Uint8Array[] = [];
          let discardNs = 0;
          for (const c of children(await this.#body(h.size, MAX_BLOCK))) {
            if (c.id === ID.Block) {
              const blk = blockFrames(c.body);
              if (blk.track === this.#track) frames = blk.frames;
            } else if (c.id === ID.DiscardPadding) {
              discardNs = sint(c.body);
            }
          }
          for (let i = 0; i < frames.length; i++) {
            yield { frame: frames[i]!, discardNs: i === frames.length - 1 ? discardNs : 0 };
          }
          break;
        }
        default:
          await this.#skip(h.size);
      }
    }
  }
}

/**
 * Remuxes the demuxed Opus track to an Ogg Opus byte stream: OpusHead page, OpusTags page, then
 * audio pages of a few KiB; the last page carries EOS and an end granule reduced by the final
 * DiscardPadding so the decoder trims the encoder padding.
 */
export async function* webmOpusToOgg(
  head: WebmOpusHeader,
  packets: AsyncIterable<WebmPacket>,
  pageBytes = 4096,
): AsyncGenerator<Uint8Array, void, undefined> {
  const serial = 0x766f7876; // "voxv"
  let seq = 0;
  yield writeOggPage([head.opusHead], OGG_BOS, 0, serial, seq++);
  const tags = new Uint8Array(16);
  tags.set([0x4f, 0x70, 0x75, 0x73, 0x54, 0x61, 0x67, 0x73]); // "OpusTags", empty vendor, 0 comments
  yield writeOggPage([tags], 0, 0, serial, seq++);
  let granule = 0;
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let lastDiscard = 0;
  for await (const p of packets) {
    if (pending.length > 0 && (pendingBytes + p.frame.length > pageBytes || pending.length >= 200)) {
      yield writeOggPage(pending, 0, granule, serial, seq++);
      pending = [];
      pendingBytes = 0;
    }
    pending.push(p.frame);
    pendingBytes += p.frame.length;
    granule += opusPacketSamples(p.frame);
    lastDiscard = p.discardNs;
  }
  const trim = Math.max(0, Math.round((lastDiscard * 48000) / 1e9));
  yield writeOggPage(pending, OGG_EOS, Math.max(0, granule - trim), serial, seq++);
}
