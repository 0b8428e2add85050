/**
 * C2SP tlog-cosignature, Ed25519 flavour (cosignature/v1, signature type 0x04): a witness's
 * timestamped statement that the checkpoint is the largest consistent tree head it has seen.
 *
 * Signed message (§Ed25519 signed message):
 *   "cosignature/v1\n" || "time " <decimal POSIX seconds> "\n" || checkpoint note text
 * Signature bytes (§Format, timestamped_signature):
 *   u64 big-endian timestamp || 64-byte Ed25519 signature
 * Key ID (§Format): SHA-256(name || "\n" || 0x04 || 32-byte public key)[:4].
 */

import { VaultError } from "../errors.js";
import { concatBytes, decodeUtf8Strict, isValidKeyName, utf8 } from "./encoding.js";
import {
  ED25519_SIGNATURE_SIZE,
  ed25519PrivateKey,
  ed25519PublicKey,
  ed25519Sign,
  ed25519Verify,
} from "../crypto/ed25519.js";
import { parseCheckpoint } from "./checkpoint.js";
import { type NoteSigner, type NoteVerifier, computeKeyId, keySigner } from "./note.js";

export const SIGNATURE_TYPE_COSIGNATURE_V1 = 0x04;
/** 8-byte timestamp plus a 64-byte Ed25519 signature. */
export const COSIGNATURE_V1_SIZE = 8 + ED25519_SIGNATURE_SIZE;

/** Seconds since the epoch, as the default cosigning clock. */
export function unixSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function checkTimestamp(timestamp: number): void {
  // The spec allows up to 2^63 - 1; numbers are exact only below 2^53, ample for POSIX seconds.
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new VaultError("INVALID_ARGUMENT", "cosignature timestamp must be a non-negative safe integer");
  }
}

/** The exact bytes a cosigner signs for `checkpointText` at `timestamp`. */
export function cosignatureMessage(checkpointText: string, timestamp: number): Uint8Array {
  checkTimestamp(timestamp);
  return utf8(`cosignature/v1\ntime ${timestamp}\n${checkpointText}`);
}

/**
 * The timestamp of a cosignature/v1 signature (the bytes after the key id).
 * Throws NOTE_INVALID if the signature is not 72 bytes or the time is not representable.
 */
export function cosignatureTimestamp(signature: Uint8Array): number {
  if (signature.length !== COSIGNATURE_V1_SIZE) {
    throw new VaultError("NOTE_INVALID", "not a cosignature/v1 signature", {
      details: { bytes: signature.length },
    });
  }
  const t = new DataView(signature.buffer, signature.byteOffset, 8).getBigUint64(0);
  if (t > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new VaultError("NOTE_INVALID", "cosignature timestamp is out of range");
  }
  return Number(t);
}

/**
 * An Ed25519 cosigner (witness key) from a 32-byte seed. It signs only well-formed checkpoint
 * texts, stamping each with `clock()` (POSIX seconds). It does not check consistency with
 * earlier checkpoints: that is the witness's job before it calls sign.
 */
export function ed25519Cosigner(
  name: string,
  seed: Uint8Array,
  clock: () => number = unixSeconds,
): NoteSigner {
  if (!isValidKeyName(name)) throw new VaultError("INVALID_ARGUMENT", "invalid key name");
  return keySigner(name, SIGNATURE_TYPE_COSIGNATURE_V1, ed25519PrivateKey(seed), (key, text) => {
    const checkpointText = decodeUtf8Strict(text);
    if (checkpointText === undefined) throw new VaultError("CHECKPOINT_INVALID", "checkpoint is not UTF-8");
    parseCheckpoint(checkpointText); // §Format: a cosignature is applied to a checkpoint
    const timestamp = clock();
    const signature = ed25519Sign(key, cosignatureMessage(checkpointText, timestamp));
    const stamp = new Uint8Array(8);
    new DataView(stamp.buffer).setBigUint64(0, BigInt(timestamp));
    return Promise.resolve(concatBytes(stamp, signature));
  });
}

/** A verifier for a witness's cosignature/v1 signatures, for use with openNote. */
export function ed25519CosignatureVerifier(name: string, publicKey: Uint8Array): NoteVerifier {
  if (!isValidKeyName(name)) throw new VaultError("INVALID_ARGUMENT", "invalid key name");
  const key = ed25519PublicKey(publicKey);
  return {
    name,
    keyId: computeKeyId(name, SIGNATURE_TYPE_COSIGNATURE_V1, publicKey),
    type: SIGNATURE_TYPE_COSIGNATURE_V1,
    verify: (text, signature) => {
      if (signature.length !== COSIGNATURE_V1_SIZE) return false;
      const t = new DataView(signature.buffer, signature.byteOffset, 8).getBigUint64(0);
      if (t > BigInt(Number.MAX_SAFE_INTEGER)) return false;
      const message = concatBytes(utf8(`cosignature/v1\ntime ${t}\n`), text);
      return ed25519Verify(key, message, signature.subarray(8));
    },
  };
}
