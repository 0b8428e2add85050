import { VaultError } from "../../errors.js";
import { parseAudioSpecificConfig, type AacConfig } from "./aac.js";
import type { AmrKind } from "./amr.js";
import { BoxReader, child, childBoxes, corrupt, requireChild, safeType, type Box } from "./mp4-boxes.js";
import { gaplessWindow, type GaplessWindow } from "./mp4-gapless.js";

/**
 * The `moov` box of an MP4/M4A/MOV/3GP file (ISO/IEC 14496-12 §8): its tracks, the chosen audio
 * track's codec configuration, and its sample table as a lazy walk of (offset, size) pairs.
 * Video and other tracks are read only as far as their handler type, then ignored.
 */

/** One audio access unit (AAC) or a run of AMR storage-format frames, where the file holds it. */
export interface SampleRef {
  readonly offset: number;
  readonly size: number;
}

export type Mp4Codec = { readonly codec: "aac"; readonly aac: AacConfig } | { readonly codec: AmrKind };

export interface AudioTrack {
  readonly trackId: number;
  readonly codec: Mp4Codec;
  /** What the sample entry declares (AAC: the core rate; the decoder's output rate wins). */
  readonly sampleRate: number;
  readonly channels: number;
  readonly declaredDurationSec?: number;
  /** Samples listed in the moov's own sample table (empty for a fragmented file). */
  readonly samples: SampleTable;
  /** Movie-fragment defaults for this track (mvex/trex), when the file is fragmented. */
  readonly fragmentDefaults?: TrackDefaults;
  /** AAC: the encoder's priming and padding to trim (mp4-gapless.ts), when the file says. */
  readonly gapless?: GaplessWindow;
}

export interface TrackDefaults {
  readonly sampleSize: number;
}

/** Largest audio sample accepted: AAC frames stay under 6 KiB per channel; AMR runs are small. */
export const MAX_SAMPLE_BYTES = 1 << 20;

export class SampleTable {
  /** stsc entries: first chunk (1-based) and samples per chunk. */
  readonly #runs: { firstChunk: number; perChunk: number }[];
  readonly #chunks: BoxReader | null;
  readonly #chunk64: boolean;
  readonly #chunkCount: number;
  readonly #sizes: BoxReader | null;
  readonly #constSize: number;
  readonly #sizeBits: number;
  readonly count: number;

