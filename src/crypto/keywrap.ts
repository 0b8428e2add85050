/**
 * Wrapping of small secrets (keys) under a 256-bit key-encryption key.
 *
 * AES-256-GCM with a random 96-bit nonce (NIST SP 800-38D §8.2.2) and mandatory associated data
 * that names what is wrapped (e.g. subject id and key version), so a wrapped key moved to another
 * row fails to unwrap. Every KEK in voxvault wraps far fewer than the 2^32 messages SP 800-38D
 * §8.3 allows per key with random nonces.
 *
 *   wrapped = 0x01 || nonce(12) || ciphertext || tag(16)
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { VaultError } from "../errors.js";
import { asBuffer, randomBytes } from "./bytes.js";

const WRAP_VERSION = 0x01;
const NONCE_LEN = 12;
const TAG_LEN = 16;
export const WRAP_OVERHEAD = 1 + NONCE_LEN + TAG_LEN;

function checkKek(kek: Uint8Array): void {
  if (kek.length !== 32) throw new RangeError("key-encryption key must be 32 bytes");
}

export function wrapKey(kek: Uint8Array, secret: Uint8Array, aad: Uint8Array): Uint8Array {
  checkKek(kek);
  const nonce = randomBytes(NONCE_LEN);
  const c = createCipheriv("aes-256-gcm", asBuffer(kek), asBuffer(nonce));
  c.setAAD(asBuffer(aad));
  const body = c.update(asBuffer(secret));
  c.final();
  const out = new Uint8Array(WRAP_OVERHEAD + secret.length);
  out[0] = WRAP_VERSION;
  out.set(nonce, 1);
  out.set(body, 1 + NONCE_LEN);
  out.set(c.getAuthTag(), 1 + NONCE_LEN + body.length);
  body.fill(0);
  return out;
}

/** Throws KEY_UNAVAILABLE when the wrapping key or the associated data does not match. */
export function unwrapKey(kek: Uint8Array, wrapped: Uint8Array, aad: Uint8Array): Uint8Array {
  checkKek(kek);
  if (wrapped.length < WRAP_OVERHEAD || wrapped[0] !== WRAP_VERSION) {
    throw new VaultError("KEY_UNAVAILABLE", "wrapped key is malformed");
  }
  const nonce = wrapped.subarray(1, 1 + NONCE_LEN);
  const body = wrapped.subarray(1 + NONCE_LEN, wrapped.length - TAG_LEN);
  const tag = wrapped.subarray(wrapped.length - TAG_LEN);
  const d = createDecipheriv("aes-256-gcm", asBuffer(kek), asBuffer(nonce));
  d.setAAD(asBuffer(aad));
  d.setAuthTag(asBuffer(tag));
  const out = d.update(asBuffer(body));
  try {
    d.final();
  } catch (e) {
    out.fill(0);
    throw new VaultError(
      "KEY_UNAVAILABLE",
      "wrapped key failed authentication (wrong key or wrong binding)",
      {
        cause: e,
      },
    );
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
