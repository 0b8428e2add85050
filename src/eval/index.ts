/**
 * Biometric evaluation metrics: verification error rates (FMR, FNMR, EER per ISO/IEC 19795-1) and
 * the unlinkability metrics of Gomez-Barrero et al. (IEEE TIFS 2018). Browser-safe.
 * Convention everywhere: higher score = more similar; a comparison matches when score >= threshold.
 */

export { equalErrorRate, errorRatesAt, operatingPointAtFmr, rocConvexHull, rocPoints } from "./roc.js";
export type { EerMethod, EerResult, ErrorRates, RocPoint } from "./roc.js";
export { unlinkability, trapezoid } from "./unlinkability.js";
export type { UnlinkabilityOptions, UnlinkabilityResult } from "./unlinkability.js";
export { histogramCounts, histogramDensity, linspaceEdges } from "./histogram.js";
export type { Scores } from "./scores.js";
export { diarisationErrorRate, type DerResult, type Turn } from "./der.js";
