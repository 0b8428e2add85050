import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { isVaultError } from "../../src/errors.js";
import { histogramCounts, linspaceEdges, unlinkability } from "../../src/eval/index.js";

// Exact rational score sets: the same doubles in JS and in numpy.
const mated = Array.from({ length: 200 }, (_, i) => (((i * 37) % 101) / 101) * 0.6 + 0.4);
const nonMated = Array.from({ length: 500 }, (_, j) => (((j * 53) % 97) / 97) * 0.7);

describe("unlinkability (Gomez-Barrero et al., TIFS 2018)", () => {
  it("matches a case computed by hand", () => {
    // 2 bins on [0, 1]: edges 0, .5, 1; centres .25, .75.
    // p(s|Hm) = [1, 3]/(4·.5) = [.5, 1.5]; p(s|Hnm) = [1.5, .5]; LR = [1/3, 3];
    // D = [0, 2·(3/4) − 1 = .5]; Dsys = (.75 − .25)·(0·.5 + .5·1.5)/2 = .1875.
    const r = unlinkability([0, 1, 1, 1], [0, 0, 0, 1], { bins: 2 });
    expect(Array.from(r.binCentres)).toEqual([0.25, 0.75]);
    expect(Array.from(r.matedDensity)).toEqual([0.5, 1.5]);
    expect(Array.from(r.nonMatedDensity)).toEqual([1.5, 0.5]);
    expect(Array.from(r.local)).toEqual([0, 0.5]);
    expect(r.dsys).toBeCloseTo(0.1875, 15);
  });

  it("matches values produced by the reference script's numpy steps", () => {
    // Produced with the exact statements of dasec/unlinkability-metric evaluateUnlinkability.py
    // (numpy 2.4, trapz → trapezoid) on the score sets above.
    const r = unlinkability(mated, nonMated);
    expect(r.dsys).toBeCloseTo(0.5763333333333335, 12);
    expect(r.local.reduce((a, b) => a + b, 0)).toBeCloseTo(34.11666666666667, 10);
    expect(r.local.filter((d) => d > 0).length).toBe(44);
    expect(unlinkability(mated, nonMated, { omega: 0.5, bins: 37 }).dsys).toBeCloseTo(
      0.47000000000000003,
      12,
    );
  });

  it("is ~0 for identical distributions and 1 for disjoint ones", () => {
    const same = Array.from({ length: 1000 }, (_, i) => ((i * 7919) % 1000) / 1000);
    expect(unlinkability(same, same).dsys).toBe(0);
    const low = Array.from({ length: 300 }, (_, i) => i / 1000);
    const high = Array.from({ length: 300 }, (_, i) => 0.7 + i / 1000);
    const r = unlinkability(high, low, { bins: 100 });
    // Trapezoid over bin centres of a density that is 1 wherever it is non-zero: the full mass minus
    // half of the two outermost occupied bins; with these sets that is 1 − 0.5·(1/30)... ≈ 0.97–1.
    expect(r.dsys).toBeGreaterThan(0.95);
    expect(r.dsys).toBeLessThanOrEqual(1);
    for (let i = 0; i < r.bins; i++) if (r.matedDensity[i]! > 0) expect(r.local[i]).toBe(1);
  });

  it("is ~0 for two large samples of one distribution", () => {
    let s = 12345;
    const rnd = (): number => ((s = (s * 1103515245 + 12345) % 2147483648), s / 2147483648);
    const a = Array.from({ length: 20000 }, () => rnd() + rnd() + rnd());
    const b = Array.from({ length: 20000 }, () => rnd() + rnd() + rnd());
    expect(unlinkability(a, b).dsys).toBeLessThan(0.06);
  });

  it("handles degenerate and invalid input", () => {
    expect(unlinkability([0.5, 0.5], [0.5]).dsys).toBe(0);
    expect(() => unlinkability([], [1])).toThrow();
    try {
      unlinkability([Number.NaN], [1]);
      expect.unreachable();
    } catch (e) {
      expect(isVaultError(e, "INVALID_ARGUMENT")).toBe(true);
    }
    expect(() => unlinkability([1], [0], { omega: 0 })).toThrow();
  });

  fcTest.prop([
    fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 1, maxLength: 200 }),
    fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 1, maxLength: 200 }),
  ])("D↔sys lies in [0, 1] and D↔(s) in [0, 1]", (m, n) => {
    const r = unlinkability(m, n);
    expect(r.dsys).toBeGreaterThanOrEqual(0);
    expect(r.dsys).toBeLessThanOrEqual(1 + 1e-12);
    for (const d of r.local) expect(d >= 0 && d <= 1).toBe(true);
  });
});

describe("numpy-compatible histogram", () => {
  it("uses half-open bins with a closed last bin", () => {
    const edges = linspaceEdges(0, 1, 4);
    expect(Array.from(edges)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(Array.from(histogramCounts([0, 0.25, 0.5, 0.99, 1, 1, 2], edges))).toEqual([1, 1, 1, 3]);
  });
});
