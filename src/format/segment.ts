/**
 * Segment encryption (docs/format.md §4), the STREAM construction of Hoang, Reyhanitabar, Rogaway
 * and Vizár (CRYPTO 2015) as used by Tink's AES-GCM-HKDF streaming AEAD:
 *
 *   nonce_i = noncePrefix(7) || u32be(i) || u8(last ? 1 : 0)
 *   c_i     = AES-256-GCM(segKey, nonce_i, p_i, aad = "") -> ciphertext || tag(16)
 *
 * The index and the last-segment flag in the nonce make reordering, duplication and truncation
 * at a segment boundary fail authentication.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { VaultError } from "../errors.js";
import { asBuffer } from "../crypto/bytes.js";
import { MAX_SEGMENTS, NONCE_PREFIX_LENGTH, TAG_LENGTH, type BlobKeys } from "./header.js";

/** How far from the expected index a failed segment is searched for, to name the failure. */
const DIAGNOSE_WINDOW = 256;

function nonceFor(keys: BlobKeys, index: number, last: boolean): Buffer {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_SEGMENTS) {
    throw new VaultError("BLOB_TOO_LARGE", "segment index beyond the format's 2^32 limit");
  }
  const n = Buffer.allocUnsafe(12);
  n.set(keys.noncePrefix, 0);
  n.writeUInt32BE(index, NONCE_PREFIX_LENGTH);
  n[11] = last ? 1 : 0;
  return n;
}

/** Encrypts one segment given as pieces; returns ciphertext pieces followed by the tag. */
export function sealSegment(
  keys: BlobKeys,
  index: number,
  last: boolean,
  pieces: readonly Uint8Array[],
): Buffer[] {
  const c = createCipheriv("aes-256-gcm", keys.segmentKey, nonceFor(keys, index, last));
  const out: Buffer[] = [];
  for (const p of pieces) {
    if (p.length > 0) out.push(c.update(asBuffer(p)));
  }
  const fin = c.final();
  if (fin.length > 0) out.push(fin);
  out.push(c.getAuthTag());
  return out;
}

function tryOpen(
  keys: BlobKeys,
  index: number,
  last: boolean,
  body: readonly Uint8Array[],
  tag: Uint8Array,
): Buffer[] | undefined {
  const d = createDecipheriv("aes-256-gcm", keys.segmentKey, nonceFor(keys, index, last));
  d.setAuthTag(asBuffer(tag));
  const out: Buffer[] = [];
  for (const p of body) {
    if (p.length > 0) out.push(d.update(asBuffer(p)));
  }
  try {
    d.final();
  } catch {
    // Tag mismatch: nothing decrypted may be released (noble-ciphers' rule: check before use).
    for (const o of out) o.fill(0);
    return undefined;
  }
  return out;
}

/**
 * Decrypts one segment. Plaintext is returned only after its tag verified. On failure the
 * segment is tried at nearby indices and with the other last-flag to name what went wrong.
 */
export function openSegment(
  keys: BlobKeys,
  index: number,
  last: boolean,
  body: readonly Uint8Array[],
  tag: Uint8Array,
): Buffer[] {
  if (tag.length !== TAG_LENGTH)
    throw new VaultError("BLOB_TRUNCATED", `segment ${index} is shorter than its tag`);
  const ok = tryOpen(keys, index, last, body, tag);
  if (ok) return ok;
  throw diagnose(keys, index, last, body, tag);
}

function diagnose(
  keys: BlobKeys,
  index: number,
  last: boolean,
  body: readonly Uint8Array[],
  tag: Uint8Array,
): VaultError {
  const details = { segment: index };
  const wipeAll = (r: Buffer[] | undefined): boolean => {
    if (!r) return false;
    for (const o of r) o.fill(0);
    return true;
  };
  if (wipeAll(tryOpen(keys, index, !last, body, tag))) {
    return last
      ? new VaultError("BLOB_TRUNCATED", `blob ends after segment ${index}, which is not the final segment`, {
          details,
        })
      : new VaultError("BLOB_TRAILING_DATA", `data follows the final segment ${index}`, { details });
  }
  const lo = Math.max(0, index - DIAGNOSE_WINDOW);
  const hi = Math.min(MAX_SEGMENTS - 1, index + DIAGNOSE_WINDOW);
  for (let j = lo; j <= hi; j++) {
    if (j === index) continue;
    for (const flag of [false, true]) {
      if (wipeAll(tryOpen(keys, j, flag, body, tag))) {
        const found = { segment: index, foundIndex: j };
        return j < index
          ? new VaultError("BLOB_SEGMENT_DUPLICATED", `segment ${j} appears again at position ${index}`, {
              details: found,
            })
          : new VaultError("BLOB_SEGMENT_REORDERED", `segment ${j} appears at position ${index}`, {
              details: found,
            });
      }
    }
  }
  return new VaultError("BLOB_SEGMENT_CORRUPT", `segment ${index} failed authentication`, { details });
}
