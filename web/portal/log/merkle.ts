/**
 * Merkle proofs of RFC 9162 §2.1: leaf and node hashes (§2.1.1), inclusion (§2.1.3.2) and
 * consistency (§2.1.4.2) verification. Sizes are JavaScript numbers: halving uses Math.floor, never
 * 32-bit shifts, so trees beyond 2^31 leaves verify too.
 */
import { concat, ProofError, same, sha256 } from "./bytes.js";

export const leafHash = (leaf: Uint8Array) => sha256(concat(Uint8Array.of(0), leaf));
const node = (l: Uint8Array, r: Uint8Array) => sha256(concat(Uint8Array.of(1), l, r));
const odd = (n: number) => n % 2 === 1;
const half = (n: number) => Math.floor(n / 2);

export async function verifyInclusion(
  hash: Uint8Array,
  index: number,
  size: number,
  path: readonly Uint8Array[],
  root: Uint8Array,
): Promise<void> {
  if (index >= size) throw new ProofError(`leaf ${index} is outside a tree of ${size}`);
  let fn = index;
  let sn = size - 1;
  let r = hash;
  for (const p of path) {
    if (sn === 0) throw new ProofError("inclusion proof too long");
    if (odd(fn) || fn === sn) {
      r = await node(p, r);
      if (!odd(fn))
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
    } else r = await node(r, p);
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0 || !same(r, root))
    throw new ProofError(`leaf ${index}: inclusion proof does not lead to the root`);
}

export async function verifyConsistency(
  first: number,
  second: number,
  path: readonly Uint8Array[],
  firstRoot: Uint8Array,
  secondRoot: Uint8Array,
): Promise<void> {
  if (first > second) throw new ProofError("the earlier checkpoint is larger than the later one");
  if (first === second) {
    if (path.length !== 0 || !same(firstRoot, secondRoot)) throw new ProofError("same size, different roots");
    return;
  }
  if (first === 0) return; // the empty tree is a prefix of every tree
  // A first tree that is a complete subtree is its own first node (§2.1.4.2 step 2).
  const proof = Number.isInteger(Math.log2(first)) ? [firstRoot, ...path] : [...path];
  if (proof.length === 0) throw new ProofError("empty consistency proof");
  let fn = first - 1;
  let sn = second - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = proof[0]!;
  let sr = proof[0]!;
  for (const c of proof.slice(1)) {
    if (sn === 0) throw new ProofError("consistency proof too long");
    if (odd(fn) || fn === sn) {
      fr = await node(c, fr);
      sr = await node(c, sr);
      if (!odd(fn))
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
    } else sr = await node(sr, c);
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0 || !same(fr, firstRoot) || !same(sr, secondRoot))
    throw new ProofError("the log is not an extension of the checkpoint seen before");
}
