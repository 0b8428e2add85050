import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { agglomerate, clusterWindows, MAX_ITEMS, mergeRuns } from "../../src/diarise/cluster.js";
import { bestMapping, diarisationErrorRate } from "../../src/eval/der.js";

/** Unit vectors around `k` random directions in `dim` dimensions, `n` per cluster, with noise. */
function clustered(
  k: number,
  n: number,
  dim: number,
  noise: number,
  seed: number,
): { e: Float32Array[]; truth: number[] } {
  let x = seed;
  const rnd = (): number => {
    x = (x * 1103515245 + 12345) >>> 0;
    return x / 2 ** 32 - 0.5;
  };
  const centres = Array.from({ length: k }, () => Float64Array.from({ length: dim }, rnd));
  const e: Float32Array[] = [];
  const truth: number[] = [];
  for (let i = 0; i < k * n; i++) {
    const c = i % k;
    const v = Float64Array.from(centres[c]!, (m) => m + noise * rnd());
    const norm = Math.hypot(...v);
    e.push(Float32Array.from(v, (y) => y / norm));
    truth.push(c);
  }
  return { e, truth };
}

describe("average-linkage clustering", () => {
  it("finds the number of well-separated groups without being told it", () => {
    for (const k of [1, 2, 3, 5]) {
      const { e, truth } = clustered(k, 12, 40, 0.2, 7 + k);
      const labels = agglomerate(
        e.map((c) => ({ centroid: c, weight: 1 })),
        0.6,
      );
      expect(new Set(labels).size).toBe(k);
      // same truth, same label
      for (let i = 0; i < e.length; i++)
        for (let j = 0; j < e.length; j++) expect(labels[i] === labels[j]).toBe(truth[i] === truth[j]);
    }
  });

  it("merges everything above the threshold and nothing below it", () => {
    const { e } = clustered(3, 6, 40, 0.2, 3);
    const items = e.map((c) => ({ centroid: c, weight: 1 }));
    expect(new Set(agglomerate(items, 1.99)).size).toBe(1);
    expect(new Set(agglomerate(items, 1e-6)).size).toBe(items.length);
  });

  it("a long recording (more runs than MAX_ITEMS) is clustered in blocks, its speakers kept apart", () => {
    // three voices taking turns of 2–8 windows (never one voice twice in a row), 24,000 windows
    // in all (3.3 h of speech): more turns than MAX_ITEMS. Windows of one voice are alike
    // (cosine ≈ 0.8) but never near-identical, so runs are no longer than turns. Clustering
    // runs merged at a lower similarity until they fit (the code before blocks) mixes voices.
    const { e, truth } = clustered(3, 8000, 40, 0.5, 5);
    const pool = [0, 1, 2].map((c) => e.filter((_, i) => truth[i] === c));
    const at = [0, 0, 0];
    const seq: Float32Array[] = [];
    const who: number[] = [];
    let x = 99;
    let c = 0;
    while (seq.length < e.length) {
      x = (x * 1103515245 + 12345) >>> 0;
      c = (c + 1 + ((x >>> 4) % 2)) % 3;
      if (at[c]! >= pool[c]!.length) c = at.findIndex((n, i) => n < pool[i]!.length);
      const len = 2 + ((x >>> 8) % 7);
      for (let i = 0; i < len && at[c]! < pool[c]!.length; i++) {
        seq.push(pool[c]![at[c]!++]!);
        who.push(c);
      }
    }
    expect(mergeRuns(seq, 0.95).runs.length).toBeGreaterThan(MAX_ITEMS);
    const labels = clusterWindows(seq, 0.7);
    expect(new Set(labels).size).toBe(3);
    // each label is one voice: every window of a label has the label's majority voice
    for (const l of new Set(labels)) {
      const mine = who.filter((_, i) => labels[i] === l);
      const top = Math.max(...[0, 1, 2].map((c) => mine.filter((w) => w === c).length));
      expect(top).toBe(mine.length);
    }
  });

  it("up to MAX_ITEMS runs, clusterWindows is average linkage over the runs", () => {
    const { e } = clustered(3, 200, 40, 0.5, 8);
    const { runOf, runs } = mergeRuns(e, 0.95);
    expect(runs.length).toBeLessThanOrEqual(MAX_ITEMS);
    const byRun = agglomerate(runs, 0.7);
    expect([...clusterWindows(e, 0.7)]).toEqual([...runOf].map((r) => byRun[r]!));
  });

  it("windows with nothing in common (noise) end in at most MAX_ITEMS clusters", () => {
    const { e } = clustered(1, 6000, 40, 0, 1);
    let x = 3;
    const noise = e.map((v) =>
      Float32Array.from(v, () => {
        x = (x * 1103515245 + 12345) >>> 0;
        return x / 2 ** 32 - 0.5;
      }),
    );
    const labels = clusterWindows(noise, 0.05);
    expect(new Set(labels).size).toBeLessThanOrEqual(MAX_ITEMS);
    expect(labels.length).toBe(noise.length);
  });

  it("runs of near-identical neighbours collapse, turns stay apart", () => {
    const { e } = clustered(2, 1, 40, 0, 11);
    const seq = [e[0]!, e[0]!, e[0]!, e[1]!, e[1]!, e[0]!];
    const { runOf, runs } = mergeRuns(seq, 0.95);
    expect([...runOf]).toEqual([0, 0, 0, 1, 1, 2]);
    expect(runs.map((r) => r.weight)).toEqual([3, 2, 1]);
  });
});

