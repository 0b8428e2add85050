import { describe, expect, it } from "vitest";
import { loadSentences } from "../../bench/privacy/corpus.js";
import {
  DERIVED_SPEAKERS,
  MBROLA_HELDOUT,
  MBROLA_TRAINING,
  REAL_SPEAKERS,
  type Lang,
} from "../../bench/privacy/voices.js";
import {
  baseVoice,
  FOLDS,
  mbrolaPseudoSpeakers,
  trainingPseudoSpeakers,
} from "../../scripts/embedder/corpus.js";
import { cholesky, invertLower, matmul, symmetricEigen, transpose } from "../../scripts/embedder/linalg.js";
import { trainingSentences } from "../../scripts/embedder/sentences.js";
import { serialiseModel, trainModel, DEFAULT_SETTINGS } from "../../scripts/embedder/train.js";
import { parseDspModel, projectStats, statsDim } from "../../src/embed/index.js";
import { TestRng } from "./signals.js";

const LANGS: Lang[] = ["en", "cs", "fi", "it", "ca", "ru", "hi"];

describe("training corpus is kept apart from the evaluation corpus", () => {
  it("no training sentence is an evaluation sentence, and there are enough of them", () => {
    for (const lang of LANGS) {
      const evalSet = new Set(loadSentences(lang).map((s) => s.toLowerCase()));
      const train = trainingSentences(lang);
      expect(train.length).toBe(1728);
      expect(new Set(train).size).toBe(train.length);
      for (const s of train) expect(evalSet.has(s.toLowerCase())).toBe(false);
    }
  });

  it("training pseudo-speakers stay >= 120 cents from every evaluation pseudo-speaker of the same voice", () => {
    const pseudo = trainingPseudoSpeakers();
    expect(pseudo.length).toBeGreaterThanOrEqual(80);
    const evalIds = new Set(DERIVED_SPEAKERS.map((d) => d.id));
    for (const p of pseudo) {
      expect(evalIds.has(p.id)).toBe(false);
      for (const d of DERIVED_SPEAKERS.filter((x) => x.base === p.base)) {
        expect(Math.abs(d.transform!.pitchCents - p.transform!.pitchCents)).toBeGreaterThanOrEqual(120);
      }
    }
  });

  it("the two folds partition the real training voices", () => {
    const all = FOLDS.flat().sort();
    expect(all).toEqual([...REAL_SPEAKERS, ...MBROLA_TRAINING].map((s) => s.id).sort());
    expect(baseVoice("kal-tp150")).toBe("kal");
    expect(baseVoice("awb")).toBe("awb");
    expect(baseVoice("mb_ar1-mp350")).toBe("mb_ar1");
  });

  it("held-out voices are never trained on: not in a fold, not a base of a pseudo-speaker", () => {
    const held = new Set(MBROLA_HELDOUT.map((s) => s.id));
    expect(held.size).toBe(MBROLA_HELDOUT.length);
    expect(FOLDS.flat().filter((v) => held.has(v))).toEqual([]);
    expect(MBROLA_TRAINING.filter((s) => held.has(s.id))).toEqual([]);
    const voices = new Set(MBROLA_HELDOUT.flatMap((s) => s.voices.map((v) => v.voice)));
    for (const p of [...mbrolaPseudoSpeakers(), ...MBROLA_TRAINING])
      for (const v of p.voices) expect(voices.has(v.voice)).toBe(false);
  });
});

describe("training linear algebra", () => {
  const r = new TestRng(3);
  const n = 12;
  const a = Float64Array.from({ length: n * n }, () => r.normal());
  const spd = matmul(a, transpose(a, n, n), n, n, n);
  for (let i = 0; i < n; i++) spd[i * n + i]! += 0.5;

  it("Jacobi eigendecomposition reconstructs the matrix, eigenvalues descending", () => {
    const { values, vectors } = symmetricEigen(spd, n);
    for (let i = 1; i < n; i++) expect(values[i]!).toBeLessThanOrEqual(values[i - 1]!);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += vectors[k * n + i]! * values[k]! * vectors[k * n + j]!;
        expect(s).toBeCloseTo(spd[i * n + j]!, 8);
      }
    }
  });

  it("Cholesky and the lower-triangular inverse", () => {
    const L = cholesky(spd, n);
    const back = matmul(L, transpose(L, n, n), n, n, n);
    for (let i = 0; i < n * n; i++) expect(back[i]).toBeCloseTo(spd[i]!, 9);
    const eye = matmul(invertLower(L, n), L, n, n, n);
    for (let i = 0; i < n; i++)
      for (let j = 0; j < n; j++) expect(eye[i * n + j]).toBeCloseTo(i === j ? 1 : 0, 9);
  });
});

describe("projection training", () => {
  it("learns class structure: same-class cosine well above different-class on held-out vectors", () => {
    const dim = statsDim(DEFAULT_SETTINGS.numCeps);
    const r = new TestRng(5);
    const centres = Array.from({ length: 30 }, () => Float64Array.from({ length: dim }, () => r.normal()));
    // A strong nuisance direction shared by everyone (a "channel"), which LDA should discount.
    const nuisance = Float64Array.from({ length: dim }, () => r.normal());
    const sample = (c: number): Float64Array =>
      Float64Array.from(
        centres[c]!,
        (v, i) => v + 0.6 * r.normal() + (4 * r.normal() * nuisance[i]!) / Math.sqrt(dim),
      );
    const data = centres.flatMap((_, c) =>
      Array.from({ length: 8 }, (_, k) => ({ id: `${c}-${k}`, speaker: `s${c}`, stats: sample(c) })),
    );
    const model = parseDspModel(serialiseModel(trainModel(data, { ...DEFAULT_SETTINGS, dim: 20 }, {})));
    expect(model.dim).toBe(20);
    const e = centres.map(
      (_, c) => [projectStats(model, sample(c)), projectStats(model, sample(c))] as const,
    );
    const cos = (x: Float32Array, y: Float32Array): number => x.reduce((s, v, i) => s + v * y[i]!, 0);
    const same = e.reduce((s, [x, y]) => s + cos(x, y), 0) / e.length;
    const diff = e.reduce((s, [x], i) => s + cos(x, e[(i + 1) % e.length]![0]), 0) / e.length;
    expect(same).toBeGreaterThan(0.8);
    expect(Math.abs(diff)).toBeLessThan(0.2);
  });
});
