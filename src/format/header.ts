/**
 * Blob header, format version 1 (docs/format.md §2).
 *
 *   off len
 *     0   4  magic "VXVB"
 *     4   1  format version = 1
 *     5   1  suite = 1 (HKDF-SHA-256, AES-256-GCM segments, HMAC-SHA-256 header tag)
 *     6   1  log2 of the plaintext segment size, 12..24
 *     7   1  flags, must be 0
 *     8  32  salt
 *    40   7  nonce prefix
 *    47  32  key commitment
 *    79  32  header tag
 *   111      end
 *
 * Key schedule (RFC 5869), with DEK the blob's 32-byte data key:
 *   commitment   = HKDF(DEK, salt, "voxvault/blob/v1/commitment", 32)
 *   segKey||macKey = HKDF(DEK, salt, "voxvault/blob/v1/keys" || SHA-256(header[0..47] || context), 64)
 *   header tag   = HMAC-SHA-256(macKey, header[0..79])
 * The commitment binds the ciphertext to one DEK (key commitment, cf. AWS Encryption SDK and
 * Albertini et al., USENIX Security 2022); the tag binds the header and the context.
 */
import { createSecretKey, type KeyObject } from "node:crypto";
import { concatBytes, equalBytes, randomBytes, utf8Bytes, wipe } from "../crypto/bytes.js";
import { hkdfSha256, hmacSha256, sha256 } from "../crypto/kdf.js";
import { VaultError } from "../errors.js";

export const MAGIC = Uint8Array.of(0x56, 0x58, 0x56, 0x42); // "VXVB"
export const FORMAT_VERSION = 1;
export const SUITE_AES256GCM_HKDF_SHA256 = 1;
export const HEADER_LENGTH = 111;
export const TAG_LENGTH = 16;
export const SALT_LENGTH = 32;
export const NONCE_PREFIX_LENGTH = 7;
export const MIN_SEGMENT_LOG2 = 12;
export const MAX_SEGMENT_LOG2 = 24;
export const DEFAULT_SEGMENT_LOG2 = 16;
/** Segment indices are 32-bit (the nonce has a 4-byte counter). */
export const MAX_SEGMENTS = 2 ** 32;

const OFF_SALT = 8;
const OFF_NONCE = 40;
const OFF_COMMIT = 47;
const OFF_TAG = 79;
const LABEL_COMMIT = utf8Bytes("voxvault/blob/v1/commitment");
const LABEL_KEYS = utf8Bytes("voxvault/blob/v1/keys");

export interface HeaderFields {
  readonly segmentLog2: number;
  readonly salt: Uint8Array;
  readonly noncePrefix: Uint8Array;
}

/** Per-blob keys derived from the DEK; the segment key never leaves a KeyObject. */
export interface BlobKeys {
  readonly header: Uint8Array;
  readonly segmentKey: KeyObject;
  readonly segmentLog2: number;
  readonly noncePrefix: Uint8Array;
}

function checkDek(dek: Uint8Array): void {
  if (dek.length !== 32) throw new VaultError("INVALID_ARGUMENT", "data key must be 32 bytes");
}

function deriveKeys(
  dek: Uint8Array,
  prefix: Uint8Array,
  context: Uint8Array,
): { seg: Uint8Array; mac: Uint8Array } {
  const salt = prefix.subarray(OFF_SALT, OFF_SALT + SALT_LENGTH);
  const okm = hkdfSha256(
    dek,
    salt,
    concatBytes(LABEL_KEYS, sha256(prefix.subarray(0, OFF_COMMIT), context)),
    64,
  );
  return { seg: okm.subarray(0, 32), mac: okm.subarray(32, 64) };
}

function commitment(dek: Uint8Array, salt: Uint8Array): Uint8Array {
  return hkdfSha256(dek, salt, LABEL_COMMIT, 32);
}

