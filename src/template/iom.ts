/**
 * Gaussian-random-projection Index-of-Max hashing (GRP-IoM; Jin, Hwang, Lai, Kim, Teoh, "Ranking-
 * based locality sensitive hashing-enabled cancelable biometrics: Index-of-Max hashing", IEEE TIFS
 * 13(2), 2018). For each of m hash functions, q keyed random directions are drawn; the hash value is
 * the index of the direction with the largest inner product with the (normalised) embedding.
 *
 * Only the arg-max survives: magnitudes and the order of the other q-1 projections are discarded, so
 * the mapping is many-to-one and scale-invariant, and two codes collide with a probability that grows
 * monotonically with the cosine similarity of the inputs (an angular LSH, cf. Charikar, STOC 2002).
 *
 * Coefficients are integers (sum of the four bytes of a ChaCha20 word, minus 510: Irwin-Hall(4),
 * close to Gaussian) and projections use only + and ×, so codes are bit-identical in every engine.
 */

import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { VaultError } from "../errors.js";
import { u16be } from "./bytes.js";
import { ChaChaWordStream } from "./chacha20.js";
import { checkTemplateKey } from "./keyid.js";

export interface IomParams {
  /** Dimension of the vector that is hashed (after the profile's normalisation). */
  readonly dim: number;
  /** Number of hash functions m (= code length). */
  readonly hashes: number;
  /** Directions per hash function q (code alphabet size). */
  readonly q: number;
}

// Defaults chosen on the bench (docs/template-protection.md): same 292-byte template as m = 512,
// q = 16, but closer to the unprotected EER and a little less to reconstruct with the key.
export const DEFAULT_HASHES = 1024;
export const DEFAULT_Q = 4;
/** Upper bound on m·q·dim: the expanded key material (one ChaCha20 word to derive, 2 bytes in memory, each). */
export const MAX_COEFFICIENTS = 1 << 24;

const EXPAND_SALT = utf8ToBytes("voxvault/template/grp-iom/v1");

export function checkIomParams(p: IomParams): void {
  const intIn = (v: number, lo: number, hi: number): boolean => Number.isInteger(v) && v >= lo && v <= hi;
  if (!intIn(p.dim, 2, 65535))
    throw new VaultError("INVALID_ARGUMENT", "dim must be an integer in [2, 65535].");
  if (!intIn(p.hashes, 1, 65535)) {
    throw new VaultError("INVALID_ARGUMENT", "hashes must be an integer in [1, 65535].");
  }
  if (!intIn(p.q, 2, 256)) throw new VaultError("INVALID_ARGUMENT", "q must be an integer in [2, 256].");
  if (p.dim * p.hashes * p.q > MAX_COEFFICIENTS) {
    throw new VaultError("INVALID_ARGUMENT", `hashes × q × dim must not exceed ${MAX_COEFFICIENTS}.`);
  }
}

/**
 * Expands the template key into the m·q·dim projection coefficients, layout [hash][direction][dim].
 * seed = HKDF-SHA-256(key, salt = scheme label, info = dim‖m‖q‖profileId); coefficients from the
 * ChaCha20(seed, nonce 0) keystream. Anyone holding these coefficients holds the key's power.
 */
export function deriveProjections(
  templateKey: Uint8Array,
  params: IomParams,
  profileId: Uint8Array,
): Int16Array {
  checkTemplateKey(templateKey);
  checkIomParams(params);
  if (profileId.length !== 8) throw new VaultError("INVALID_ARGUMENT", "profileId must be 8 bytes.");
  const info = concatBytes(u16be(params.dim), u16be(params.hashes), u16be(params.q), profileId);
  const seed = hkdf(sha256, templateKey, EXPAND_SALT, info, 32);
  const stream = new ChaChaWordStream(seed);
  seed.fill(0);
  const n = params.hashes * params.q * params.dim;
  const w = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const u = stream.nextU32();
    w[i] = (u & 0xff) + ((u >>> 8) & 0xff) + ((u >>> 16) & 0xff) + (u >>> 24) - 510;
  }
  stream.wipe();
  return w;
}

/** IoM codes of a normalised vector z under the given projections (ties go to the lower index). */
export function iomHash(z: Float64Array, projections: Int16Array, params: IomParams): Uint8Array {
  const { dim, hashes, q } = params;
  if (z.length !== dim)
    throw new VaultError("INVALID_ARGUMENT", `Vector has length ${z.length}, expected ${dim}.`);
  if (projections.length !== dim * hashes * q) {
    throw new VaultError("INVALID_ARGUMENT", "Projection size does not match the parameters.");
  }
  let nonZero = false;
  for (let k = 0; k < dim; k++) {
    const v = z[k]!;
    if (!Number.isFinite(v)) throw new VaultError("INVALID_ARGUMENT", "Vector contains a non-finite value.");
    if (v !== 0) nonZero = true;
  }
  // A zero vector (e.g. an embedding equal to the profile mean) carries no identity; refuse it
  // rather than emit an all-zero code that would match every other degenerate input.
  if (!nonZero) throw new VaultError("INVALID_ARGUMENT", "Embedding is zero after normalisation.");
  const codes = new Uint8Array(hashes);
  let base = 0;
  for (let h = 0; h < hashes; h++) {
    let best = -Infinity;
    let arg = 0;
    for (let j = 0; j < q; j++) {
      let acc = 0;
      for (let k = 0; k < dim; k++) acc += projections[base + k]! * z[k]!;
      if (acc > best) {
        best = acc;
        arg = j;
      }
      base += dim;
    }
    codes[h] = arg;
  }
  return codes;
}

/**
 * Similarity of two code vectors: the fraction of hash functions whose indices collide, in [0, 1].
 * Unrelated inputs (or codes under different keys) collide with probability ≈ 1/q. No checks of
 * keys or parameters: callers outside evaluation code should use compareTemplates.
 */
export function compareCodes(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length || a.length === 0) {
    throw new VaultError("INVALID_ARGUMENT", "Code vectors must be non-empty and of equal length.");
  }
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}
