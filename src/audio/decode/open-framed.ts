/**
 * Openers for the frame-based formats whose codecs take whole access units: MP4/M4A/MOV/3GP
 * (AAC, AMR), raw ADTS AAC and raw AMR. Each demuxes in TypeScript under strict checks, packs
 * frames into bounded pieces and hands them to the sandboxed decoder worker.
 */
import { VaultError } from "../../errors.js";
import {
  ADTS_HEADER_MIN,
  adtsHeader,
  parseAdtsHeader,
  parseAudioSpecificConfig,
  type AacConfig,
} from "../pcm/aac.js";
import { AMR_MAGIC, AMR_RATE, amrFrameBytes, countAmrFrames, type AmrKind } from "../pcm/amr.js";
import type { ByteReader } from "../pcm/byte-reader.js";
import { Mp4Demuxer, type SpoolFactory } from "../pcm/mp4.js";
import type { GaplessWindow } from "../pcm/mp4-gapless.js";
import type { AudioInfo, DecodeLimits, PlanarChunk } from "../pcm/types.js";
import { openNative } from "./ffmpeg.js";
import { openWorkerDecode, type WorkerPiece } from "./worker-host.js";
import type { Opened } from "./opened.js";

/** Encoded bytes per worker request (a few hundred milliseconds of audio). */
const PIECE_BYTES = 16 * 1024;

export interface FramedOptions {
  readonly limits: DecodeLimits;
  readonly workerUrl?: URL | undefined;
  readonly spool: SpoolFactory;
  readonly audioTrack?: number | undefined;
  /** Decode with ffmpeg from PATH instead of the WebAssembly decoders (DecodeOptions.native). */
  readonly native?: { readonly ffmpegPath?: string | undefined } | undefined;
}

/** Packs access units into pieces of about PIECE_BYTES, keeping each unit's length. */
async function* packFrames(units: AsyncIterable<Uint8Array>): AsyncGenerator<WorkerPiece, void, undefined> {
  let parts: Uint8Array[] = [];
  let bytes = 0;
  const take = (): WorkerPiece => {
    const out = new Uint8Array(bytes);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    const piece = { bytes: out, frames: parts.map((p) => p.length) };
    parts = [];
    bytes = 0;
    return piece;
  };
  for await (const u of units) {
    if (u.length === 0) continue;
    parts.push(u);
    bytes += u.length;
    if (bytes >= PIECE_BYTES) yield take();
  }
  if (parts.length > 0) yield take();
}

/** Concatenates AMR frame runs into pieces of about PIECE_BYTES, checking every frame type. */
async function* packAmr(
  kind: AmrKind,
  runs: AsyncIterable<Uint8Array>,
): AsyncGenerator<WorkerPiece, void, undefined> {
  for await (const p of packFrames(runs)) {
    const bytes = p instanceof Uint8Array ? p : p.bytes;
    countAmrFrames(kind, bytes);
    yield bytes;
  }
}

async function started(
  codec: "aac" | AmrKind,
  info: AudioInfo,
  pieces: AsyncIterable<WorkerPiece>,
  o: FramedOptions,
  config?: Uint8Array,
  gapless?: GaplessWindow,
): Promise<Opened> {
  let opened: Opened;
  if (o.native) {
    const stream =
      codec === "aac" ? adtsStream(pieces, parseAudioSpecificConfig(config!)) : amrStream(codec, pieces);
    opened = await openNative(stream, info, o.limits, o.native.ffmpegPath, codec === "aac" ? "aac" : "amr");
  } else {
    const d = await openWorkerDecode(pieces, {
      codec,
      info,
      limits: o.limits,
      workerUrl: o.workerUrl,
      config,
    });
    opened = {
      info: { ...info, sampleRate: d.sampleRate, channels: d.channels },
      chunks: d.chunks,
      abort: () => void d.release(),
    };
  }
  if (codec !== "aac" || !gapless) return opened;
  const rate = opened.info.sampleRate;
  const sbr = rate > info.sampleRate * 1.5; // the decoder doubled the core rate
  const skip = Math.max(
    0,
    Math.round(gapless.startSec * rate) - aacOutputOffset(o.native !== undefined, sbr),
  );
  const keep = gapless.durationSec === undefined ? undefined : Math.round(gapless.durationSec * rate);
  return { ...opened, chunks: presentationWindow(opened.chunks, skip, keep) };
}

