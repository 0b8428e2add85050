/** Byte helpers shared by the crypto and format layers. Node-only (uses node:crypto). */
import { randomBytes as nodeRandomBytes, timingSafeEqual } from "node:crypto";

export function randomBytes(n: number): Uint8Array {
  return new Uint8Array(nodeRandomBytes(n).buffer, 0, n);
}

/** Constant-time comparison; different lengths compare unequal (length is not secret here). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Overwrites a buffer that held secret material. Best effort: JS engines may keep copies. */
export function wipe(...buffers: (Uint8Array | undefined)[]): void {
  for (const b of buffers) b?.fill(0);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function u8(n: number): Uint8Array {
  return Uint8Array.of(n & 0xff);
}

export function u16be(n: number): Uint8Array {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, n);
  return b;
}

export function u32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

export function u64be(n: number | bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}

const utf8 = new TextEncoder();
export function utf8Bytes(s: string): Uint8Array {
  return utf8.encode(s);
}

/** Length-prefixed encoding (u32be length || bytes) of each field, so distinct tuples never collide. */
export function encodeFields(fields: readonly (Uint8Array | string)[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const f of fields) {
    const b = typeof f === "string" ? utf8Bytes(f) : f;
    parts.push(u32be(b.length), b);
  }
  return concatBytes(...parts);
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString("hex");
}

export function fromHex(s: string): Uint8Array {
  if (!/^(?:[0-9a-f]{2})*$/i.test(s)) throw new RangeError("not hex");
  return new Uint8Array(Buffer.from(s, "hex"));
}

export function toBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString("base64");
}

/** Strict base64 (standard alphabet, padded): rejects anything Buffer would silently skip. */
export function fromBase64(s: string): Uint8Array {
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) {
    throw new RangeError("not canonical base64");
  }
  const out = new Uint8Array(Buffer.from(s, "base64"));
  if (toBase64(out) !== s) throw new RangeError("not canonical base64");
  return out;
}

/** View of a Uint8Array as a Buffer without copying (for node APIs). */
export function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length);
}
