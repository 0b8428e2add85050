/**
 * Verification error rates (ISO/IEC 19795-1 terms): a comparison is a match when score >= threshold.
 * FMR = share of non-mated comparisons that match; FNMR = share of mated comparisons that do not.
 *
 * EER: by default the ROC convex hull EER ("ROCCH-EER") of the BOSARIS toolkit (Brümmer & de
 * Villiers 2011; Brümmer & du Preez, "Application-independent evaluation of speaker detection",
 * CSL 2006): the error rate where the lower convex hull of the empirical (FMR, FNMR) points meets
 * FMR = FNMR. The hull is the curve achievable by (randomised) thresholding of the calibrated
 * scores; it never exceeds the step curve and is well defined with ties and few trials. The
 * alternative "interpolated" linearly interpolates the raw step curve between the last point with
 * FNMR > FMR and the first with FNMR <= FMR (what most toolkits report for large trial sets).
 */

import { VaultError } from "../errors.js";
import { countBelow, sortedScores, type Scores } from "./scores.js";

export interface ErrorRates {
  readonly fmr: number;
  readonly fnmr: number;
}

export interface RocPoint extends ErrorRates {
  /** Accept when score >= threshold; +Infinity accepts nothing. */
  readonly threshold: number;
}

export type EerMethod = "rocch" | "interpolated";

export interface EerResult {
  readonly eer: number;
  /** Threshold interpolated between the two operating points that bracket the EER. */
  readonly threshold: number;
  readonly method: EerMethod;
  readonly mated: number;
  readonly nonMated: number;
}

/** FMR and FNMR at one threshold (match when score >= threshold). */
export function errorRatesAt(mated: Scores, nonMated: Scores, threshold: number): ErrorRates {
  if (Number.isNaN(threshold)) throw new VaultError("INVALID_ARGUMENT", "threshold is NaN.");
  const m = sortedScores("mated", mated);
  const n = sortedScores("non-mated", nonMated);
  return {
    fmr: (n.length - countBelow(n, threshold)) / n.length,
    fnmr: countBelow(m, threshold) / m.length,
  };
}

/**
 * The empirical ROC/DET operating points, one per distinct score plus threshold +Infinity, in
 * order of decreasing threshold: from (FMR 0, FNMR 1) to (FMR 1, FNMR 0).
 */
export function rocPoints(mated: Scores, nonMated: Scores): RocPoint[] {
  const m = sortedScores("mated", mated);
  const n = sortedScores("non-mated", nonMated);
  const all = new Float64Array(m.length + n.length);
  all.set(m, 0);
  all.set(n, m.length);
  all.sort();
  const points: RocPoint[] = [{ threshold: Infinity, fmr: 0, fnmr: 1 }];
  for (let i = all.length - 1; i >= 0; i--) {
    const t = all[i]!;
    if (i < all.length - 1 && all[i + 1] === t) continue;
    points.push({
      threshold: t,
      fmr: (n.length - countBelow(n, t)) / n.length,
      fnmr: countBelow(m, t) / m.length,
    });
  }
  return points;
}

function cross(o: RocPoint, a: RocPoint, b: RocPoint): number {
  return (a.fmr - o.fmr) * (b.fnmr - o.fnmr) - (a.fnmr - o.fnmr) * (b.fmr - o.fmr);
}

/** Lower convex hull of the ROC points in the (FMR, FNMR) plane, FMR ascending (Andrew's chain). */
export function rocConvexHull(points: readonly RocPoint[]): RocPoint[] {
  const sorted = [...points].sort((a, b) => a.fmr - b.fmr || a.fnmr - b.fnmr);
  const hull: RocPoint[] = [];
  for (const p of sorted) {
    while (hull.length >= 2 && cross(hull[hull.length - 2]!, hull[hull.length - 1]!, p) <= 0) hull.pop();
    hull.push(p);
  }
  return hull;
}

function interpolateThreshold(a: number, b: number, t: number): number {
  if (!Number.isFinite(a)) return b;
  if (!Number.isFinite(b)) return a;
  return a + t * (b - a);
}

/** Crossing of a polyline (ordered by FMR ascending) with FMR = FNMR. */
function crossing(curve: readonly RocPoint[]): { eer: number; threshold: number } {
  for (let i = 1; i < curve.length; i++) {
    const p = curve[i - 1]!;
    const c = curve[i]!;
    const dp = p.fnmr - p.fmr;
    const dc = c.fnmr - c.fmr;
    if (dp >= 0 && dc <= 0) {
      const t = dp === dc ? 0 : dp / (dp - dc);
      return {
        eer: p.fmr + t * (c.fmr - p.fmr),
        threshold: interpolateThreshold(p.threshold, c.threshold, t),
      };
    }
  }
  // Unreachable: every curve runs from (0, ≥0) to (1, 0).
  throw new VaultError("INTERNAL", "ROC curve does not cross FMR = FNMR.");
}

/** Equal error rate and the threshold there; see the module comment for the two methods. */
export function equalErrorRate(mated: Scores, nonMated: Scores, method: EerMethod = "rocch"): EerResult {
  const points = rocPoints(mated, nonMated);
  const curve = method === "rocch" ? rocConvexHull(points) : points;
  const { eer, threshold } = crossing(curve);
  return { eer, threshold, method, mated: mated.length, nonMated: nonMated.length };
}

/**
 * The operating point with the lowest threshold whose FMR does not exceed `targetFmr`
 * (e.g. FNMR @ FMR = 1 %). Thresholds are taken from the observed scores.
 */
export function operatingPointAtFmr(mated: Scores, nonMated: Scores, targetFmr: number): RocPoint {
  if (!(targetFmr >= 0 && targetFmr <= 1))
    throw new VaultError("INVALID_ARGUMENT", "targetFmr must be in [0, 1].");
  let best: RocPoint | undefined;
  for (const p of rocPoints(mated, nonMated)) if (p.fmr <= targetFmr) best = p;
  return best!;
}
