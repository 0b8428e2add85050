import { VaultError } from "../../errors.js";

/**
 * AAC framing shared by the MP4, Matroska and ADTS paths: the AudioSpecificConfig (ISO/IEC
 * 14496-3 §1.6.2.1) and the ADTS frame header (§1.A.2.2.1). The decoder takes raw access units
 * plus one AudioSpecificConfig, so ADTS headers are checked and stripped here.
 */

/** §1.6.3.4, samplingFrequencyIndex 0..12. */
const RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** Object types the decoder (FAAD2) handles: Main, LC, LTP, SBR (HE-AAC v1), PS (HE-AAC v2). */
const DECODABLE = new Set([1, 2, 4, 5, 29]);

export interface AacConfig {
  /** The AudioSpecificConfig bytes, as the decoder takes them. */
  readonly asc: Uint8Array;
  readonly objectType: number;
  /** The core (AAC) sampling rate; with SBR the decoder outputs up to twice this. */
  readonly coreRate: number;
  /** channelConfiguration (1..7), or 0 when a program config element defines them. */
  readonly channelConfig: number;
}

function corrupt(msg: string): VaultError {
  return new VaultError("CORRUPT_AUDIO", msg);
}

class Bits {
  #pos = 0;
  constructor(readonly b: Uint8Array) {}
  read(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.b[this.#pos >> 3];
      if (byte === undefined) throw corrupt("AAC AudioSpecificConfig is truncated");
      v = v * 2 + ((byte >> (7 - (this.#pos & 7))) & 1);
      this.#pos++;
    }
    return v;
  }
}

function objectType(r: Bits): number {
  const t = r.read(5);
  return t === 31 ? 32 + r.read(6) : t;
}

function samplingRate(r: Bits): number {
  const i = r.read(4);
  if (i === 15) return r.read(24);
  const rate = RATES[i];
  if (rate === undefined) throw corrupt("AAC AudioSpecificConfig has a reserved sampling index");
  return rate;
}

/** Checks an AudioSpecificConfig far enough to refuse what no AAC decoder could use. */
export function parseAudioSpecificConfig(asc: Uint8Array): AacConfig {
  if (asc.length < 2 || asc.length > 64) throw corrupt("AAC AudioSpecificConfig has an invalid length");
  const r = new Bits(asc);
  let type = objectType(r);
  const coreRate = samplingRate(r);
  const channelConfig = r.read(4);
  // §1.6.2.1: explicit hierarchical signalling of SBR/PS wraps the core object type.
  if (type === 5 || type === 29) {
    samplingRate(r);
    const core = objectType(r);
    if (core !== 2) throw corrupt("AAC SBR/PS signalling wraps a core that is not AAC-LC");
    type = type === 29 ? 29 : 5;
  }
  if (!DECODABLE.has(type)) {
    throw new VaultError("UNSUPPORTED_FORMAT", `unsupported AAC object type ${type}`);
  }
  if (channelConfig > 7) throw corrupt("AAC AudioSpecificConfig has a reserved channel configuration");
  if (coreRate < 7350 || coreRate > 96000) throw corrupt("AAC AudioSpecificConfig has an invalid rate");
  return { asc: new Uint8Array(asc), objectType: type, coreRate, channelConfig };
}

export const ADTS_HEADER_MIN = 7;

export interface AdtsFrame {
  /** Header bytes (7, or 9 with CRC) before the raw data block. */
  readonly headerBytes: number;
  /** Whole frame length including the header. */
  readonly frameBytes: number;
  /** AudioSpecificConfig equivalent of this header: profile, rate index, channels. */
  readonly asc: Uint8Array;
}

/** True if b[off..] starts an ADTS header (syncword 0xFFF and layer 0). */
export function isAdtsSync(b: Uint8Array, off = 0): boolean {
  return b.length >= off + 2 && b[off] === 0xff && (b[off + 1]! & 0xf6) === 0xf0;
}

/** Parses an ADTS header (§1.A.2.2.1); null if b holds fewer than 7 bytes. */
export function parseAdtsHeader(b: Uint8Array): AdtsFrame | null {
  if (b.length < ADTS_HEADER_MIN) return null;
  if (!isAdtsSync(b)) throw corrupt("ADTS frame does not start with a sync word");
  const protectionAbsent = b[1]! & 1;
  const profile = (b[2]! >> 6) & 3;
  const sfi = (b[2]! >> 2) & 15;
  const channels = ((b[2]! & 1) << 2) | (b[3]! >> 6);
  const frameBytes = ((b[3]! & 3) << 11) | (b[4]! << 3) | (b[5]! >> 5);
  const rawBlocks = b[6]! & 3;
  const headerBytes = protectionAbsent ? 7 : 9;
  if (sfi > 12) throw corrupt("ADTS header has a reserved sampling index");
  if (profile === 3) throw corrupt("ADTS header has a reserved profile");
  if (frameBytes <= headerBytes) throw corrupt("ADTS frame length is shorter than its header");
  if (rawBlocks !== 0) {
    throw new VaultError("UNSUPPORTED_FORMAT", "ADTS frames with several raw data blocks are not supported");
  }
  const objectType = profile + 1;
  const asc = new Uint8Array([(objectType << 3) | (sfi >> 1), ((sfi & 1) << 7) | (channels << 3)]);
  return { headerBytes, frameBytes, asc };
}

/**
 * An ADTS header (§1.A.2.2.1, no CRC) for one raw access unit of `cfg`, so a stream demuxed from
 * MP4 or Matroska can be handed to a decoder that reads ADTS. Null when ADTS cannot express the
 * configuration (a program config element, an explicit 24-bit rate, a frame over 8 KiB); HE-AAC
 * is written as its AAC-LC core, which decoders extend by implicit SBR/PS signalling.
 */
export function adtsHeader(cfg: AacConfig, auBytes: number): Uint8Array | null {
  const sfi = RATES.indexOf(cfg.coreRate);
  const objectType = cfg.objectType === 5 || cfg.objectType === 29 ? 2 : cfg.objectType;
  const len = auBytes + 7;
  if (sfi < 0 || cfg.channelConfig === 0 || objectType > 4 || len > 0x1fff) return null;
  const profile = objectType - 1;
  const ch = cfg.channelConfig;
  return new Uint8Array([
    0xff,
    0xf1,
    (profile << 6) | (sfi << 2) | (ch >> 2),
    ((ch & 3) << 6) | (len >> 11),
    (len >> 3) & 0xff,
    ((len & 7) << 5) | 0x1f,
    0xfc,
  ]);
}
