/** Validation and sorting of comparison scores (higher score = more similar, by convention). */

import { VaultError } from "../errors.js";

export type Scores = ArrayLike<number>;

/** A sorted (ascending) float64 copy; rejects empty input and non-finite values. */
export function sortedScores(name: string, scores: Scores): Float64Array {
  if (scores.length === 0) throw new VaultError("INVALID_ARGUMENT", `${name} scores are empty.`);
  const out = new Float64Array(scores.length);
  for (let i = 0; i < scores.length; i++) {
    const v = scores[i]!;
    if (!Number.isFinite(v))
      throw new VaultError("INVALID_ARGUMENT", `${name} scores contain a non-finite value.`);
    out[i] = v;
  }
  return out.sort();
}

/** Number of elements of the ascending array `a` that are < x (strict) — binary search. */
export function countBelow(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Number of elements of the ascending array `a` that are <= x. */
export function countAtMost(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
