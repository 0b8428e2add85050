import { VaultError } from "../../errors.js";
import { ByteReader } from "../pcm/byte-reader.js";
import { FLAC_HEAD_BYTES, parseFlacStreamInfo } from "../pcm/flac-header.js";
import { guardDuration } from "../pcm/guard.js";
import { checkInfo, resolveLimits } from "../pcm/limits.js";
import { mpegTagFrames, parseMpegHeader } from "../pcm/mpeg-header.js";
import { OGG_BOS, OGG_EOS, firstPacket, parseOggHead, readOggPage, type OggPage } from "../pcm/ogg.js";
import { SNIFF_BYTES, detectContainer } from "../pcm/sniff.js";
import type { AudioInfo, DecodeLimits, DecodedAudio, PlanarChunk } from "../pcm/types.js";
import { readWavHeader, wavChunks } from "../pcm/wav.js";
import { WebmDemuxer, webmOpusToOgg } from "../pcm/webm.js";
import { openNative, openWithFfmpeg } from "./ffmpeg.js";
import type { WorkerCodec } from "./protocol.js";
import { decodeInWorker } from "./worker-host.js";
import { openAdts, openAmr, openMp4, openWebmAac, type FramedOptions } from "./open-framed.js";
import type { Opened } from "./opened.js";
import { createCipherSpool } from "./spool.js";
import type { SpoolFactory } from "../pcm/mp4.js";

export interface DecodeOptions {
  /** Overrides for DEFAULT_DECODE_LIMITS. */
  readonly limits?: Partial<DecodeLimits>;
  /**
   * Decode containers without a native decoder (AAC/M4A, AMR, AIFF, ...) by piping them through
   * `ffmpeg` from PATH. Off by default; never required.
   */
  readonly ffmpegFallback?: boolean;
  /** Path of the ffmpeg binary for the fallback (default "ffmpeg"). */
  readonly ffmpegPath?: string;
  /** Decoder worker entry; defaults to the compiled worker.js next to this module. */
  readonly workerUrl?: URL;
  /**
   * Which audio track of a multi-track file (MP4/MOV) to decode, 0-based among its audio
   * tracks; default the first. Video and other tracks are never decoded.
   */
  readonly audioTrack?: number;
  /** Where media read before an MP4's index is held (default: a ciphertext spool in the OS temp dir). */
  readonly spool?: SpoolFactory;
  /** Directory for the default ciphertext spool. */
  readonly spoolDir?: string;
  /**
   * Native fast path: decode with `ffmpeg` from PATH instead of the WebAssembly decoders. Our own
   * demuxers still parse and check every container and hand ffmpeg only the codec stream (FLAC,
   * MP3, Ogg, ADTS, AMR) through a pipe. Off by default: ffmpeg's decoders then run on untrusted
   * input outside the sandbox. Both paths give the same derivations within the tolerances of
   * docs/audio-input.md ("Native fast path").
   */
  readonly native?: boolean;
}

/** ffmpeg demuxer for each codec stream our demuxers hand over. */
const NATIVE_FORMAT: Readonly<Record<WorkerCodec, string>> = {
  flac: "flac",
  mp3: "mp3",
  opus: "ogg",
  vorbis: "ogg",
  aac: "aac",
  amr_nb: "amr",
  amr_wb: "amr",
};

/** Encoded bytes per worker request: small enough to bound one request's output (see docs). */
const PIECE_BYTES = { flac: 2048, mp3: 16 * 1024 } as const;
const SUPPORTED = new Set(["wav", "flac", "ogg", "webm", "id3", "mp3", "amr"]);
const MAX_ID3_TAGS = 4;

async function* pieces(r: ByteReader, size: number): AsyncGenerator<Uint8Array, void, undefined> {
  for (;;) {
    const b = await r.read(size);
    if (b.length === 0) return;
    yield b;
  }
}

/**
 * MP3 pieces, walking the frame chain as they pass: a stream that ends inside a frame (or inside
 * a frame header) was cut, and the decoder would silently drop the partial frame. The walk stops
 * judging at the first bytes that are not a frame header (ID3v1/APE/Lyrics tags, junk the
 * decoder resyncs over, free-format frames), so those never count as truncation.
 */
async function* mp3Pieces(r: ByteReader, size: number): AsyncGenerator<Uint8Array, void, undefined> {
  let next = 0; // offset of the next expected frame header, from the first frame
  let start = 0; // offset of the current piece
  let inSync = true;
  let carry = new Uint8Array(0); // the previous piece's last bytes (a header may straddle)
  const head = new Uint8Array(4);
  for (;;) {
    const b = await r.read(size);
    if (b.length === 0) break;
    const end = start + b.length;
    const carryStart = start - carry.length;
    while (inSync && next + 4 <= end) {
      for (let k = 0; k < 4; k++) {
        const at = next + k;
        head[k] = at >= start ? b[at - start]! : carry[at - carryStart]!;
      }
      const h = parseMpegHeader(head);
      if (h === null) inSync = false;
      else next += h.frameBytes;
    }
    carry = b.slice(Math.max(0, b.length - 3));
    start = end;
    yield b;
  }
  if (inSync && next !== start) throw new VaultError("CORRUPT_AUDIO", "MP3 stream ends inside a frame");
}

