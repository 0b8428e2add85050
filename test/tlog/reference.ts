/**
 * A deliberately naive RFC 9162 §2.1 reference, written straight from the recursive definitions
 * with array slicing and no shared code with src/tlog: the oracle the real implementations are
 * checked against. Quadratic in places; only for small trees.
 */

import { createHash, randomBytes } from "node:crypto";

export type RefHash = Buffer;

const sha256 = (...parts: Uint8Array[]): RefHash => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
};

export const refLeafHash = (data: Uint8Array): RefHash => sha256(Buffer.from([0x00]), data);
const refNode = (l: Uint8Array, r: Uint8Array): RefHash => sha256(Buffer.from([0x01]), l, r);

/** Largest power of two strictly smaller than n (n >= 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D) over leaf hashes D (so MTH({d}) is the given leaf hash). */
export function refMth(D: readonly Uint8Array[]): RefHash {
  if (D.length === 0) return sha256();
  if (D.length === 1) return Buffer.from(D[0]!);
  const k = split(D.length);
  return refNode(refMth(D.slice(0, k)), refMth(D.slice(k)));
}

/** PATH(m, D). */
export function refPath(m: number, D: readonly Uint8Array[]): RefHash[] {
  if (D.length <= 1) return [];
  const k = split(D.length);
  return m < k
    ? [...refPath(m, D.slice(0, k)), refMth(D.slice(k))]
    : [...refPath(m - k, D.slice(k)), refMth(D.slice(0, k))];
}

/** PROOF(m, D) = SUBPROOF(m, D, true). */
export function refProof(m: number, D: readonly Uint8Array[]): RefHash[] {
  return refSubproof(m, D, true);
}

function refSubproof(m: number, D: readonly Uint8Array[], b: boolean): RefHash[] {
  if (m === D.length) return b ? [] : [refMth(D)];
  const k = split(D.length);
  return m <= k
    ? [...refSubproof(m, D.slice(0, k), b), refMth(D.slice(k))]
    : [...refSubproof(m - k, D.slice(k), false), refMth(D.slice(0, k))];
}

export const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
export const hexList = (l: readonly Uint8Array[]): string[] => l.map(hex);
export const fromHex = (s: string): Buffer => Buffer.from(s, "hex");

/** n distinct pseudo-random leaf hashes. */
export function randomLeaves(n: number): Buffer[] {
  return Array.from({ length: n }, () => randomBytes(32));
}

/** Deterministic leaf hashes: leafHash of the big-endian index. Cheap to regenerate. */
export function indexLeaves(from: number, to: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = from; i < to; i++) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(i));
    out.push(refLeafHash(b));
  }
  return out;
}
