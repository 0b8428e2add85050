/**
 * Normalised histograms with numpy.histogram semantics for an explicit array of edges: bins are
 * [e_i, e_{i+1}) except the last, which is closed; density = count / (total × bin width). Kept
 * numpy-exact because the unlinkability reference implementation is defined through it.
 */

import { VaultError } from "../errors.js";
import { countAtMost, countBelow, sortedScores, type Scores } from "./scores.js";

/** numpy.linspace(lo, hi, bins + 1): e_i = i·step + lo, last edge exactly hi. */
export function linspaceEdges(lo: number, hi: number, bins: number): Float64Array {
  if (!Number.isInteger(bins) || bins < 1)
    throw new VaultError("INVALID_ARGUMENT", "bins must be a positive integer.");
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && hi >= lo)) {
    throw new VaultError("INVALID_ARGUMENT", "Histogram range must be finite with hi >= lo.");
  }
  const step = (hi - lo) / bins;
  const edges = new Float64Array(bins + 1);
  for (let i = 0; i <= bins; i++) edges[i] = i * step + lo;
  edges[bins] = hi;
  return edges;
}

/** Counts per bin; values outside [edges[0], edges[last]] are not counted. */
export function histogramCounts(scores: Scores | Float64Array, edges: Float64Array): Float64Array {
  const sorted =
    scores instanceof Float64Array && isSorted(scores) ? scores : sortedScores("histogram", scores);
  const bins = edges.length - 1;
  const counts = new Float64Array(bins);
  for (let i = 0; i < bins; i++) {
    const upper = i === bins - 1 ? countAtMost(sorted, edges[i + 1]!) : countBelow(sorted, edges[i + 1]!);
    counts[i] = upper - countBelow(sorted, edges[i]!);
  }
  return counts;
}

/** Probability densities per bin (numpy density=True); integrates to 1 over the edges. */
export function histogramDensity(scores: Scores, edges: Float64Array): Float64Array {
  const counts = histogramCounts(scores, edges);
  let total = 0;
  for (const c of counts) total += c;
  const dens = new Float64Array(counts.length);
  if (total === 0) return dens;
  for (let i = 0; i < counts.length; i++) dens[i] = counts[i]! / (edges[i + 1]! - edges[i]!) / total;
  return dens;
}

function isSorted(a: Float64Array): boolean {
  for (let i = 1; i < a.length; i++) if (!(a[i - 1]! <= a[i]!)) return false;
  return true;
}