/** An ID3v1 tag: 128 bytes at the very end, starting with "TAG". */
const ID3V1_BYTES = 128;

/**
 * Pieces without a trailing ID3v1 tag, which some taggers append to FLAC files too: the FLAC
 * decoder would read it as a damaged last frame. The last 128 bytes are held back until the end.
 */
async function* withoutId3v1(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array, void, undefined> {
  let tail = new Uint8Array(0);
  for await (const b of input) {
    const all = new Uint8Array(tail.length + b.length);
    all.set(tail);
    all.set(b, tail.length);
    const keep = Math.max(0, all.length - ID3V1_BYTES);
    if (keep > 0) yield all.subarray(0, keep);
    tail = all.slice(keep);
  }
  const isTag = tail.length === ID3V1_BYTES && tail[0] === 0x54 && tail[1] === 0x41 && tail[2] === 0x47;
  if (!isTag && tail.length > 0) yield tail;
}

async function* oggPieces(r: ByteReader, first: OggPage): AsyncGenerator<Uint8Array, void, undefined> {
  yield first.bytes;
  let eos = (first.flags & OGG_EOS) !== 0;
  for (;;) {
    const p = await readOggPage(r);
    if (!p) break;
    if (eos) throw new VaultError("UNSUPPORTED_FORMAT", "chained Ogg streams are not supported");
    if (p.serial !== first.serial)
      throw new VaultError("UNSUPPORTED_FORMAT", "multiplexed Ogg is not supported");
    eos = (p.flags & OGG_EOS) !== 0;
    yield p.bytes;
  }
  if (!eos) throw new VaultError("CORRUPT_AUDIO", "Ogg stream ends without its last page");
}

function endedEarly(): VaultError {
  return new VaultError("CORRUPT_AUDIO", "audio ends before its declared duration");
}

async function open(r: ByteReader, limits: DecodeLimits, opts: DecodeOptions): Promise<Opened> {
  const native = opts.native === true;
  const worker = async (
    codec: WorkerCodec,
    info: AudioInfo,
    input: AsyncIterable<Uint8Array>,
  ): Promise<Opened> =>
    native
      ? openNative(input, info, limits, opts.ffmpegPath, NATIVE_FORMAT[codec])
      : { info, chunks: decodeInWorker(input, { codec, info, limits, workerUrl: opts.workerUrl }) };
  const framed: FramedOptions = {
    limits,
    workerUrl: opts.workerUrl,
    spool: opts.spool ?? (() => createCipherSpool({ dir: opts.spoolDir })),
    audioTrack: opts.audioTrack,
    ...(native ? { native: { ffmpegPath: opts.ffmpegPath } } : {}),
  };
  for (let tags = 0; ; tags++) {
    const atEnd = !(await r.fill(SNIFF_BYTES));
    const head = r.peek(SNIFF_BYTES);
    if (head.length === 0) {
      throw new VaultError("CORRUPT_AUDIO", tags ? "nothing follows the ID3 tag" : "empty input");
    }
    const s = detectContainer(head, atEnd);
    switch (s.kind) {
      case "id3":
        if (tags >= MAX_ID3_TAGS) throw new VaultError("CORRUPT_AUDIO", "too many ID3 tags");
        if ((await r.skip(s.tagBytes)) < s.tagBytes)
          throw new VaultError("CORRUPT_AUDIO", "ID3 tag truncated");
        continue;
      case "wav": {
        const h = await readWavHeader(r);
        return {
          info: h.info,
          chunks: wavChunks(r, h),
          ...(h.dataBytes === null ? {} : { declaredEnd: r.position + h.dataBytes }),
        };
      }
      case "flac": {
        const si = parseFlacStreamInfo(head.subarray(0, FLAC_HEAD_BYTES));
        const info: AudioInfo = {
          container: "flac",
          codec: "flac",
          sampleRate: si.sampleRate,
          channels: si.channels,
          bitsPerSample: si.bitsPerSample,
          ...(si.totalSamples > 0 ? { declaredDurationSec: si.totalSamples / si.sampleRate } : {}),
        };
        return {
          ...(await worker("flac", info, withoutId3v1(pieces(r, PIECE_BYTES.flac)))),
          onEnd: (frames) => {
            if (frames < si.totalSamples) throw endedEarly();
          },
        };
      }
      case "mp3": {
        const h = parseMpegHeader(head)!;
        const tagFrames = mpegTagFrames(head, 0, h);
        const info: AudioInfo = {
          container: "mp3",
          codec: "mp3",
          sampleRate: h.sampleRate,
          channels: h.channels,
          ...(tagFrames ? { declaredDurationSec: (tagFrames * h.samplesPerFrame) / h.sampleRate } : {}),
        };
        return {
          ...(await worker("mp3", info, mp3Pieces(r, PIECE_BYTES.mp3))),
          onEnd: (frames) => {
            // Gapless decoding drops the encoder delay and padding: under 3 frames in practice.
            if (tagFrames && frames < (tagFrames - 3) * h.samplesPerFrame) throw endedEarly();
          },
        };
      }
      case "ogg": {
        const first = await readOggPage(r);
        const packet = first && (first.flags & OGG_BOS) !== 0 ? firstPacket(first) : null;
        if (!first || !packet) throw new VaultError("CORRUPT_AUDIO", "Ogg stream has no header packet");
        const oh = parseOggHead(packet);
        const info: AudioInfo = {
          container: "ogg",
          codec: oh.codec,
          sampleRate: oh.sampleRate,
          channels: oh.channels,
        };
        return worker(oh.codec, info, oggPieces(r, first));
      }
      case "webm": {
        const demux = new WebmDemuxer(r, opts.audioTrack);
        const head = await demux.readHeader();
        const declared = head.info.declaredDurationSec;
        // WebM durations are rounded to the timecode scale and blocks: allow a quarter second.
        const onEnd = (frames: number, rate: number): void => {
          if (declared !== undefined && frames / rate < declared - 0.25) throw endedEarly();
        };
        if (head.codec === "aac") {
          const opened = await openWebmAac(head.info, head.aac, demux.packets(), framed);
          return {
            ...opened,
            onEnd: (frames) => {
              onEnd(frames, opened.info.sampleRate);
            },
          };
        }
        return {
          ...(await worker("opus", head.info, webmOpusToOgg(head, demux.packets()))),
          onEnd: (frames) => {
            onEnd(frames, 48000);
          },
        };
      }
      case "mp4":
        return openMp4(r, framed);
      case "adts":
        return openAdts(r, framed);
      case "amr":
        return openAmr(r, s.amr, framed);
      case "truncated":
        if (SUPPORTED.has(s.format)) throw new VaultError("CORRUPT_AUDIO", "audio header truncated");
        throw new VaultError("UNSUPPORTED_FORMAT", "unsupported audio format");
      case "unsupported":
      case "unknown":
        if (opts.ffmpegFallback === true) return openWithFfmpeg(r, limits, opts.ffmpegPath);
        throw new VaultError(
          "UNSUPPORTED_FORMAT",
          s.kind === "unsupported" ? `unsupported audio format (${s.format})` : "unrecognised audio format",
        );
    }
  }
}

/**
 * Detects the container from magic bytes, parses its header, checks the header against the
 * limits (UNSUPPORTED_LAYOUT, TOO_LONG on a declared duration) and returns the header facts with
 * a lazy stream of planar chunks at the source rate. Compressed formats decode in a worker under
 * a time budget; WAV is parsed in-thread. Iterating the chunks may throw CORRUPT_AUDIO,
 * TOO_LARGE, TOO_LONG, TOO_SHORT or DECODE_TIMEOUT; a thrown error means the whole input is
 * refused, even if some chunks were already yielded. Stopping early releases everything.
 */
export async function decodeAudio(
  source: AsyncIterable<Uint8Array>,
  opts: DecodeOptions = {},
): Promise<DecodedAudio> {
  const limits = resolveLimits(opts.limits);
  const r = new ByteReader(source, limits.maxInputBytes);
  let opened: Opened | undefined;
  try {
    opened = await open(r, limits, opts);
    checkInfo(opened.info, limits);
    if (opened.declaredEnd !== undefined && opened.declaredEnd > limits.maxInputBytes) {
      throw new VaultError("TOO_LARGE", "declared data size exceeds the size limit", {
        details: { maxBytes: limits.maxInputBytes },
      });
    }
  } catch (e) {
    opened?.abort?.();
    await r.close();
    throw e;
  }
  const { info, chunks, onEnd, abort } = opened;
  let started = false;
  async function* run(): AsyncGenerator<PlanarChunk, void, undefined> {
    started = true;
    try {
      yield* guardDuration(chunks, info, limits, onEnd ? { onEnd } : {});
    } finally {
      await r.close();
    }
  }
  const gen = run();
  // return() on a generator that never started skips its finally: release what open() started
  // (a worker, an ffmpeg child, the input) here instead.
  const release = async (): Promise<IteratorResult<PlanarChunk, void>> => {
    if (!started) {
      started = true;
      abort?.();
      await r.close();
    }
    return gen.return(undefined);
  };
  const iterator: AsyncGenerator<PlanarChunk, void, undefined> = {
    next: () => gen.next(),
    return: release,
    throw: (e: unknown) => gen.throw(e),
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return { info, chunks: iterator };
}
