/**
 * Unlinkability metrics of Gomez-Barrero, Galbally, Rathgeb, Busch, "General framework to evaluate
 * unlinkability in biometric template protection systems", IEEE TIFS 13(6):1406-1420, 2018, computed
 * as the authors' reference implementation (dasec/unlinkability-metric, evaluateUnlinkability.py)
 * does, so numbers are comparable with the literature:
 *
 * - score range: [min, max] over both sets, split into `bins` equal bins (default 100);
 * - p(s|Hm), p(s|Hnm): normalised histograms (numpy density semantics);
 * - local measure D↔(s) = 2·ωLR/(1 + ωLR) − 1 where ωLR > 1, else 0, with LR = p(s|Hm)/p(s|Hnm);
 *   bins with p(s|Hnm) = 0 get 1, bins with p(s|Hm) = 0 get 0 (the latter wins);
 * - global D↔sys = trapezoidal integral of D↔(s)·p(s|Hm) over the bin centres.
 *
 * D↔sys ∈ [0, 1]: 0 = fully unlinkable (mated and non-mated linkage scores indistinguishable),
 * 1 = fully linkable. ω is the prior ratio p(Hm)/p(Hnm); the paper and the tool use ω = 1.
 * Scores that cannot be binned (all equal, or a range below float resolution) are reported as
 * D↔sys = 0: at any resolution that can be measured the two sets are identical.
 */

import { VaultError } from "../errors.js";
import { histogramDensity, linspaceEdges } from "./histogram.js";
import { sortedScores, type Scores } from "./scores.js";

export interface UnlinkabilityOptions {
  /** Prior ratio ω = p(Hm)/p(Hnm); default 1. */
  readonly omega?: number;
  /** Number of histogram bins; default 100. */
  readonly bins?: number;
}

export interface UnlinkabilityResult {
  /** Global measure D↔sys. */
  readonly dsys: number;
  /** Local measure D↔(s), one value per bin. */
  readonly local: Float64Array;
  readonly binEdges: Float64Array;
  readonly binCentres: Float64Array;
  readonly matedDensity: Float64Array;
  readonly nonMatedDensity: Float64Array;
  readonly omega: number;
  readonly bins: number;
}

/** numpy.trapz(y, x): Σ (x[i+1] − x[i])·(y[i+1] + y[i])/2. */
export function trapezoid(y: Float64Array, x: Float64Array): number {
  let sum = 0;
  for (let i = 1; i < y.length; i++) sum += ((x[i]! - x[i - 1]!) * (y[i]! + y[i - 1]!)) / 2;
  return sum;
}

export function unlinkability(
  mated: Scores,
  nonMated: Scores,
  options: UnlinkabilityOptions = {},
): UnlinkabilityResult {
  const omega = options.omega ?? 1;
  const bins = options.bins ?? 100;
  if (!(Number.isFinite(omega) && omega > 0)) throw new VaultError("INVALID_ARGUMENT", "omega must be > 0.");
  if (!Number.isInteger(bins) || bins < 1 || bins > 1_000_000) {
    throw new VaultError("INVALID_ARGUMENT", "bins must be an integer in [1, 1e6].");
  }
  const m = sortedScores("mated", mated);
  const n = sortedScores("non-mated", nonMated);
  const lo = Math.min(m[0]!, n[0]!);
  const hi = Math.max(m[m.length - 1]!, n[n.length - 1]!);
  const edges = linspaceEdges(lo, hi, bins);
  const centres = new Float64Array(bins);
  for (let i = 0; i < bins; i++) centres[i] = (edges[i + 1]! + edges[i]!) / 2;
  const local = new Float64Array(bins);
  let degenerate = hi === lo;
  for (let i = 0; i < bins; i++) if (!(edges[i + 1]! > edges[i]!)) degenerate = true;
  if (degenerate) {
    return {
      dsys: 0,
      local,
      binEdges: edges,
      binCentres: centres,
      matedDensity: new Float64Array(bins),
      nonMatedDensity: new Float64Array(bins),
      omega,
      bins,
    };
  }
  const y1 = histogramDensity(m, edges);
  const y2 = histogramDensity(n, edges);
  const weighted = new Float64Array(bins);
  for (let i = 0; i < bins; i++) {
    const p1 = y1[i]!;
    const p2 = y2[i]!;
    let d: number;
    if (p1 === 0) d = 0;
    else if (p2 === 0) d = 1;
    else {
      const olr = omega * (p1 / p2);
      d = olr <= 1 ? 0 : 2 * (olr / (1 + olr)) - 1;
    }
    local[i] = d;
    weighted[i] = d * p1;
  }
  return {
    dsys: trapezoid(weighted, centres),
    local,
    binEdges: edges,
    binCentres: centres,
    matedDensity: y1,
    nonMatedDensity: y2,
    omega,
    bins,
  };
}