/**
 * Where an AAC decoder's first output sample sits in the media, in output samples: FAAD2 withholds
 * its first frame (1,024 core samples, 2,048 output samples with SBR); ffmpeg outputs from the
 * first; SBR's QMF filter banks delay both by 962 output samples. Measured on ffmpeg's AAC-LC and
 * fdkaac's HE-AAC files against their sources (test/audio/decode/mp4.test.ts).
 */
function aacOutputOffset(native: boolean, sbr: boolean): number {
  const withheld = native ? 0 : sbr ? 2048 : 1024;
  return withheld - (sbr ? 962 : 0);
}

/** Drops `skip` samples, then passes at most `keep` (all when undefined): priming and padding. */
async function* presentationWindow(
  chunks: AsyncIterable<PlanarChunk>,
  skip: number,
  keep: number | undefined,
): AsyncGenerator<PlanarChunk, void, undefined> {
  let left = keep ?? Infinity;
  for await (const c of chunks) {
    const n = c[0]?.length ?? 0;
    const a = Math.min(n, skip);
    skip -= a;
    const b = Math.min(n, a + left);
    left -= b - a;
    if (b > a) yield a === 0 && b === n ? c : c.map((ch) => ch.subarray(a, b));
    // the chunks past the window are still read: the decoder checks every frame
  }
}

/** Access units as an ADTS stream (a header before each), for ffmpeg's `aac` demuxer. */
async function* adtsStream(
  pieces: AsyncIterable<WorkerPiece>,
  cfg: AacConfig,
): AsyncGenerator<Uint8Array, void, undefined> {
  for await (const p of pieces) {
    if (p instanceof Uint8Array) throw new VaultError("INTERNAL", "AAC pieces carry their frame lengths");
    let off = 0;
    for (const len of p.frames) {
      const h = adtsHeader(cfg, len);
      if (!h)
        throw new VaultError(
          "UNSUPPORTED_FORMAT",
          "this AAC configuration cannot be passed to the native decoder",
        );
      const out = new Uint8Array(h.length + len);
      out.set(h);
      out.set(p.bytes.subarray(off, off + len), h.length);
      off += len;
      yield out;
    }
  }
}

/** AMR frames behind the storage-format magic, for ffmpeg's `amr` demuxer. */
async function* amrStream(
  kind: AmrKind,
  pieces: AsyncIterable<WorkerPiece>,
): AsyncGenerator<Uint8Array, void, undefined> {
  yield AMR_MAGIC[kind];
  for await (const p of pieces) yield p instanceof Uint8Array ? p : p.bytes;
}

export async function openMp4(r: ByteReader, o: FramedOptions): Promise<Opened> {
  const demux = new Mp4Demuxer(r, {
    spool: o.spool,
    ...(o.audioTrack !== undefined ? { audioTrack: o.audioTrack } : {}),
  });
  const head = await demux.readHeader();
  const t = head.track;
  const declared = t.declaredDurationSec === undefined ? {} : { declaredDurationSec: t.declaredDurationSec };
  const container = head.brand;
  if (t.codec.codec === "aac") {
    const info: AudioInfo = {
      container,
      codec: "aac",
      sampleRate: t.codec.aac.coreRate,
      channels: t.channels,
      ...declared,
    };
    return started("aac", info, packFrames(demux.samples()), o, t.codec.aac.asc, t.gapless);
  }
  const kind = t.codec.codec;
  const info: AudioInfo = { container, codec: kind, sampleRate: AMR_RATE[kind], channels: 1, ...declared };
  return started(kind, info, packAmr(kind, demux.samples()), o);
}

