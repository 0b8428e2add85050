/**
 * Binary format of a protected template (version 1, big-endian):
 *
 *   off len field
 *     0   4 magic "VVPT"
 *     4   1 format version = 1
 *     5   1 scheme id (1 = GRP-IoM, ChaCha20/HKDF-SHA-256 expansion, Irwin-Hall(4) coefficients)
 *     6   2 dim      (hashed dimension, after the profile's normalisation)
 *     8   2 hashes m
 *    10   2 q
 *    12   8 profile id (digest of embedder id + normalisation)
 *    20  16 key id (HMAC commitment to the template key; not the key)
 *    36   … m codes, ceil(log2 q) bits each, MSB-first, zero-padded to a byte
 *
 * With the defaults (m = 1024, q = 4) a template is 36 + 256 = 292 bytes.
 */

import { VaultError } from "../errors.js";
import { bytesEqual } from "./bytes.js";
import { checkIomParams, compareCodes } from "./iom.js";
import { KEY_ID_BYTES } from "./keyid.js";

export const TEMPLATE_MAGIC = Uint8Array.of(0x56, 0x56, 0x50, 0x54); // "VVPT"
export const TEMPLATE_FORMAT_VERSION = 1;
export const SCHEME_GRP_IOM = 1;
export const TEMPLATE_HEADER_BYTES = 36;

export interface ProtectedTemplate {
  readonly scheme: "grp-iom";
  readonly dim: number;
  readonly hashes: number;
  readonly q: number;
  readonly profileId: Uint8Array;
  readonly keyId: Uint8Array;
  /** One index in [0, q) per hash function. */
  readonly codes: Uint8Array;
}

export function bitsPerCode(q: number): number {
  return Math.max(1, Math.ceil(Math.log2(q)));
}

function invalid(message: string, reason: string): VaultError {
  return new VaultError("INVALID_ARGUMENT", `Not a valid protected template: ${message}`, {
    details: { reason },
  });
}

function checkTemplate(t: ProtectedTemplate): void {
  // Checked at run time too: templates may come from untyped callers or storage.
  if ((t.scheme as string) !== "grp-iom") throw invalid("unknown scheme.", "scheme");
  checkIomParams(t);
  if (t.profileId.length !== 8) throw invalid("profile id must be 8 bytes.", "profile-id");
  if (t.keyId.length !== KEY_ID_BYTES) throw invalid(`key id must be ${KEY_ID_BYTES} bytes.`, "key-id");
  if (t.codes.length !== t.hashes) throw invalid("code count differs from m.", "codes");
  for (const c of t.codes) if (c >= t.q) throw invalid("code out of range.", "codes");
}

export function encodeTemplate(t: ProtectedTemplate): Uint8Array {
  checkTemplate(t);
  const bits = bitsPerCode(t.q);
  const out = new Uint8Array(TEMPLATE_HEADER_BYTES + Math.ceil((t.hashes * bits) / 8));
  const view = new DataView(out.buffer);
  out.set(TEMPLATE_MAGIC, 0);
  out[4] = TEMPLATE_FORMAT_VERSION;
  out[5] = SCHEME_GRP_IOM;
  view.setUint16(6, t.dim);
  view.setUint16(8, t.hashes);
  view.setUint16(10, t.q);
  out.set(t.profileId, 12);
  out.set(t.keyId, 20);
  let bitPos = TEMPLATE_HEADER_BYTES * 8;
  for (const c of t.codes) {
    for (let b = bits - 1; b >= 0; b--) {
      if ((c >>> b) & 1) out[bitPos >>> 3]! |= 0x80 >>> (bitPos & 7);
      bitPos++;
    }
  }
  return out;
}

export function decodeTemplate(bytes: Uint8Array): ProtectedTemplate {
  if (!(bytes instanceof Uint8Array) || bytes.length < TEMPLATE_HEADER_BYTES) {
    throw invalid("too short.", "length");
  }
  if (!bytesEqual(bytes.subarray(0, 4), TEMPLATE_MAGIC)) throw invalid("wrong magic bytes.", "magic");
  if (bytes[4] !== TEMPLATE_FORMAT_VERSION) throw invalid(`unsupported version ${bytes[4]}.`, "version");
  if (bytes[5] !== SCHEME_GRP_IOM) throw invalid(`unsupported scheme ${bytes[5]}.`, "scheme");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dim = view.getUint16(6);
  const hashes = view.getUint16(8);
  const q = view.getUint16(10);
  checkIomParams({ dim, hashes, q });
  const bits = bitsPerCode(q);
  const payloadBits = hashes * bits;
  if (bytes.length !== TEMPLATE_HEADER_BYTES + Math.ceil(payloadBits / 8))
    throw invalid("wrong length.", "length");
  const codes = new Uint8Array(hashes);
  let bitPos = TEMPLATE_HEADER_BYTES * 8;
  for (let h = 0; h < hashes; h++) {
    let c = 0;
    for (let b = 0; b < bits; b++) {
      c = (c << 1) | ((bytes[bitPos >>> 3]! >>> (7 - (bitPos & 7))) & 1);
      bitPos++;
    }
    if (c >= q) throw invalid("code out of range.", "codes");
    codes[h] = c;
  }
  for (; bitPos < bytes.length * 8; bitPos++) {
    if ((bytes[bitPos >>> 3]! >>> (7 - (bitPos & 7))) & 1) throw invalid("non-zero padding.", "padding");
  }
  return {
    scheme: "grp-iom",
    dim,
    hashes,
    q,
    profileId: bytes.slice(12, 20),
    keyId: bytes.slice(20, 36),
    codes,
  };
}

/** Accepts either form so callers can compare stored bytes directly. */
export function asTemplate(t: ProtectedTemplate | Uint8Array): ProtectedTemplate {
  if (t instanceof Uint8Array) return decodeTemplate(t);
  checkTemplate(t);
  return t;
}

/**
 * Compares two protected templates in the protected domain: the IoM collision rate in [0, 1]
 * (higher = more similar; ≈ 1/q for different people). Refuses, with TEMPLATE_MISMATCH, templates
 * made under different keys, parameters or embedder profiles: such scores would be meaningless.
 */
export function compareTemplates(
  a: ProtectedTemplate | Uint8Array,
  b: ProtectedTemplate | Uint8Array,
): number {
  const ta = asTemplate(a);
  const tb = asTemplate(b);
  if (ta.dim !== tb.dim || ta.hashes !== tb.hashes || ta.q !== tb.q) {
    throw new VaultError("TEMPLATE_MISMATCH", "The templates use different schemes or parameters.", {
      details: { reason: "params" },
    });
  }
  if (!bytesEqual(ta.profileId, tb.profileId)) {
    throw new VaultError("TEMPLATE_MISMATCH", "The templates come from different embedder profiles.", {
      details: { reason: "profile" },
    });
  }
  if (!bytesEqual(ta.keyId, tb.keyId)) {
    throw new VaultError("TEMPLATE_MISMATCH", "The templates were made under different template keys.", {
      details: { reason: "key" },
    });
  }
  return compareCodes(ta.codes, tb.codes);
}
