import { VaultError } from "../../errors.js";
import type { ByteReader } from "./byte-reader.js";
import { corrupt, MAX_BOX_HEADER, parseBoxHeader, safeType, type BoxHeader } from "./mp4-boxes.js";
import { fragmentSamples, parseMoov, type AudioTrack, type SampleRef } from "./mp4-tracks.js";

/**
 * Streaming ISO BMFF demuxer (MP4, M4A, MOV, 3GP, fragmented MP4) for one audio track.
 *
 * - `moov` before the media (fast start, fragmented files): samples are picked out of each
 *   `mdat` as the stream passes; bytes of other tracks (video) are skipped, never buffered.
 * - `moov` after the media (most recorders): the demuxer cannot know which bytes are audio until
 *   it has read the index, so each `mdat` goes to a Spool first. The spool the decoder gives
 *   (src/audio/decode/spool.ts) holds only ciphertext under a key that lives in memory, so no
 *   plaintext media ever reaches a temporary file.
 */

/** Random-access storage for media data that arrived before the index. */
export interface Spool {
  append(bytes: Uint8Array): Promise<void>;
  /** Exactly `length` bytes from spool offset `offset` (throws past the end). */
  read(offset: number, length: number): Promise<Uint8Array>;
  readonly size: number;
  close(): Promise<void>;
}

export type SpoolFactory = () => Promise<Spool>;

/** Largest `moov` buffered: a two-hour 60 fps video with audio stays far below this. */
export const MAX_MOOV_BYTES = 64 << 20;
/** Largest `moof` buffered (one fragment's index). */
const MAX_MOOF_BYTES = 16 << 20;

export interface Mp4Options {
  /** Which audio track to decode, 0-based among the file's audio tracks (default 0). */
  readonly audioTrack?: number;
  readonly spool: SpoolFactory;
}

export interface Mp4Header {
  readonly track: AudioTrack;
  readonly audioTracks: number;
  /** "3gp" when the file type names a 3GPP brand, else "mp4". */
  readonly brand: "mp4" | "3gp";
}

interface Segment {
  readonly fileStart: number;
  readonly spoolStart: number;
  readonly length: number;
}

export class Mp4Demuxer {
  readonly #r: ByteReader;
  readonly #opts: Mp4Options;
  #spool: Spool | null = null;
  readonly #segments: Segment[] = [];
  #track: AudioTrack | null = null;

  constructor(r: ByteReader, opts: Mp4Options) {
    this.#r = r;
    this.#opts = opts;
  }

  /** Next top-level box header with its file offset; null at a clean end of stream. */
  async #header(): Promise<(BoxHeader & { start: number }) | null> {
    if (await this.#r.atEnd()) return null;
    const start = this.#r.position;
    await this.#r.fill(MAX_BOX_HEADER);
    const h = parseBoxHeader(this.#r.peek(MAX_BOX_HEADER));
    if (!h) throw corrupt("MP4 box header truncated");
    await this.#r.skip(h.headerBytes);
    return { ...h, start };
  }

  async #body(h: BoxHeader, max: number): Promise<Uint8Array> {
    if (h.bodyBytes === null || h.bodyBytes > max) {
      throw corrupt(`MP4 '${safeType(h.type)}' box is too large to be an index`);
    }
    const b = await this.#r.read(h.bodyBytes);
    if (b.length < h.bodyBytes) throw corrupt(`MP4 '${safeType(h.type)}' box is truncated`);
    return b;
  }

