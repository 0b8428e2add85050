import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import {
  equalErrorRate,
  errorRatesAt,
  operatingPointAtFmr,
  rocConvexHull,
  rocPoints,
} from "../../src/eval/index.js";

describe("error rates", () => {
  const mated = [0.9, 0.8, 0.7, 0.4];
  const nonMated = [0.1, 0.2, 0.5, 0.3];

  it("FMR/FNMR at a threshold (match when score >= threshold)", () => {
    expect(errorRatesAt(mated, nonMated, 0.5)).toEqual({ fmr: 0.25, fnmr: 0.25 });
    expect(errorRatesAt(mated, nonMated, 0.45)).toEqual({ fmr: 0.25, fnmr: 0.25 });
    expect(errorRatesAt(mated, nonMated, 0.9)).toEqual({ fmr: 0, fnmr: 0.75 });
    expect(errorRatesAt(mated, nonMated, 0)).toEqual({ fmr: 1, fnmr: 0 });
    expect(errorRatesAt(mated, nonMated, Infinity)).toEqual({ fmr: 0, fnmr: 1 });
  });

  it("ROC points run from (0,1) to (1,0), one per distinct score", () => {
    const pts = rocPoints(mated, nonMated);
    expect(pts[0]).toEqual({ threshold: Infinity, fmr: 0, fnmr: 1 });
    expect(pts.at(-1)).toEqual({ threshold: 0.1, fmr: 1, fnmr: 0 });
    expect(pts).toHaveLength(9);
  });

  it("EER on a hand-worked case", () => {
    // Points (FMR, FNMR) for thresholds ∞ .9 .8 .7 .5 .4 .3 .2 .1: (0,1) (0,.75) (0,.5) (0,.25)
    // (.25,.25) (.25,0) (.5,0) (.75,0) (1,0). The step curve touches FMR = FNMR at .25 (threshold
    // .5); the hull goes straight from (0,.25) [t=.7] to (.25,0) [t=.4], crossing the diagonal
    // half-way: EER .125, threshold .7 + .5·(.4 − .7) = .55.
    const rocch = equalErrorRate(mated, nonMated);
    expect(rocch.eer).toBeCloseTo(0.125, 15);
    expect(rocch.threshold).toBeCloseTo(0.55, 15);
    const interp = equalErrorRate(mated, nonMated, "interpolated");
    expect(interp.eer).toBeCloseTo(0.25, 15);
    expect(interp.threshold).toBe(0.5);
  });

  it("EER is 0 for separable scores and 0.5 for identical sets", () => {
    expect(equalErrorRate([3, 4, 5], [0, 1, 2]).eer).toBe(0);
    const s = [0.1, 0.2, 0.3, 0.4];
    expect(equalErrorRate(s, s).eer).toBeCloseTo(0.5, 12);
    expect(equalErrorRate([0.5], [0.5]).eer).toBeCloseTo(0.5, 12);
    // Fully inverted scores: ROCCH never exceeds chance (0.5); the raw curve reaches 1.
    expect(equalErrorRate([0, 1], [2, 3]).eer).toBeCloseTo(0.5, 12);
    expect(equalErrorRate([0, 1], [2, 3], "interpolated").eer).toBeCloseTo(1, 12);
  });

  it("operating point at a target FMR", () => {
    const p = operatingPointAtFmr(mated, nonMated, 0.25);
    expect(p.threshold).toBe(0.4);
    expect(p.fmr).toBe(0.25);
    expect(p.fnmr).toBe(0);
    expect(operatingPointAtFmr(mated, nonMated, 0).fnmr).toBe(0.25);
  });

  fcTest.prop([
    fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 60 }),
    fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 60 }),
  ])("ROCCH EER ≤ interpolated EER, within [0, .5]; hull is convex", (m, n) => {
    const a = equalErrorRate(m, n).eer;
    const b = equalErrorRate(m, n, "interpolated").eer;
    expect(a).toBeGreaterThanOrEqual(0);
    expect(a).toBeLessThanOrEqual(0.5 + 1e-12);
    expect(a).toBeLessThanOrEqual(b + 1e-12);
    const hull = rocConvexHull(rocPoints(m, n));
    for (let i = 2; i < hull.length; i++) {
      const [o, p, q] = [hull[i - 2]!, hull[i - 1]!, hull[i]!];
      expect((p.fmr - o.fmr) * (q.fnmr - o.fnmr) - (p.fnmr - o.fnmr) * (q.fmr - o.fmr)).toBeGreaterThan(0);
    }
  });

  fcTest.prop([
    fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: 1, maxLength: 50 }),
    fc.array(fc.double({ min: -5, max: 5, noNaN: true }), { minLength: 1, maxLength: 50 }),
    fc.double({ min: -5, max: 5, noNaN: true }),
  ])("rates at the EER threshold bracket the EER loosely; monotone in threshold", (m, n, t) => {
    const r1 = errorRatesAt(m, n, t);
    const r2 = errorRatesAt(m, n, t + 0.5);
    expect(r2.fmr).toBeLessThanOrEqual(r1.fmr);
    expect(r2.fnmr).toBeGreaterThanOrEqual(r1.fnmr);
  });
});