/** Builds a fresh header (random salt and nonce prefix) and the keys to seal with. */
export function createHeader(
  dek: Uint8Array,
  context: Uint8Array,
  segmentLog2: number,
  random: (n: number) => Uint8Array = randomBytes,
): BlobKeys {
  checkDek(dek);
  if (!Number.isInteger(segmentLog2) || segmentLog2 < MIN_SEGMENT_LOG2 || segmentLog2 > MAX_SEGMENT_LOG2) {
    throw new VaultError(
      "INVALID_ARGUMENT",
      `segment size log2 must be ${MIN_SEGMENT_LOG2}..${MAX_SEGMENT_LOG2}`,
    );
  }
  const h = new Uint8Array(HEADER_LENGTH);
  h.set(MAGIC, 0);
  h[4] = FORMAT_VERSION;
  h[5] = SUITE_AES256GCM_HKDF_SHA256;
  h[6] = segmentLog2;
  h[7] = 0;
  h.set(random(SALT_LENGTH), OFF_SALT);
  h.set(random(NONCE_PREFIX_LENGTH), OFF_NONCE);
  h.set(commitment(dek, h.subarray(OFF_SALT, OFF_SALT + SALT_LENGTH)), OFF_COMMIT);
  const { seg, mac } = deriveKeys(dek, h, context);
  h.set(hmacSha256(mac, h.subarray(0, OFF_TAG)), OFF_TAG);
  const segmentKey = createSecretKey(seg);
  wipe(seg, mac);
  return {
    header: h,
    segmentKey,
    segmentLog2,
    noncePrefix: h.slice(OFF_NONCE, OFF_NONCE + NONCE_PREFIX_LENGTH),
  };
}

/** Checks the structural fields only (no key needed): magic, version, suite, sizes, flags. */
export function parseHeaderFields(h: Uint8Array): HeaderFields {
  const n = Math.min(h.length, MAGIC.length);
  if (!equalBytes(h.subarray(0, n), MAGIC.subarray(0, n))) {
    throw new VaultError("BLOB_BAD_MAGIC", "not a voxvault blob");
  }
  if (h.length < HEADER_LENGTH) throw new VaultError("BLOB_TRUNCATED", "blob ends inside its header");
  if (h[4] !== FORMAT_VERSION) {
    throw new VaultError("BLOB_UNSUPPORTED_VERSION", `blob format version ${h[4]} is not supported`);
  }
  if (h[5] !== SUITE_AES256GCM_HKDF_SHA256) {
    throw new VaultError("BLOB_UNSUPPORTED_VERSION", `blob cipher suite ${h[5]} is not supported`);
  }
  const segmentLog2 = h[6]!;
  if (segmentLog2 < MIN_SEGMENT_LOG2 || segmentLog2 > MAX_SEGMENT_LOG2) {
    throw new VaultError("BLOB_HEADER_INVALID", "segment size out of range");
  }
  if (h[7] !== 0) throw new VaultError("BLOB_HEADER_INVALID", "reserved header flags are set");
  return {
    segmentLog2,
    salt: h.subarray(OFF_SALT, OFF_SALT + SALT_LENGTH),
    noncePrefix: h.subarray(OFF_NONCE, OFF_NONCE + NONCE_PREFIX_LENGTH),
  };
}

/**
 * Verifies a header against a DEK and context, in this order so each failure is specific:
 * structure, key commitment (BLOB_WRONG_KEY), header tag (BLOB_CONTEXT_MISMATCH).
 */
export function openHeader(dek: Uint8Array, context: Uint8Array, h: Uint8Array): BlobKeys {
  checkDek(dek);
  const fields = parseHeaderFields(h);
  const header = h.slice(0, HEADER_LENGTH);
  const expected = commitment(dek, fields.salt);
  if (!equalBytes(expected, header.subarray(OFF_COMMIT, OFF_TAG))) {
    throw new VaultError("BLOB_WRONG_KEY", "key commitment mismatch: this blob was sealed under another key");
  }
  const { seg, mac } = deriveKeys(dek, header, context);
  const tagOk = equalBytes(
    hmacSha256(mac, header.subarray(0, OFF_TAG)),
    header.subarray(OFF_TAG, HEADER_LENGTH),
  );
  if (!tagOk) {
    wipe(seg, mac);
    throw new VaultError(
      "BLOB_CONTEXT_MISMATCH",
      "header authentication failed: blob belongs to another tenant, subject, id or kind, or its header was altered",
    );
  }
  const segmentKey = createSecretKey(seg);
  wipe(seg, mac);
  return {
    header,
    segmentKey,
    segmentLog2: fields.segmentLog2,
    noncePrefix: header.slice(OFF_NONCE, OFF_NONCE + NONCE_PREFIX_LENGTH),
  };
}