  async #skip(h: BoxHeader): Promise<void> {
    if (h.bodyBytes === null) {
      while ((await this.#r.readSome(1 << 20)) !== null);
      return;
    }
    if ((await this.#r.skip(h.bodyBytes)) < h.bodyBytes)
      throw corrupt(`MP4 '${safeType(h.type)}' box is truncated`);
  }

  async #spoolBody(h: BoxHeader & { start: number }): Promise<void> {
    this.#spool ??= await this.#opts.spool();
    const spoolStart = this.#spool.size;
    let left = h.bodyBytes ?? Infinity;
    while (left > 0) {
      const b = await this.#r.readSome(Math.min(left, 1 << 20));
      if (b === null) {
        if (h.bodyBytes !== null) throw corrupt("MP4 'mdat' box is truncated");
        break;
      }
      await this.#spool.append(b);
      left -= b.length;
    }
    const length = this.#spool.size - spoolStart;
    this.#segments.push({ fileStart: h.start + h.headerBytes, spoolStart, length });
  }

  #choose(moov: Uint8Array): AudioTrack {
    const facts = parseMoov(moov);
    if (facts.audio.length === 0) {
      throw new VaultError(
        "NO_AUDIO",
        facts.tracks > 0 ? "the file has no audio track" : "the file has no tracks",
      );
    }
    const want = this.#opts.audioTrack ?? 0;
    const t = facts.audio[want];
    if (!t) {
      throw new VaultError(
        "INVALID_ARGUMENT",
        `audio track ${want + 1} requested; the file has ${facts.audio.length}`,
      );
    }
    if ("unsupported" in t)
      throw new VaultError("UNSUPPORTED_FORMAT", `unsupported MP4 audio codec (${t.unsupported})`);
    this.#audioTracks = facts.audio.length;
    return t;
  }

  #audioTracks = 0;
  #brand: "mp4" | "3gp" = "mp4";

  /** Reads up to the `moov` (spooling any media before it) and returns the chosen track. */
  async readHeader(): Promise<Mp4Header> {
    for (;;) {
      const h = await this.#header();
      if (!h)
        throw corrupt(
          this.#segments.length ? "MP4 ends without its index ('moov')" : "MP4 has no 'moov' box",
        );
      switch (h.type) {
        case "ftyp": {
          const b = await this.#body(h, 4096);
          const major = String.fromCharCode(...b.subarray(0, 4));
          if (major.startsWith("3g")) this.#brand = "3gp";
          break;
        }
        case "moov": {
          this.#track = this.#choose(await this.#body(h, MAX_MOOV_BYTES));
          return { track: this.#track, audioTracks: this.#audioTracks, brand: this.#brand };
        }
        case "mdat":
          await this.#spoolBody(h);
          break;
        case "moof":
          throw corrupt("MP4 fragment before the 'moov' box");
        default:
          await this.#skip(h);
      }
    }
  }

  /** The chosen track's samples, in decode order. */
  async *samples(): AsyncGenerator<Uint8Array, void, undefined> {
    const track = this.#track;
    if (!track) throw new VaultError("INTERNAL", "readHeader first");
    try {
      if (this.#spool) yield* this.#fromSpool(track.samples.walk());
      else yield* this.#streamed(track);
    } finally {
      await this.#spool?.close();
    }
  }

  async *#fromSpool(refs: Iterable<SampleRef>): AsyncGenerator<Uint8Array, void, undefined> {
    let seg = 0;
    for (const s of refs) {
      // Segments are few; samples mostly advance, so start from the last hit.
      let g = this.#segments[seg];
      if (!g || s.offset < g.fileStart || s.offset + s.size > g.fileStart + g.length) {
        seg = this.#segments.findIndex(
          (x) => s.offset >= x.fileStart && s.offset + s.size <= x.fileStart + x.length,
        );
        g = this.#segments[seg];
        if (!g) throw corrupt("MP4 sample table points outside the media data");
      }
      yield await this.#spool!.read(g.spoolStart + (s.offset - g.fileStart), s.size);
    }
    if (this.#track!.samples.count === 0) throw corrupt("MP4 audio track has no samples");
  }

  /** moov came first: walk the rest of the file, picking samples out of each mdat in passing. */
  async *#streamed(track: AudioTrack): AsyncGenerator<Uint8Array, void, undefined> {
    let pending: Iterator<SampleRef> = track.samples.walk()[Symbol.iterator]();
    let next = pending.next();
    let yielded = 0;
    for (;;) {
      const h = await this.#header();
      if (!h) break;
      if (h.type === "moof") {
        if (!next.done) throw corrupt("MP4 fragment starts before the previous samples were found");
        const refs = fragmentSamples(await this.#body(h, MAX_MOOF_BYTES), h.start, track);
        pending = refs[Symbol.iterator]();
        next = pending.next();
        continue;
      }
      if (h.type !== "mdat") {
        await this.#skip(h);
        continue;
      }
      const start = h.start + h.headerBytes;
      const end = h.bodyBytes === null ? Infinity : start + h.bodyBytes;
      while (!next.done && next.value.offset < end) {
        const s = next.value;
        const pos = this.#r.position;
        if (s.offset < pos) throw corrupt("MP4 sample table points backwards or outside the media data");
        if (s.offset + s.size > end) throw corrupt("MP4 sample runs past the end of its media data");
        if ((await this.#r.skip(s.offset - pos)) < s.offset - pos)
          throw corrupt("MP4 ends before its samples");
        const b = await this.#r.read(s.size);
        if (b.length < s.size) throw corrupt("MP4 ends before its samples");
        yielded++;
        yield b;
        next = pending.next();
      }
      if (end === Infinity) {
        while ((await this.#r.readSome(1 << 20)) !== null);
        break;
      }
      const left = end - this.#r.position;
      if ((await this.#r.skip(left)) < left) throw corrupt("MP4 'mdat' box is truncated");
    }
    if (!next.done) throw corrupt("MP4 ends before its samples");
    if (yielded === 0) throw corrupt("MP4 audio track has no samples");
  }
}