  constructor(stbl: readonly Box[] | null) {
    if (stbl === null) {
      this.#runs = [];
      this.#chunks = null;
      this.#chunk64 = false;
      this.#chunkCount = 0;
      this.#sizes = null;
      this.#constSize = 0;
      this.#sizeBits = 32;
      this.count = 0;
      return;
    }
    // §8.7.3: stsz (constant size or a 32-bit table) or stz2 (4/8/16-bit table).
    const stsz = child(stbl, "stsz");
    const stz2 = child(stbl, "stz2");
    if (stsz) {
      const r = new BoxReader(stsz.body, "stsz");
      r.fullBox(0);
      this.#constSize = r.u32();
      this.count = r.u32();
      this.#sizeBits = 32;
      if (this.#constSize === 0) r.entries(this.count, 4);
      this.#sizes = this.#constSize === 0 ? r : null;
    } else if (stz2) {
      const r = new BoxReader(stz2.body, "stz2");
      r.fullBox(0);
      r.skip(3);
      this.#sizeBits = r.u8();
      if (![4, 8, 16].includes(this.#sizeBits)) throw corrupt("MP4 'stz2' has an invalid field size");
      this.count = r.u32();
      r.entries(Math.ceil((this.count * this.#sizeBits) / 8), 1);
      this.#constSize = 0;
      this.#sizes = r;
    } else {
      throw corrupt("MP4 sample table has no sample sizes");
    }
    // §8.7.5: stco (32-bit) or co64 (64-bit) chunk offsets.
    const stco = child(stbl, "stco");
    const co64 = child(stbl, "co64");
    const co = stco ?? co64;
    if (!co) throw corrupt("MP4 sample table has no chunk offsets");
    const cr = new BoxReader(co.body, co.type);
    cr.fullBox(0);
    this.#chunkCount = cr.u32();
    this.#chunk64 = co === co64;
    cr.entries(this.#chunkCount, this.#chunk64 ? 8 : 4);
    this.#chunks = cr;
    // §8.7.4: stsc runs, first chunks strictly increasing from 1.
    const stsc = requireChild(stbl, "stsc", "sample table");
    const sr = new BoxReader(stsc.body, "stsc");
    sr.fullBox(0);
    const n = sr.u32();
    sr.entries(n, 12);
    this.#runs = [];
    let prev = 0;
    for (let i = 0; i < n; i++) {
      const firstChunk = sr.u32();
      const perChunk = sr.u32();
      sr.u32(); // sample_description_index: one entry is all this reader takes (checked in stsd)
      if (firstChunk <= prev || (i === 0 && firstChunk !== 1) || firstChunk > this.#chunkCount) {
        throw corrupt("MP4 'stsc' chunk runs are out of order");
      }
      if (perChunk === 0 || perChunk > this.count)
        throw corrupt("MP4 'stsc' has an invalid samples-per-chunk");
      this.#runs.push({ firstChunk, perChunk });
      prev = firstChunk;
    }
    if (this.count > 0 && (n === 0 || this.#chunkCount === 0)) throw corrupt("MP4 samples have no chunks");
  }

  sizeAt(i: number): number {
    if (this.#constSize !== 0) return this.#constSize;
    const r = this.#sizes!;
    const base = 12; // full box header and two 32-bit fields (stsz) or reserved+size+count (stz2)
    if (this.#sizeBits === 32) return r.u32At(base + 4 * i);
    if (this.#sizeBits === 16) return r.u16At(base + 2 * i);
    if (this.#sizeBits === 8) return r.body[base + i]!;
    const byte = r.body[base + (i >> 1)]!;
    return i & 1 ? byte & 15 : byte >> 4;
  }

  #chunkOffset(c: number): number {
    const r = this.#chunks!;
    if (this.#chunk64) {
      const hi = r.u32At(8 + 8 * c);
      if (hi >= 2 ** 21) throw corrupt("MP4 chunk offset is absurd");
      return hi * 2 ** 32 + r.u32At(12 + 8 * c);
    }
    return r.u32At(8 + 4 * c);
  }

  /** Every sample in decode order; checks that the chunk runs account for exactly `count`. */
  *walk(): Generator<SampleRef, void, undefined> {
    let i = 0;
    for (let r = 0; r < this.#runs.length && i < this.count; r++) {
      const run = this.#runs[r]!;
      const endChunk = this.#runs[r + 1]?.firstChunk ?? this.#chunkCount + 1;
      for (let c = run.firstChunk; c < endChunk && i < this.count; c++) {
        let offset = this.#chunkOffset(c - 1);
        for (let s = 0; s < run.perChunk; s++) {
          if (i >= this.count) throw corrupt("MP4 chunks hold more samples than 'stsz' lists");
          const size = this.sizeAt(i++);
          if (size > MAX_SAMPLE_BYTES) throw corrupt("MP4 audio sample is implausibly large");
          yield { offset, size };
          offset += size;
        }
      }
    }
    if (i < this.count) throw corrupt("MP4 'stsz' lists more samples than the chunks hold");
  }
}

/** `esds` (ISO/IEC 14496-1 §7.2.6.5): ES_Descriptor → DecoderConfigDescriptor → DecoderSpecificInfo. */
function parseEsds(body: Uint8Array): { objectTypeIndication: number; asc: Uint8Array | null } {
  const r = new BoxReader(body, "esds");
  r.fullBox(0);
  const descriptor = (): { tag: number; end: number } => {
    const tag = r.u8();
    let len = 0;
    for (let k = 0; k < 4; k++) {
      const b = r.u8();
      len = len * 128 + (b & 0x7f);
      if (!(b & 0x80)) break;
      if (k === 3) throw corrupt("MP4 'esds' descriptor length is malformed");
    }
    const end = r.pos + len;
    if (end > body.length) throw corrupt("MP4 'esds' descriptor overruns its box");
    return { tag, end };
  };
  const es = descriptor();
  if (es.tag !== 0x03) throw corrupt("MP4 'esds' does not hold an ES descriptor");
  r.skip(2);
  const flags = r.u8();
  if (flags & 0x80) r.skip(2);
  if (flags & 0x40) r.skip(r.u8());
  if (flags & 0x20) r.skip(2);
  while (r.pos < es.end) {
    const d = descriptor();
    if (d.tag !== 0x04) {
      r.pos = d.end;
      continue;
    }
    const objectTypeIndication = r.u8();
    r.skip(12);
    while (r.pos < d.end) {
      const s = descriptor();
      if (s.tag === 0x05) return { objectTypeIndication, asc: body.slice(r.pos, s.end) };
      r.pos = s.end;
    }
    return { objectTypeIndication, asc: null };
  }
  throw corrupt("MP4 'esds' has no decoder configuration");
}

/** Searches an audio sample entry's children (and QuickTime's 'wave' wrapper) for a box. */
function findIn(boxes: readonly Box[], type: string, depth = 0): Box | undefined {
  for (const b of boxes) {
    if (b.type === type) return b;
    if (b.type === "wave" && depth < 2) {
      const inner = findIn(childBoxes(b.body), type, depth + 1);
      if (inner) return inner;
    }
  }
  return undefined;
}

interface EntryFacts {
  readonly codec: Mp4Codec | { readonly unsupported: string };
  readonly sampleRate: number;
  readonly channels: number;
}

/**
 * An audio sample entry (§12.2.3), including QuickTime sound descriptions v1 and v2 (their
 * version field sits where ISO puts reserved zeros).
 */
function parseAudioEntry(e: Box): EntryFacts {
  const r = new BoxReader(e.body, e.type);
  r.skip(8); // SampleEntry: reserved(6), data_reference_index
  const version = r.u16();
  r.skip(6);
  let channels = r.u16();
  r.skip(6);
  let sampleRate = r.u32() / 65536;
  if (version === 1) r.skip(16);
  else if (version === 2) {
    r.skip(4);
    sampleRate = r.f64();
    channels = r.u32();
    r.skip(20);
  } else if (version !== 0)
    throw new VaultError("UNSUPPORTED_FORMAT", "unknown QuickTime sound description version");
  const kids = childBoxes(r.rest());
  switch (e.type) {
    case "mp4a": {
      const esds = findIn(kids, "esds");
      if (!esds) throw corrupt("MP4 'mp4a' entry has no 'esds' box");
      const { objectTypeIndication, asc } = parseEsds(esds.body);
      // 0x40: MPEG-4 audio; 0x66–0x68: MPEG-2 AAC Main/LC/SSR (ISO/IEC 14496-1 table 5).
      if (![0x40, 0x66, 0x67, 0x68].includes(objectTypeIndication)) {
        const name = objectTypeIndication === 0x69 || objectTypeIndication === 0x6b ? "mp3 in mp4" : "mp4a";
        return { codec: { unsupported: name }, sampleRate, channels };
      }
      if (!asc) throw corrupt("MP4 AAC track has no AudioSpecificConfig");
      return { codec: { codec: "aac", aac: parseAudioSpecificConfig(asc) }, sampleRate, channels };
    }
    case "samr":
      return { codec: { codec: "amr_nb" }, sampleRate: 8000, channels: 1 };
    case "sawb":
      return { codec: { codec: "amr_wb" }, sampleRate: 16000, channels: 1 };
    default:
      return { codec: { unsupported: safeType(e.type).trim() }, sampleRate, channels };
  }
}

export interface MoovFacts {
  /** Audio tracks in file order (supported or not). */
  readonly audio: readonly (AudioTrack | { readonly trackId: number; readonly unsupported: string })[];
  /** Number of tracks of any kind (video, text, ...). */
  readonly tracks: number;
  /** True when the file carries movie fragments (mvex). */
  readonly fragmented: boolean;
}

function trackId(trak: readonly Box[]): number {
  const r = new BoxReader(requireChild(trak, "tkhd", "track").body, "tkhd");
  const { version } = r.fullBox(1);
  r.skip(version === 1 ? 16 : 8);
  return r.u32();
}

/**
 * The timescale of a movie or media header (mvhd §8.2.2, mdhd §8.4.2: the same leading fields),
 * and a reader of the duration that follows it, for the caller that needs it (mvhd's is never
 * read, so it cannot fail a file).
 */
function timeHeader(box: Box): { timescale: number; duration(): number | undefined } {
  const r = new BoxReader(box.body, box.type);
  const { version } = r.fullBox(1);
  r.skip(version === 1 ? 16 : 8); // creation and modification times
  const timescale = r.u32();
  return {
    timescale,
    duration(): number | undefined {
      // zero, or all ones in the field's width, is unknown (§8.4.2.3)
      if (version === 0) {
        const duration = r.u32();
        return duration === 0 || duration === 0xffffffff ? undefined : duration;
      }
      // version 1's all ones is no safe integer: its halves are compared, then the value read
      const high = r.u32();
      const low = r.u32();
      if (high === 0xffffffff && low === 0xffffffff) return undefined;
      const duration = high * 2 ** 32 + low;
      if (!Number.isSafeInteger(duration)) throw corrupt(`MP4 '${box.type}' holds an absurd value`);
      return duration === 0 ? undefined : duration;
    },
  };
}

function mediaTime(mdia: readonly Box[]): { timescale: number; durationSec?: number } {
  const header = timeHeader(requireChild(mdia, "mdhd", "track"));
  const { timescale } = header;
  if (timescale === 0) throw corrupt("MP4 track has a zero timescale");
  const duration = header.duration();
  return duration === undefined ? { timescale } : { timescale, durationSec: duration / timescale };
}

/** The movie timescale (mvhd), or undefined when absent or zero. */
function movieTimescale(moov: readonly Box[]): number | undefined {
  const mvhd = child(moov, "mvhd");
  return mvhd ? timeHeader(mvhd).timescale || undefined : undefined;
}

/** The media's length from its decoding times (stts, §8.6.1.2), or undefined without samples. */
function sttsSeconds(stbl: readonly Box[], timescale: number): number | undefined {
  const stts = child(stbl, "stts");
  if (!stts) return undefined;
  const r = new BoxReader(stts.body, "stts");
  r.fullBox(0);
  const n = r.u32();
  r.entries(n, 8);
  let ticks = 0;
  for (let i = 0; i < n; i++) ticks += r.u32() * r.u32();
  return ticks > 0 ? ticks / timescale : undefined;
}

function trexDefaults(mvex: Box | undefined): Map<number, TrackDefaults> {
  const out = new Map<number, TrackDefaults>();
  if (!mvex) return out;
  for (const b of childBoxes(mvex.body)) {
    if (b.type !== "trex") continue;
    const r = new BoxReader(b.body, "trex");
    r.fullBox(0);
    const id = r.u32();
    r.skip(8); // default description index, default duration
    out.set(id, { sampleSize: r.u32() });
  }
  return out;
}

/** Reads a buffered moov body. */
export function parseMoov(body: Uint8Array): MoovFacts {
  const kids = childBoxes(body);
  const mvex = child(kids, "mvex");
  const trex = trexDefaults(mvex);
  const audio: MoovFacts["audio"][number][] = [];
  let tracks = 0;
  for (const t of kids) {
    if (t.type !== "trak") continue;
    tracks++;
    const trak = childBoxes(t.body);
    const mdia = childBoxes(requireChild(trak, "mdia", "track").body);
    const hdlr = new BoxReader(requireChild(mdia, "hdlr", "track").body, "hdlr");
    hdlr.fullBox(0);
    hdlr.skip(4);
    if (hdlr.fourcc() !== "soun") continue; // video, hint, text, timecode: never read further
    const id = trackId(trak);
    const time = mediaTime(mdia);
    const minf = childBoxes(requireChild(mdia, "minf", "track").body);
    const stbl = childBoxes(requireChild(minf, "stbl", "track").body);
    const stsd = new BoxReader(requireChild(stbl, "stsd", "sample table").body, "stsd");
    stsd.fullBox(0);
    const entries = childBoxes(stsd.body.subarray(8));
    if (stsd.u32() !== 1 || entries.length !== 1) {
      audio.push({ trackId: id, unsupported: "several sample descriptions" });
      continue;
    }
    const facts = parseAudioEntry(entries[0]!);
    if ("unsupported" in facts.codec) {
      audio.push({ trackId: id, unsupported: facts.codec.unsupported });
      continue;
    }
    const defaults = trex.get(id);
    const fragmented = mvex !== undefined && !child(stbl, "stsz") && !child(stbl, "stz2");
    const gapless =
      facts.codec.codec === "aac"
        ? gaplessWindow({
            trak,
            moov: kids,
            mediaTimescale: time.timescale,
            movieTimescale: movieTimescale(kids),
            mediaSec: fragmented ? undefined : sttsSeconds(stbl, time.timescale),
            coreRate: facts.codec.aac.coreRate,
          })
        : undefined;
    audio.push({
      trackId: id,
      codec: facts.codec,
      sampleRate: Math.round(facts.sampleRate),
      channels: facts.channels,
      ...(time.durationSec === undefined ? {} : { declaredDurationSec: time.durationSec }),
      samples: new SampleTable(fragmented ? null : stbl),
      ...(defaults ? { fragmentDefaults: defaults } : {}),
      ...(gapless ? { gapless } : {}),
    });
  }
  return { audio, tracks, fragmented: mvex !== undefined };
}

/**
 * The chosen track's samples in one movie fragment (§8.8): each `traf` for the track, each
 * `trun` in it, offsets resolved against the base the `tfhd` names (default-base-is-moof, an
 * explicit base, or the moof itself, as §8.8.7.1 describes for the first track fragment).
 */
export function fragmentSamples(moofBody: Uint8Array, moofStart: number, track: AudioTrack): SampleRef[] {
  const out: SampleRef[] = [];
  let total = 0;
  for (const traf of childBoxes(moofBody)) {
    if (traf.type !== "traf") continue;
    const kids = childBoxes(traf.body);
    const tf = new BoxReader(requireChild(kids, "tfhd", "track fragment").body, "tfhd");
    const { flags } = tf.fullBox(0);
    if (tf.u32() !== track.trackId) continue;
    let base = moofStart;
    if (flags & 0x1) base = tf.u64();
    if (flags & 0x2) tf.skip(4);
    if (flags & 0x8) tf.skip(4);
    let defaultSize = track.fragmentDefaults?.sampleSize ?? 0;
    if (flags & 0x10) defaultSize = tf.u32();
    let next = base;
    for (const run of kids) {
      if (run.type !== "trun") continue;
      const r = new BoxReader(run.body, "trun");
      const tr = r.fullBox(1);
      const count = r.u32();
      let offset = next;
      if (tr.flags & 0x1) {
        const rel = r.u32() | 0; // signed
        offset = base + rel;
      }
      if (tr.flags & 0x4) r.skip(4);
      const perSample = [0x100, 0x200, 0x400, 0x800].filter((f) => tr.flags & f).length * 4;
      r.entries(count, perSample);
      total += count;
      if (total > 1 << 24) throw corrupt("MP4 fragment lists an absurd number of samples");
      for (let i = 0; i < count; i++) {
        if (tr.flags & 0x100) r.skip(4);
        const size = tr.flags & 0x200 ? r.u32() : defaultSize;
        if (tr.flags & 0x400) r.skip(4);
        if (tr.flags & 0x800) r.skip(4);
        if (size === 0 || size > MAX_SAMPLE_BYTES) throw corrupt("MP4 fragment sample has an invalid size");
        if (offset < 0) throw corrupt("MP4 fragment sample offset is negative");
        out.push({ offset, size });
        offset += size;
      }
      next = offset;
    }
  }
  return out;
}
