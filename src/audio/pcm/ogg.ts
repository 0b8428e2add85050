import { VaultError } from "../../errors.js";
import type { ByteReader } from "./byte-reader.js";
import { ascii } from "./mpeg-header.js";

/** Ogg pages: a strict reader (structure, CRC, one logical stream) and a writer for remuxing. */

export interface OggPage {
  /** The whole page, header included. */
  readonly bytes: Uint8Array;
  readonly flags: number;
  readonly serial: number;
  /** Lacing values, to find packet boundaries. */
  readonly lacing: Uint8Array;
  readonly body: Uint8Array;
}

export const OGG_BOS = 0x02;
export const OGG_EOS = 0x04;

const CRC_TABLE = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let r = i << 24;
  for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
  CRC_TABLE[i] = r >>> 0;
}

/** The Ogg CRC (polynomial 0x04c11db7, no reflection, zero init). */
export function oggCrc(b: Uint8Array, init = 0): number {
  let crc = init;
  for (const x of b) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ x) & 0xff]!) >>> 0;
  return crc;
}

function corrupt(msg: string): VaultError {
  return new VaultError("CORRUPT_AUDIO", msg);
}

/** Reads one page; null at a clean end of stream. Truncation or a bad CRC is CORRUPT_AUDIO. */
export async function readOggPage(r: ByteReader): Promise<OggPage | null> {
  if (await r.atEnd()) return null;
  await r.fill(27);
  const head = r.peek(27);
  if (head.length < 27) throw corrupt("Ogg page header truncated");
  if (ascii(head, 0, 4) !== "OggS" || head[4] !== 0) throw corrupt("Ogg page capture pattern lost");
  const nseg = head[26]!;
  await r.fill(27 + nseg);
  const withLacing = r.peek(27 + nseg);
  if (withLacing.length < 27 + nseg) throw corrupt("Ogg page header truncated");
  let bodyLen = 0;
  for (let i = 0; i < nseg; i++) bodyLen += withLacing[27 + i]!;
  const bytes = await r.read(27 + nseg + bodyLen);
  if (bytes.length < 27 + nseg + bodyLen) throw corrupt("Ogg page truncated");
  const page = bytes;
  const stored = (page[22]! | (page[23]! << 8) | (page[24]! << 16) | (page[25]! << 24)) >>> 0;
  // A copy: the page may be a view of the caller's buffer (Node Buffer.slice would not copy).
  const check = new Uint8Array(page.subarray(0, 27 + nseg));
  check.fill(0, 22, 26);
  if (oggCrc(page.subarray(27 + nseg), oggCrc(check)) !== stored) throw corrupt("Ogg page CRC mismatch");
  const dv = new DataView(page.buffer, page.byteOffset, page.byteLength);
  return {
    bytes: page,
    flags: page[5]!,
    serial: dv.getUint32(14, true),
    lacing: page.subarray(27, 27 + nseg),
    body: page.subarray(27 + nseg),
  };
}

/** The first packet of a page, if it ends on this page. */
export function firstPacket(p: OggPage): Uint8Array | null {
  let n = 0;
  for (const v of p.lacing) {
    n += v;
    if (v < 255) return p.body.subarray(0, n);
  }
  return null;
}

export interface OggCodecHead {
  readonly codec: "opus" | "vorbis";
  readonly channels: number;
  readonly sampleRate: number;
}

/** Identifies the codec from the first packet of a logical stream. */
export function parseOggHead(packet: Uint8Array): OggCodecHead {
  if (ascii(packet, 0, 8) === "OpusHead") {
    if (packet.length < 19 || (packet[8]! & 0xf0) !== 0) throw corrupt("OpusHead malformed");
    const channels = packet[9]!;
    const family = packet[18]!;
    if (family === 0 && channels > 2) throw corrupt("OpusHead channel mapping inconsistent");
    if (family !== 0 && packet.length < 21 + channels) throw corrupt("OpusHead malformed");
    if (family !== 0 && family !== 1) {
      throw new VaultError("UNSUPPORTED_LAYOUT", "unsupported Opus channel mapping family");
    }
    return { codec: "opus", channels, sampleRate: 48000 };
  }
  if (packet[0] === 1 && ascii(packet, 1, 6) === "vorbis") {
    if (packet.length < 30) throw corrupt("Vorbis identification header malformed");
    const dv = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
    return { codec: "vorbis", channels: packet[11]!, sampleRate: dv.getUint32(12, true) };
  }
  if (
    ascii(packet, 1, 4) === "FLAC" ||
    ascii(packet, 0, 5) === "Speex" ||
    ascii(packet, 0, 8) === "fishead\0"
  ) {
    throw new VaultError("UNSUPPORTED_FORMAT", "unsupported Ogg codec");
  }
  throw new VaultError("UNSUPPORTED_FORMAT", "unknown Ogg codec");
}

/** Builds one Ogg page holding whole packets (each under 64 KiB in practice). */
export function writeOggPage(
  packets: readonly Uint8Array[],
  flags: number,
  granule: number,
  serial: number,
  seq: number,
): Uint8Array {
  const lacing: number[] = [];
  let bodyLen = 0;
  for (const p of packets) {
    let n = p.length;
    while (n >= 255) {
      lacing.push(255);
      n -= 255;
    }
    lacing.push(n);
    bodyLen += p.length;
  }
  if (lacing.length > 255) throw new VaultError("INTERNAL", "too many packets for one Ogg page");
  const page = new Uint8Array(27 + lacing.length + bodyLen);
  const dv = new DataView(page.buffer);
  page.set([0x4f, 0x67, 0x67, 0x53, 0, flags]);
  dv.setUint32(6, granule % 2 ** 32, true);
  dv.setUint32(10, Math.floor(granule / 2 ** 32), true);
  dv.setUint32(14, serial, true);
  dv.setUint32(18, seq, true);
  page[26] = lacing.length;
  page.set(lacing, 27);
  let off = 27 + lacing.length;
  for (const p of packets) {
    page.set(p, off);
    off += p.length;
  }
  dv.setUint32(22, oggCrc(page), true);
  return page;
}

/** Samples (at 48 kHz) in one Opus packet, from its TOC byte (RFC 6716 §3.1). */
export function opusPacketSamples(p: Uint8Array): number {
  const toc = p[0];
  if (toc === undefined) return 0;
  const config = toc >> 3;
  const frame =
    config < 12
      ? [480, 960, 1920, 2880][config % 4]!
      : config < 16
        ? [480, 960][config % 2]!
        : [120, 240, 480, 960][config % 4]!;
  const code = toc & 3;
  const count = code === 0 ? 1 : code === 3 ? (p[1] ?? 0) & 0x3f : 2;
  return frame * count;
}
