/**
 * Raw Ed25519 keys (RFC 8032 encodings) on top of node:crypto KeyObjects.
 *
 * node:crypto takes Ed25519 keys only in DER/PEM/JWK form, so the raw 32-byte seed and public
 * key are wrapped in the fixed RFC 8410 DER headers. The seed lives in a KeyObject afterwards.
 */

import { type KeyObject, createPrivateKey, createPublicKey, randomBytes, sign, verify } from "node:crypto";
import { VaultError } from "../errors.js";

export const ED25519_SEED_SIZE = 32;
export const ED25519_PUBLIC_KEY_SIZE = 32;
export const ED25519_SIGNATURE_SIZE = 64;

// RFC 8410 §7: PrivateKeyInfo { version 0, AlgorithmIdentifier id-Ed25519 (1.3.101.112), OCTET STRING { OCTET STRING seed } }.
const PKCS8_SEED_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
// RFC 8410 §4: SubjectPublicKeyInfo { AlgorithmIdentifier id-Ed25519, BIT STRING public key }.
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export function ed25519PrivateKey(seed: Uint8Array): KeyObject {
  if (seed.length !== ED25519_SEED_SIZE) {
    throw new VaultError("INVALID_ARGUMENT", "Ed25519 seed must be 32 bytes");
  }
  const der = Buffer.concat([PKCS8_SEED_PREFIX, seed]);
  try {
    return createPrivateKey({ key: der, format: "der", type: "pkcs8" });
  } finally {
    der.fill(0); // the seed now lives only in the KeyObject (and the caller's buffer)
  }
}

export function ed25519PublicKey(publicKey: Uint8Array): KeyObject {
  if (publicKey.length !== ED25519_PUBLIC_KEY_SIZE) {
    throw new VaultError("INVALID_ARGUMENT", "Ed25519 public key must be 32 bytes");
  }
  try {
    return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: "der", type: "spki" });
  } catch (e) {
    throw new VaultError("INVALID_ARGUMENT", "not an Ed25519 public key", { cause: e });
  }
}

/** The raw 32-byte public key of an Ed25519 private or public KeyObject. */
export function ed25519RawPublicKey(key: KeyObject): Uint8Array {
  const der = createPublicKey(key).export({ format: "der", type: "spki" });
  if (
    der.length !== SPKI_PREFIX.length + ED25519_PUBLIC_KEY_SIZE ||
    !der.subarray(0, SPKI_PREFIX.length).equals(SPKI_PREFIX)
  ) {
    throw new VaultError("INVALID_ARGUMENT", "not an Ed25519 key");
  }
  return new Uint8Array(der.subarray(SPKI_PREFIX.length));
}

export function ed25519Sign(privateKey: KeyObject, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, message, privateKey));
}

export function ed25519Verify(publicKey: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== ED25519_SIGNATURE_SIZE) return false;
  return verify(null, message, publicKey, signature);
}

export function randomEd25519Seed(): Uint8Array {
  return new Uint8Array(randomBytes(ED25519_SEED_SIZE));
}
