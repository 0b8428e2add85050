/**
 * Embedding profile: which embedder produced the vectors and the fixed, public normalisation
 * (mean-centring, optional linear map such as whitening or LDA from the embedder's training data)
 * applied before protection. Centring matters for ranking-based hashing: IoM / SimHash are
 * angle-sensitive, and an uncentred embedding space puts every speaker in one narrow cone.
 */

import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, utf8ToBytes } from "@noble/hashes/utils.js";
import { VaultError } from "../errors.js";
import { f64le, u32be } from "./bytes.js";

export interface LinearTransform {
  /** Output dimension; the matrix is rows × inputDim, row-major. */
  readonly rows: number;
  readonly data: ArrayLike<number>;
}

export interface EmbeddingProfile {
  /** Names the embedder and its version, e.g. "ecapa-tdnn-192@2025-01"; bound into every template. */
  readonly embedderId: string;
  /** Dimension of the embeddings the embedder emits. */
  readonly inputDim: number;
  /** Subtracted first (public statistics of the embedder's training data). */
  readonly mean?: ArrayLike<number>;
  /** Applied after centring: z = T (x - mean). */
  readonly transform?: LinearTransform;
}

export interface PreparedProfile {
  readonly embedderId: string;
  readonly inputDim: number;
  readonly outputDim: number;
  /** 8-byte digest of the whole profile, stored in each template. */
  readonly profileId: Uint8Array;
  /** Maps a raw embedding to the vector that is hashed (float64, + − × only: engine-exact). */
  apply(embedding: ArrayLike<number>): Float64Array;
}

export const MAX_DIM = 4096;
const PROFILE_DOMAIN = utf8ToBytes("voxvault/template/profile/v1");

function finiteArray(name: string, a: ArrayLike<number>, length: number): Float64Array {
  if (a.length !== length) {
    throw new VaultError("INVALID_ARGUMENT", `${name} has length ${a.length}, expected ${length}.`);
  }
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) {
    const v = a[i]!;
    if (!Number.isFinite(v)) throw new VaultError("INVALID_ARGUMENT", `${name} contains a non-finite value.`);
    out[i] = v;
  }
  return out;
}

export function prepareProfile(profile: EmbeddingProfile): PreparedProfile {
  const { embedderId, inputDim } = profile;
  if (typeof embedderId !== "string" || embedderId.length === 0 || embedderId.length > 200) {
    throw new VaultError(
      "INVALID_ARGUMENT",
      "embedderId must be a non-empty string of at most 200 characters.",
    );
  }
  if (!Number.isInteger(inputDim) || inputDim < 2 || inputDim > MAX_DIM) {
    throw new VaultError("INVALID_ARGUMENT", `inputDim must be an integer in [2, ${MAX_DIM}].`);
  }
  const mean = profile.mean === undefined ? undefined : finiteArray("mean", profile.mean, inputDim);
  let matrix: Float64Array | undefined;
  let outputDim = inputDim;
  if (profile.transform !== undefined) {
    const rows = profile.transform.rows;
    if (!Number.isInteger(rows) || rows < 2 || rows > MAX_DIM) {
      throw new VaultError("INVALID_ARGUMENT", `transform.rows must be an integer in [2, ${MAX_DIM}].`);
    }
    matrix = finiteArray("transform.data", profile.transform.data, rows * inputDim);
    outputDim = rows;
  }
  const idBytes = utf8ToBytes(embedderId);
  const digest = sha256(
    concatBytes(
      PROFILE_DOMAIN,
      u32be(idBytes.length),
      idBytes,
      u32be(inputDim),
      Uint8Array.of(mean ? 1 : 0),
      mean ? f64le(mean) : new Uint8Array(0),
      Uint8Array.of(matrix ? 1 : 0),
      matrix ? concatBytes(u32be(outputDim), f64le(matrix)) : new Uint8Array(0),
    ),
  );
  const profileId = digest.slice(0, 8);

  const apply = (embedding: ArrayLike<number>): Float64Array => {
    const x = finiteArray("embedding", embedding, inputDim);
    if (mean) for (let i = 0; i < inputDim; i++) x[i] = x[i]! - mean[i]!;
    if (!matrix) return x;
    const z = new Float64Array(outputDim);
    for (let r = 0; r < outputDim; r++) {
      let acc = 0;
      const base = r * inputDim;
      for (let c = 0; c < inputDim; c++) acc += matrix[base + c]! * x[c]!;
      z[r] = acc;
    }
    return z;
  };

  return { embedderId, inputDim, outputDim, profileId, apply };
}