/** AAC in Matroska/WebM: the demuxer's frames, the track's CodecPrivate as configuration. */
export async function openWebmAac(
  info: AudioInfo,
  aac: AacConfig,
  packets: AsyncIterable<{ readonly frame: Uint8Array }>,
  o: FramedOptions,
): Promise<Opened> {
  async function* frames(): AsyncGenerator<Uint8Array, void, undefined> {
    for await (const p of packets) yield p.frame;
  }
  return started("aac", info, packFrames(frames()), o, aac.asc);
}

/** ADTS frames with their headers (and CRC) stripped; every header must match the first. */
async function* adtsUnits(r: ByteReader, first: Uint8Array): AsyncGenerator<Uint8Array, void, undefined> {
  const same = (a: Uint8Array): boolean => a[0] === first[0] && a[1] === first[1];
  for (;;) {
    if (!(await r.fill(ADTS_HEADER_MIN))) {
      if (r.buffered > 0) throw new VaultError("CORRUPT_AUDIO", "ADTS stream ends inside a frame header");
      return;
    }
    const head = r.peek(ADTS_HEADER_MIN);
    // An ID3v1 tag may close the stream.
    if (
      head[0] === 0x54 &&
      head[1] === 0x41 &&
      head[2] === 0x47 &&
      !(await r.fill(129)) &&
      r.buffered === 128
    )
      return;
    const h = parseAdtsHeader(head)!;
    if (!same(h.asc)) throw new VaultError("CORRUPT_AUDIO", "ADTS stream changes its configuration");
    const frame = await r.read(h.frameBytes);
    if (frame.length < h.frameBytes) throw new VaultError("CORRUPT_AUDIO", "ADTS stream ends inside a frame");
    yield frame.subarray(h.headerBytes);
  }
}

export async function openAdts(r: ByteReader, o: FramedOptions): Promise<Opened> {
  await r.fill(ADTS_HEADER_MIN);
  const h = parseAdtsHeader(r.peek(ADTS_HEADER_MIN));
  if (!h) throw new VaultError("CORRUPT_AUDIO", "ADTS header truncated");
  const cfg = parseAudioSpecificConfig(h.asc);
  const info: AudioInfo = {
    container: "adts",
    codec: "aac",
    sampleRate: cfg.coreRate,
    channels: Math.max(1, cfg.channelConfig),
  };
  return started("aac", info, packFrames(adtsUnits(r, h.asc)), o, cfg.asc);
}

async function* readerChunks(r: ByteReader): AsyncGenerator<Uint8Array, void, undefined> {
  for (;;) {
    const b = await r.readSome(PIECE_BYTES);
    if (!b) return;
    yield b;
  }
}

/** Re-cuts arbitrary chunks into whole AMR frames (so a frame never straddles two requests). */
async function* wholeAmrFrames(
  kind: AmrKind,
  chunks: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array, void, undefined> {
  let carry = new Uint8Array(0);
  for await (const c of chunks) {
    let b = c;
    if (carry.length > 0) {
      b = new Uint8Array(carry.length + c.length);
      b.set(carry);
      b.set(c, carry.length);
    }
    let off = 0;
    for (;;) {
      if (off >= b.length) break;
      const n = amrFrameBytes(kind, b[off]!);
      if (off + n > b.length) break;
      off += n;
    }
    if (off > 0) yield b.subarray(0, off);
    carry = b.slice(off);
  }
  if (carry.length > 0) throw new VaultError("CORRUPT_AUDIO", "AMR stream ends inside a frame");
}

/** Raw AMR: the magic line, then storage-format frames (RFC 4867 §5.1), each type checked. */
export async function openAmr(r: ByteReader, kind: AmrKind, o: FramedOptions): Promise<Opened> {
  await r.skip(AMR_MAGIC[kind].length);
  const info: AudioInfo = { container: "amr", codec: kind, sampleRate: AMR_RATE[kind], channels: 1 };
  // wholeAmrFrames has already checked every frame type: pack without counting them again
  return started(kind, info, packFrames(wholeAmrFrames(kind, readerChunks(r))), o);
}
