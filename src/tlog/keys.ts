/**
 * Text encodings of note keys.
 *
 * Verifier key (C2SP signed-note §Verifier keys):  <name>+<hex key id>+<base64(type || public key)>
 * Signer key (Go golang.org/x/mod/sumdb/note):     PRIVATE+KEY+<name>+<hex key id>+<base64(type || seed)>
 *
 * Types: 0x01 Ed25519 note signatures, 0x04 Ed25519 cosignature/v1 (c2sp.org/tlog-cosignature
 * allows vkeys of that type; a type-0x04 signer key is this package's extension of Go's form).
 * Parsing is strict, and the key id must match the one derived from name, type and key.
 */

import { VaultError } from "../errors.js";
import { decodeBase64Strict, encodeBase64, formatKeyId, isValidKeyName, parseKeyId } from "./encoding.js";
import {
  ED25519_PUBLIC_KEY_SIZE,
  ED25519_SEED_SIZE,
  ed25519PrivateKey,
  ed25519RawPublicKey,
  randomEd25519Seed,
} from "../crypto/ed25519.js";
import {
  SIGNATURE_TYPE_COSIGNATURE_V1,
  ed25519CosignatureVerifier,
  ed25519Cosigner,
  unixSeconds,
} from "./cosignature.js";
import {
  type NoteSigner,
  type NoteVerifier,
  SIGNATURE_TYPE_ED25519,
  computeKeyId,
  ed25519NoteSigner,
  ed25519NoteVerifier,
} from "./note.js";

export type KeyType = typeof SIGNATURE_TYPE_ED25519 | typeof SIGNATURE_TYPE_COSIGNATURE_V1;

export interface KeyPairStrings {
  /** Secret: PRIVATE+KEY+... */
  readonly signerKey: string;
  /** Public: name+keyid+key */
  readonly verifierKey: string;
}

function isKeyType(type: number | undefined): type is KeyType {
  return type === SIGNATURE_TYPE_ED25519 || type === SIGNATURE_TYPE_COSIGNATURE_V1;
}

function bad(what: string): VaultError {
  return new VaultError("INVALID_ARGUMENT", `malformed ${what}`);
}

/** Splits "a+b+c..." into the first `n - 1` fields and the rest (base64 may contain "+"). */
function splitFields(text: string, n: number): string[] | undefined {
  const out: string[] = [];
  let rest = text;
  for (let i = 0; i < n - 1; i++) {
    const plus = rest.indexOf("+");
    if (plus < 0) return undefined;
    out.push(rest.slice(0, plus));
    rest = rest.slice(plus + 1);
  }
  out.push(rest);
  return out;
}

/** The vkey string for a 32-byte Ed25519 public key of the given type. */
export function verifierKeyString(name: string, type: KeyType, publicKey: Uint8Array): string {
  if (!isValidKeyName(name)) throw bad("key name");
  if (publicKey.length !== ED25519_PUBLIC_KEY_SIZE) throw bad("Ed25519 public key");
  const keyId = computeKeyId(name, type, publicKey);
  const material = new Uint8Array(1 + publicKey.length);
  material[0] = type;
  material.set(publicKey, 1);
  return `${name}+${formatKeyId(keyId)}+${encodeBase64(material)}`;
}

/** The signer key string for a 32-byte Ed25519 seed of the given type. Keep it secret. */
export function signerKeyString(name: string, type: KeyType, seed: Uint8Array): string {
  if (!isValidKeyName(name)) throw bad("key name");
  const publicKey = ed25519RawPublicKey(ed25519PrivateKey(seed));
  const material = new Uint8Array(1 + seed.length);
  material[0] = type;
  material.set(seed, 1);
  return `PRIVATE+KEY+${name}+${formatKeyId(computeKeyId(name, type, publicKey))}+${encodeBase64(material)}`;
}

/** A fresh random key pair, as strings. */
export function generateKeyStrings(name: string, type: KeyType = SIGNATURE_TYPE_ED25519): KeyPairStrings {
  const seed = randomEd25519Seed();
  const publicKey = ed25519RawPublicKey(ed25519PrivateKey(seed));
  return {
    signerKey: signerKeyString(name, type, seed),
    verifierKey: verifierKeyString(name, type, publicKey),
  };
}

function decodeKeyFields(
  name: string | undefined,
  id: string | undefined,
  material: string | undefined,
  size: number,
  what: string,
): { name: string; keyId: number; type: KeyType; key: Uint8Array } {
  const keyId = id === undefined ? undefined : parseKeyId(id);
  const bytes = material === undefined ? undefined : decodeBase64Strict(material);
  if (name === undefined || !isValidKeyName(name) || keyId === undefined || bytes === undefined) {
    throw bad(what);
  }
  const type = bytes[0];
  if (!isKeyType(type)) throw new VaultError("INVALID_ARGUMENT", `unsupported ${what} type`);
  if (bytes.length !== 1 + size) throw bad(what);
  return { name, keyId, type, key: bytes.subarray(1) };
}

/** Parses a vkey into a note verifier (type 0x01) or a cosignature verifier (type 0x04). */
export function parseVerifierKey(vkey: string): NoteVerifier {
  const [name, id, material] = splitFields(vkey, 3) ?? [];
  const k = decodeKeyFields(name, id, material, ED25519_PUBLIC_KEY_SIZE, "verifier key");
  const verifier =
    k.type === SIGNATURE_TYPE_ED25519
      ? ed25519NoteVerifier(k.name, k.key)
      : ed25519CosignatureVerifier(k.name, k.key);
  if (verifier.keyId !== k.keyId) {
    throw new VaultError("INVALID_ARGUMENT", "verifier key id does not match the key");
  }
  return verifier;
}

/**
 * Parses a signer key. Type 0x01 yields a note signer; type 0x04 a cosigner stamped by `clock`
 * (POSIX seconds).
 */
export function parseSignerKey(skey: string, clock: () => number = unixSeconds): NoteSigner {
  const [p, k, name, id, material] = splitFields(skey, 5) ?? [];
  if (p !== "PRIVATE" || k !== "KEY") throw bad("signer key");
  const f = decodeKeyFields(name, id, material, ED25519_SEED_SIZE, "signer key");
  const signer =
    f.type === SIGNATURE_TYPE_ED25519
      ? ed25519NoteSigner(f.name, f.key)
      : ed25519Cosigner(f.name, f.key, clock);
  // The id is derived from the public key, so a mismatch means a damaged or mislabelled key.
  if (signer.keyId !== f.keyId) {
    throw new VaultError("INVALID_ARGUMENT", "signer key id does not match the key");
  }
  return signer;
}
