/**
 * The shapes of RFC 9162 proofs, computed from sizes alone.
 *
 * Every hash in an inclusion or consistency proof is MTH(D[lo:hi]) for some leaf range. These
 * functions return those ranges in proof order; merkle.ts evaluates them over an in-memory leaf
 * list and tree.ts over stored tiles, so the two share one statement of the RFC recursion.
 *
 * Sizes are JavaScript numbers (safe integers, < 2^53), so no 32-bit bitwise operators here.
 */

import { VaultError } from "../errors.js";

/** A leaf range [lo, hi) whose Merkle Tree Hash is one proof element. */
export interface LeafRange {
  readonly lo: number;
  readonly hi: number;
}

/** A perfect subtree: the 2^height leaves starting at index * 2^height. */
export interface Subtree {
  readonly height: number;
  readonly index: number;
}

/** RFC 9162 §2.1.1: "k is the largest power of two smaller than n"; requires n >= 2. */
export function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** RFC 9162 §2.1.3.1 PATH(m, D[n]) as the list of ranges whose hashes form the proof. */
export function inclusionRanges(index: number, size: number): LeafRange[] {
  const out: LeafRange[] = [];
  pathRanges(index, 0, size, out);
  return out;
}

function pathRanges(m: number, lo: number, hi: number, out: LeafRange[]): void {
  if (hi - lo <= 1) return; // PATH(0, {d(0)}) = {}
  const k = largestPowerOfTwoBelow(hi - lo);
  if (m < lo + k) {
    pathRanges(m, lo, lo + k, out); // PATH(m, D[0:k]) : MTH(D[k:n])
    out.push({ lo: lo + k, hi });
  } else {
    pathRanges(m, lo + k, hi, out); // PATH(m - k, D[k:n]) : MTH(D[0:k])
    out.push({ lo, hi: lo + k });
  }
}

/** RFC 9162 §2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true), for 0 < m <= n. */
export function consistencyRanges(oldSize: number, newSize: number): LeafRange[] {
  const out: LeafRange[] = [];
  subproofRanges(oldSize, 0, newSize, true, out);
  return out;
}

// `m` is absolute (the old tree is D[0:m]); the RFC's relative m is m - lo.
function subproofRanges(m: number, lo: number, hi: number, original: boolean, out: LeafRange[]): void {
  if (m === hi) {
    // SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])}
    if (!original) out.push({ lo, hi });
    return;
  }
  const k = largestPowerOfTwoBelow(hi - lo);
  if (m - lo <= k) {
    subproofRanges(m, lo, lo + k, original, out); // SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
    out.push({ lo: lo + k, hi });
  } else {
    subproofRanges(m, lo + k, hi, false, out); // SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
    out.push({ lo, hi: lo + k });
  }
}

/**
 * Splits a range from the RFC recursion into perfect subtrees, largest (leftmost) first.
 *
 * Every range the recursion visits starts at a multiple of the smallest power of two >= its
 * width, so the binary digits of (hi - lo), high to low, give aligned perfect subtrees, and
 * MTH(D[lo:hi]) is their right fold: node(t0, node(t1, ... node(t_{j-1}, t_j))).
 */
export function perfectSubtrees(lo: number, hi: number): Subtree[] {
  const out: Subtree[] = [];
  let at = lo;
  let remaining = hi - lo;
  let size = 1;
  let height = 0;
  while (size * 2 <= remaining) {
    size *= 2;
    height++;
  }
  for (; remaining > 0; size /= 2, height--) {
    if (size > remaining) continue;
    if (at % size !== 0) {
      throw new VaultError("INTERNAL", `range [${lo}, ${hi}) is not an RFC 9162 subtree range`);
    }
    out.push({ height, index: at / size });
    at += size;
    remaining -= size;
  }
  return out;
}