describe("diarisation error rate (pyannote.metrics definition)", () => {
  const ref = [
    { start: 0, end: 10, speaker: "A" },
    { start: 10, end: 20, speaker: "B" },
  ];
  it("is zero for a perfect hypothesis under any labels", () => {
    const hyp = [
      { start: 0, end: 10, speaker: "x" },
      { start: 10, end: 20, speaker: "y" },
    ];
    expect(diarisationErrorRate(ref, hyp).der).toBe(0);
    expect([...diarisationErrorRate(ref, hyp).mapping]).toEqual([
      ["x", "A"],
      ["y", "B"],
    ]);
  });
  it("counts missed speech, false alarms and confusion, and forgives the collar", () => {
    // B's 10 s given to A's label: confusion, less the collar (0.125 s) after B's start at 10 s
    // and before its end at 20 s
    const merged = diarisationErrorRate(ref, [{ start: 0, end: 20, speaker: "x" }], 0.25);
    expect(merged.confusion).toBeCloseTo(10 - 2 * 0.13, 2);
    expect(merged.der).toBeCloseTo(merged.confusion / merged.total, 6);
    const missed = diarisationErrorRate(ref, [{ start: 0, end: 10, speaker: "x" }], 0);
    expect(missed.missed).toBeCloseTo(10, 1);
    expect(missed.der).toBeCloseTo(0.5, 2);
    const fa = diarisationErrorRate(ref, [...ref, { start: 25, end: 30, speaker: "A" }], 0);
    expect(fa.falseAlarm).toBeCloseTo(5, 1);
  });
  it("counts overlapped reference speech once per speaker", () => {
    const overlap = [
      { start: 0, end: 10, speaker: "A" },
      { start: 5, end: 10, speaker: "B" },
    ];
    const r = diarisationErrorRate(overlap, [{ start: 0, end: 10, speaker: "x" }], 0);
    expect(r.total).toBeCloseTo(15, 1);
    expect(r.missed).toBeCloseTo(5, 1);
  });

  it("the Hungarian mapping finds the best assignment (against brute force)", () => {
    const brute = (w: number[][]): number => {
      const rows = w.length;
      const cols = w[0]!.length;
      let best = 0;
      const go = (i: number, used: Set<number>, s: number): void => {
        if (i === rows) {
          best = Math.max(best, s);
          return;
        }
        go(i + 1, used, s);
        for (let j = 0; j < cols; j++) {
          if (used.has(j)) continue;
          used.add(j);
          go(i + 1, used, s + w[i]![j]!);
          used.delete(j);
        }
      };
      go(0, new Set(), 0);
      return best;
    };
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.nat({ max: 100 }), { minLength: 25, maxLength: 25 }),
        (rows, cols, flat) => {
          const w = Array.from({ length: rows }, (_, i) => flat.slice(i * 5, i * 5 + cols));
          const m = bestMapping(w);
          const cols2 = m.filter((j) => j >= 0);
          expect(new Set(cols2).size).toBe(cols2.length);
          const got = m.reduce((s, j, i) => s + (j >= 0 ? w[i]![j]! : 0), 0);
          expect(got).toBe(brute(w));
        },
      ),
      { numRuns: 200, seed: 42 },
    );
  });
});
