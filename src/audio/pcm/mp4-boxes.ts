import { VaultError } from "../../errors.js";

/**
 * ISO base media file format boxes (ISO/IEC 14496-12 §4.2): a 32-bit size and a four-character
 * type, a 64-bit size when the 32-bit one is 1, "to the end of the file" when it is 0 (allowed
 * for the last top-level box only). Every size is checked against its parent before use, so a
 * box that claims 2^64 bytes costs nothing.
 */

export function corrupt(msg: string): VaultError {
  return new VaultError("CORRUPT_AUDIO", msg);
}

export interface BoxHeader {
  readonly type: string;
  /** Bytes of the header itself (8, 16, or 24/32 with a uuid usertype). */
  readonly headerBytes: number;
  /** Body bytes, or null for a size-0 box that runs to the end of the file. */
  readonly bodyBytes: number | null;
}

/** Largest header: 64-bit size plus a uuid. */
export const MAX_BOX_HEADER = 32;

function fourcc(b: Uint8Array, off: number): string {
  return String.fromCharCode(b[off]!, b[off + 1]!, b[off + 2]!, b[off + 3]!);
}

/** Parses a box header from b[off..]; null if b ends first. */
export function parseBoxHeader(b: Uint8Array, off = 0): BoxHeader | null {
  if (b.length - off < 8) return null;
  const dv = new DataView(b.buffer, b.byteOffset + off, b.length - off);
  const size32 = dv.getUint32(0);
  const type = fourcc(b, off + 4);
  let headerBytes = 8;
  let size: number | null;
  if (size32 === 1) {
    if (b.length - off < 16) return null;
    const big = dv.getBigUint64(8);
    // Anything past 2^53 cannot be a real file here; the input limit refuses far less.
    if (big > BigInt(Number.MAX_SAFE_INTEGER))
      throw corrupt(`MP4 box '${safeType(type)}' claims an absurd size`);
    size = Number(big);
    headerBytes = 16;
  } else if (size32 === 0) {
    size = null;
  } else {
    size = size32;
  }
  if (type === "uuid") {
    if (b.length - off < headerBytes + 16) return null;
    headerBytes += 16;
  }
  if (size !== null && size < headerBytes)
    throw corrupt(`MP4 box '${safeType(type)}' is smaller than its header`);
  return { type, headerBytes, bodyBytes: size === null ? null : size - headerBytes };
}

/** A box type fit for a message: printable ASCII, else hex. */
export function safeType(t: string): string {
  return /^[\x20-\x7e]{4}$/.test(t)
    ? t
    : Array.from({ length: t.length }, (_, i) => t.charCodeAt(i).toString(16).padStart(2, "0")).join("");
}

export interface Box {
  readonly type: string;
  readonly body: Uint8Array;
}

/** The child boxes of a buffered body, in order; every size must fit inside the parent. */
export function childBoxes(body: Uint8Array): Box[] {
  const out: Box[] = [];
  let off = 0;
  while (off < body.length) {
    // Some writers pad a container with a 32-bit zero terminator (QuickTime 'udta'): stop there.
    if (body.length - off < 8) {
      if (body.subarray(off).every((x) => x === 0)) break;
      throw corrupt("MP4 box truncated inside its parent");
    }
    const h = parseBoxHeader(body, off);
    if (!h) throw corrupt("MP4 box truncated inside its parent");
    const start = off + h.headerBytes;
    const end = h.bodyBytes === null ? body.length : start + h.bodyBytes;
    if (end > body.length) throw corrupt(`MP4 box '${safeType(h.type)}' overruns its parent`);
    out.push({ type: h.type, body: body.subarray(start, end) });
    off = end;
  }
  return out;
}

export function child(boxes: readonly Box[], type: string): Box | undefined {
  return boxes.find((b) => b.type === type);
}

export function requireChild(boxes: readonly Box[], type: string, where: string): Box {
  const b = child(boxes, type);
  if (!b) throw corrupt(`MP4 ${where} has no '${type}' box`);
  return b;
}

/** A bounds-checked big-endian reader over one box body. */
export class BoxReader {
  readonly #dv: DataView;
  pos = 0;
  constructor(
    readonly body: Uint8Array,
    readonly type: string,
  ) {
    this.#dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  }
  #need(n: number): void {
    if (this.pos + n > this.body.length) throw corrupt(`MP4 '${safeType(this.type)}' box is truncated`);
  }
  /** Big-endian reads at a body offset the caller has bounds-checked (tables checked by entries()). */
  u32At(o: number): number {
    return this.#dv.getUint32(o);
  }
  u16At(o: number): number {
    return this.#dv.getUint16(o);
  }
  u8(): number {
    this.#need(1);
    return this.#dv.getUint8(this.pos++);
  }
  u16(): number {
    this.#need(2);
    const v = this.#dv.getUint16(this.pos);
    this.pos += 2;
    return v;
  }
  u24(): number {
    return this.u8() * 65536 + this.u16();
  }
  u32(): number {
    this.#need(4);
    const v = this.#dv.getUint32(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): number {
    this.#need(8);
    const v = this.#dv.getBigUint64(this.pos);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER))
      throw corrupt(`MP4 '${safeType(this.type)}' holds an absurd value`);
    return Number(v);
  }
  /** A signed 64-bit field (edit lists' media_time, −1 for an empty edit). */
  i64(): number {
    this.#need(8);
    const v = this.#dv.getBigInt64(this.pos);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
      throw corrupt(`MP4 '${safeType(this.type)}' holds an absurd value`);
    return Number(v);
  }
  f64(): number {
    this.#need(8);
    const v = this.#dv.getFloat64(this.pos);
    this.pos += 8;
    return v;
  }
  skip(n: number): void {
    this.#need(n);
    this.pos += n;
  }
  fourcc(): string {
    this.#need(4);
    const s = fourcc(this.body, this.pos);
    this.pos += 4;
    return s;
  }
  /** Version and flags of a full box (§4.2.2). */
  fullBox(maxVersion: number): { version: number; flags: number } {
    const version = this.u8();
    const flags = this.u24();
    if (version > maxVersion) {
      throw new VaultError(
        "UNSUPPORTED_FORMAT",
        `MP4 '${safeType(this.type)}' box version ${version} is unknown`,
      );
    }
    return { version, flags };
  }
  /** Checks that count entries of entryBytes each fit in what is left, before any allocation. */
  entries(count: number, entryBytes: number): void {
    if (count * entryBytes > this.body.length - this.pos) {
      throw corrupt(`MP4 '${safeType(this.type)}' declares more entries than it holds`);
    }
  }
  rest(): Uint8Array {
    return this.body.subarray(this.pos);
  }
}
