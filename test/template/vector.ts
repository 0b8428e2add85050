/** The documented test vector (docs/template-protection.md, "Test vector"). */

export const VECTOR_KEY = Uint8Array.from({ length: 32 }, (_, i) => i); // 00 01 … 1f
export const VECTOR_DIM = 64;
/** e_i = ((37·i mod 64) − 31.5)/32: exact in binary floating point. */
export const VECTOR_EMBEDDING = Float32Array.from(
  { length: VECTOR_DIM },
  (_, i) => (((37 * i) % 64) - 31.5) / 32,
);
/** Mean μ_i = i/256 (also exact). */
export const VECTOR_MEAN = Float32Array.from({ length: VECTOR_DIM }, (_, i) => i / 256);
export const VECTOR_OPTIONS = {
  profile: { embedderId: "voxvault-test-vector", inputDim: VECTOR_DIM, mean: VECTOR_MEAN },
  hashes: 64,
  q: 16,
} as const;
