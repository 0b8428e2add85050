/** HKDF (RFC 5869) and HMAC via node:crypto. */
import { createHash, createHmac, hkdfSync } from "node:crypto";
import { asBuffer, concatBytes, utf8Bytes } from "./bytes.js";

/**
 * HKDF-SHA-256 (RFC 5869 §2). Node limits `info` to 1024 bytes, so callers with long
 * contexts pass a digest of the context instead of the context itself.
 */
export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array | string,
  length: number,
): Uint8Array {
  const infoBytes = typeof info === "string" ? utf8Bytes(info) : info;
  if (infoBytes.length > 1024) throw new RangeError("HKDF info longer than 1024 bytes; hash it first");
  return new Uint8Array(hkdfSync("sha256", asBuffer(ikm), asBuffer(salt), asBuffer(infoBytes), length));
}

export function hmacSha256(key: Uint8Array, ...data: Uint8Array[]): Uint8Array {
  const h = createHmac("sha256", asBuffer(key));
  for (const d of data) h.update(d);
  return new Uint8Array(h.digest());
}

export function sha256(...data: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const d of data) h.update(d);
  return new Uint8Array(h.digest());
}

/** Domain-separated digest: SHA-256(label || 0x00 || data...). */
export function labelledDigest(label: string, ...data: Uint8Array[]): Uint8Array {
  return sha256(concatBytes(utf8Bytes(label), Uint8Array.of(0)), ...data);
}
