import { FLACDecoder } from "@wasm-audio-decoders/flac";
import { OggVorbisDecoder } from "@wasm-audio-decoders/ogg-vorbis";
import { MPEGDecoder } from "mpg123-decoder";
import { OggOpusDecoder } from "ogg-opus-decoder";
import type { WorkerCodec } from "./protocol.js";

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
  decode(bytes: Uint8Array): Promise<DecodedBlock>;
  flush(): Promise<DecodedBlock>;
  free(): void;
}

const EMPTY: DecodedBlock = { channelData: [], samplesDecoded: 0, sampleRate: 0, errors: [] };

export function createCodec(codec: WorkerCodec): CodecAdapter {
  switch (codec) {
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
