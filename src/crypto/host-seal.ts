/**
 * Sealing small secrets to a host's X25519 public key, in the shape of HPKE's base mode
 * (RFC 9180 §5.1; DHKEM(X25519) with HKDF-SHA-256, AES-256-GCM), with an explicit context:
 *
 *   ephemeral e;  dh = X25519(e, recipient)          (RFC 7748 §6.1; all-zero dh refused)
 *   key = HKDF-SHA-256(ikm = dh, salt = epk ‖ rpk, info = "voxvault/host-seal/v1" ‖ context)
 *   sealed = 0x01 ‖ epk(32) ‖ nonce(12) ‖ AES-256-GCM(key, nonce, secret, aad = context) ‖ tag(16)
 *
 * Used to hand root generations to the other hosts of a vault through the shared metadata
 * store (docs/architecture.md §Several hosts): only a host holding the private key opens them.
 */
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { VaultError } from "../errors.js";
import { concatBytes, encodeFields, toHex, wipe } from "./bytes.js";
import { hkdfSha256, sha256 } from "./kdf.js";
import { unwrapKey, wrapKey } from "./keywrap.js";

const VERSION = 0x01;
const KEY_LEN = 32;

export interface HostKeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

const b64url = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString("base64url");

function raw(k: KeyObject, part: "x" | "d"): Uint8Array {
  const v = k.export({ format: "jwk" })[part];
  if (typeof v !== "string") throw new VaultError("INTERNAL", "X25519 key export failed");
  return new Uint8Array(Buffer.from(v, "base64url"));
}

function publicKeyObject(pub: Uint8Array): KeyObject {
  if (pub.length !== KEY_LEN) throw new VaultError("INVALID_ARGUMENT", "a host public key is 32 bytes");
  return createPublicKey({ key: { kty: "OKP", crv: "X25519", x: b64url(pub) }, format: "jwk" });
}

function privateKeyObject(pair: HostKeyPair): KeyObject {
  return createPrivateKey({
    key: { kty: "OKP", crv: "X25519", x: b64url(pair.publicKey), d: b64url(pair.privateKey) },
    format: "jwk",
  });
}

export function generateHostKey(): HostKeyPair {
  const { privateKey } = generateKeyPairSync("x25519");
  return { publicKey: raw(privateKey, "x"), privateKey: raw(privateKey, "d") };
}

/** Checks that a private key matches its public half (a damaged key file must not half-work). */
export function checkHostKey(pair: HostKeyPair): void {
  let derived: Uint8Array;
  try {
    derived = raw(createPublicKey(privateKeyObject(pair)), "x");
  } catch {
    throw new VaultError("ROOT_KEY_INVALID", "the host key is malformed");
  }
  if (Buffer.compare(Buffer.from(derived), Buffer.from(pair.publicKey)) !== 0) {
    throw new VaultError("ROOT_KEY_INVALID", "the host key's halves do not match");
  }
}

/** Short, human-comparable fingerprint: first 16 bytes of SHA-256(public key), hex in groups of 4. */
export function hostKeyFingerprint(pub: Uint8Array): string {
  return toHex(sha256(pub).subarray(0, 16)).match(/.{4}/g)!.join(":");
}

function sharedKey(dh: Uint8Array, epk: Uint8Array, rpk: Uint8Array, context: Uint8Array): Uint8Array {
  if (dh.every((b) => b === 0)) throw new VaultError("KEY_UNAVAILABLE", "X25519 produced the all-zero value");
  return hkdfSha256(dh, concatBytes(epk, rpk), encodeFields(["voxvault/host-seal/v1", context]), 32);
}

export function sealToHost(recipient: Uint8Array, secret: Uint8Array, context: Uint8Array): Uint8Array {
  const { privateKey } = generateKeyPairSync("x25519");
  const epk = raw(privateKey, "x");
  const dh = new Uint8Array(diffieHellman({ privateKey, publicKey: publicKeyObject(recipient) }));
  const key = sharedKey(dh, epk, recipient, context);
  const body = wrapKey(key, secret, context);
  wipe(dh, key);
  return concatBytes(Uint8Array.of(VERSION), epk, body);
}

/** Throws KEY_UNAVAILABLE when the sealed value is not for this host or this context. */
export function openSealedToHost(pair: HostKeyPair, sealed: Uint8Array, context: Uint8Array): Uint8Array {
  if (sealed.length < 1 + KEY_LEN + 29 || sealed[0] !== VERSION) {
    throw new VaultError("KEY_UNAVAILABLE", "sealed value is malformed");
  }
  const epk = sealed.subarray(1, 1 + KEY_LEN);
  const dh = new Uint8Array(
    diffieHellman({ privateKey: privateKeyObject(pair), publicKey: publicKeyObject(epk) }),
  );
  const key = sharedKey(dh, epk, pair.publicKey, context);
  try {
    return unwrapKey(key, sealed.subarray(1 + KEY_LEN), context);
  } finally {
    wipe(dh, key);
  }
}
