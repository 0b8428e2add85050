import { FLACDecoder } from "@wasm-audio-decoders/flac";
import { OggVorbisDecoder } from "@wasm-audio-decoders/ogg-vorbis";
import { MPEGDecoder } from "mpg123-decoder";
import { OggOpusDecoder } from "ogg-opus-decoder";
import { AMR_MAGIC } from "../pcm/amr.js";
import type { InitMessage, WorkerCodec } from "./protocol.js";

/** What every WASM decoder returns, typed here once. */
export interface DecodedBlock {
  readonly channelData: Float32Array[];
  readonly samplesDecoded: number;
  readonly sampleRate: number;
  readonly errors: readonly { readonly message: string }[];
}

/** A chunked decoder: decode pieces in order, then flush once. */
export interface CodecAdapter {
  readonly ready: Promise<void>;
  /** What the decoder yields, once ready (only AAC may differ from the container's header). */
  format?(): { readonly sampleRate: number; readonly channels: number };
  /** `frames` splits `bytes` into access units for codecs fed whole frames. */
  decode(bytes: Uint8Array, frames?: readonly number[]): Promise<DecodedBlock>;
  flush(): Promise<DecodedBlock>;
  free(): void;
}

const EMPTY: DecodedBlock = { channelData: [], samplesDecoded: 0, sampleRate: 0, errors: [] };

/** What @audio/decode-aac and @audio/decode-amr return; `errors` counts failed frames (AAC). */
interface AudioData {
  readonly channelData: Float32Array[];
  readonly sampleRate: number;
  readonly errors?: number;
}
interface FrameDecoder {
  decode(data: Uint8Array | Uint8Array[]): AudioData;
  free(): void;
}

function block(d: AudioData, errors: number): DecodedBlock {
  const n = d.channelData[0]?.length ?? 0;
  const list = Array.from({ length: errors }, () => ({ message: "damaged frame" }));
  return { channelData: d.channelData, samplesDecoded: n, sampleRate: d.sampleRate, errors: list };
}

/**
 * AAC (LC, HE-AAC v1/v2) through FAAD2 compiled to WebAssembly (@audio/decode-aac, GPL-2.0,
 * loaded at run time and never bundled). Frames go in one at a time: the package's batch call
 * returns an empty result for a batch in which every frame failed, which would hide damage.
 * FAAD2 withholds its first frame (decoder delay), so only that one may yield nothing.
 */
function aacCodec(asc: Uint8Array): CodecAdapter {
  let dec: (FrameDecoder & { sr?: unknown; ch?: unknown }) | null = null;
  let calls = 0;
  const ready = (async () => {
    const { decoder } = (await import("@audio/decode-aac")) as unknown as {
      decoder: (o: { asc: Uint8Array }) => Promise<FrameDecoder & { sr?: unknown; ch?: unknown }>;
    };
    try {
      dec = await decoder({ asc });
    } catch (e) {
      throw new CodecFailure("AAC decoder refused the AudioSpecificConfig", e);
    }
  })();
  const parts: Float32Array[][] = [];
  return {
    ready,
    format: () => {
      const sr = dec?.sr;
      const ch = dec?.ch;
      if (typeof sr !== "number" || typeof ch !== "number" || !(sr > 0) || !(ch > 0)) {
        throw new CodecFailure("AAC decoder reported no output format");
      }
      return { sampleRate: sr, channels: ch };
    },
    decode: (bytes, frames) => {
      if (!dec) return Promise.resolve(EMPTY);
      let off = 0;
      let errors = 0;
      let rate = 0;
      parts.length = 0;
      for (const len of frames ?? [bytes.length]) {
        const r = dec.decode(bytes.subarray(off, off + len));
        off += len;
        calls++;
        if ((r.errors ?? 0) > 0 || (r.channelData.length === 0 && calls > 1)) errors++;
        if (r.channelData.length > 0) {
          parts.push(r.channelData);
          rate = r.sampleRate;
        }
      }
      return Promise.resolve(block({ channelData: concatPlanar(parts), sampleRate: rate }, errors));
    },
    flush: () => Promise.resolve(EMPTY),
    free: () => {
      dec?.free();
      dec = null;
    },
  };
}

/** AMR-NB/WB through opencore-amr compiled to WebAssembly (@audio/decode-amr, Apache-2.0). */
function amrCodec(kind: "amr_nb" | "amr_wb"): CodecAdapter {
  let dec: FrameDecoder | null = null;
  const ready = (async () => {
    const { decoder } = (await import("@audio/decode-amr")) as unknown as {
      decoder: () => Promise<FrameDecoder>;
    };
    dec = await decoder();
    // The package learns NB or WB from the storage-format magic (RFC 4867 §5).
    dec.decode(AMR_MAGIC[kind]);
  })();
  return {
    ready,
    decode: (bytes) => Promise.resolve(dec ? block(dec.decode(bytes), 0) : EMPTY),
    flush: () => Promise.resolve(EMPTY),
    free: () => {
      dec?.free();
      dec = null;
    },
  };
}

function concatPlanar(parts: readonly Float32Array[][]): Float32Array[] {
  if (parts.length === 1) return parts[0]!;
  if (parts.length === 0) return [];
  const channels = parts[0]!.length;
  if (parts.some((p) => p.length !== channels)) throw new CodecFailure("channel count changed mid-stream");
  const total = parts.reduce((n, p) => n + p[0]!.length, 0);
  return Array.from({ length: channels }, (_, c) => {
    const out = new Float32Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p[c]!, at);
      at += p[c]!.length;
    }
    return out;
  });
}

/** A decoder failure the worker reports as CORRUPT_AUDIO. */
export class CodecFailure extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

export function createCodec(codec: WorkerCodec, init?: Pick<InitMessage, "config">): CodecAdapter {
  switch (codec) {
    case "aac":
      if (!init?.config) throw new CodecFailure("AAC needs its AudioSpecificConfig");
      return aacCodec(init.config);
    case "amr_nb":
    case "amr_wb":
      return amrCodec(codec);
    case "flac": {
      const d = new FLACDecoder();
      return {
        ready: d.ready,
        decode: (b) => d.decode(b),
        flush: () => d.flush(),
        free: () => {
          d.free();
        },
      };
    }
    case "mp3": {
      // Gapless: honours the LAME/Xing encoder delay and padding.
      const d = new MPEGDecoder({ enableGapless: true });
      return {
        ready: d.ready,
        decode: (b) => Promise.resolve(d.decode(b)),
        flush: () => Promise.resolve(EMPTY),
        free: () => {
          d.free();
        },
      };
    }
    case "opus": {
      const d = new OggOpusDecoder();
      return {
        ready: d.ready,
        decode: (b) => Promise.resolve(d.decode(b)),
        flush: () => d.flush(),
        free: () => {
          d.free();
        },
      };
    }
    case "vorbis": {
      const d = new OggVorbisDecoder();
      return {
        ready: d.ready,
        decode: (b) => d.decode(b),
        flush: () => d.flush(),
        free: () => {
          d.free();
        },
      };
    }
  }
}
