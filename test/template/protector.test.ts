import { describe, expect, it } from "vitest";
import { isVaultError } from "../../src/errors.js";
import { equalErrorRate, unlinkability } from "../../src/eval/index.js";
import {
  compareCodes,
  compareTemplates,
  createTemplateProtector,
  type ProtectedTemplate,
} from "../../src/template/index.js";
import { Rng, cosine, syntheticSpeakers, trialScores } from "./synthetic.js";

const DIM = 64;
const rng = new Rng(7);
const KEY_A = rng.bytes(32);
const KEY_B = rng.bytes(32);
const profile = { embedderId: "synthetic@1", inputDim: DIM } as const;

function expectCode(f: () => unknown, code: string, reason?: string): void {
  try {
    f();
    expect.unreachable();
  } catch (e) {
    expect(isVaultError(e)).toBe(true);
    expect((e as { code: string }).code).toBe(code);
    if (reason !== undefined)
      expect((e as { details?: Record<string, unknown> }).details?.reason).toBe(reason);
  }
}

describe("GRP-IoM template protector", () => {
  const set = syntheticSpeakers(11, 100, 5, DIM, 1.0, 0.7);
  const mean = new Float64Array(DIM);
  for (const row of set.emb) for (const e of row) for (let i = 0; i < DIM; i++) mean[i]! += e[i]! / (60 * 5);
  const centred = set.emb.map((row) => row.map((e) => e.map((v, i) => v - mean[i]!)));
  const pa = createTemplateProtector(KEY_A, { profile: { ...profile, mean } });
  const pb = createTemplateProtector(KEY_B, { profile: { ...profile, mean } });
  const ta = set.emb.map((row) => row.map((e) => pa.protect(e)));
  const tb = set.emb.map((row) => row.map((e) => pb.protect(e)));

  it("is deterministic and invariant to the embedding's scale (after centring)", () => {
    const p = createTemplateProtector(KEY_A, { profile });
    const e = centred[0]![0]!;
    const t1 = p.protect(e);
    expect(p.protect(Float32Array.from(e)).codes.length).toBe(1024);
    expect(createTemplateProtector(KEY_A, { profile }).protect(e)).toEqual(t1);
    expect(p.protect(e.map((v) => v * 3.5)).codes).toEqual(t1.codes);
    expect(p.compare(t1, p.protect(e.map((v) => -v)))).toBeLessThan(0.1);
  });

  it("preserves verification performance: protected EER within 1 point of cosine EER", () => {
    const raw = trialScores(centred, cosine);
    const prot = trialScores(ta, (a, b) => compareTemplates(a, b));
    const e0 = equalErrorRate(raw.mated, raw.nonMated).eer;
    const e1 = equalErrorRate(prot.mated, prot.nonMated).eer;
    expect(e0).toBeGreaterThan(0.005); // the task is not trivially separable
    console.log(`synthetic EER: cosine ${e0.toFixed(4)}, protected ${e1.toFixed(4)}`);
    expect(Math.abs(e1 - e0)).toBeLessThan(0.01);
  });

  it("renewable and unlinkable: templates under another key score like strangers", () => {
    // Cross-key linkage attempts: A-template of session 0 vs B-template of session k.
    const cross = trialScores(
      ta.map((row, s) => row.map((t, k) => ({ a: t, b: tb[s]![k]! }))),
      (x, y) => compareCodes(x.a.codes, y.b.codes),
    );
    const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;
    expect(Math.abs(mean(cross.mated) - 1 / 4)).toBeLessThan(0.01);
    expect(Math.abs(mean(cross.nonMated) - 1 / 4)).toBeLessThan(0.01);
    expect(equalErrorRate(cross.mated, cross.nonMated).eer).toBeGreaterThan(0.4);
    // Few mated pairs (240) make the histogram estimate noisy; the same-key system is fully linkable.
    expect(unlinkability(cross.mated, cross.nonMated).dsys).toBeLessThan(0.15);
    const same = trialScores(ta, (a, b) => compareCodes(a.codes, b.codes));
    expect(unlinkability(same.mated, same.nonMated).dsys).toBeGreaterThan(0.8);
  });

  it("refuses to compare templates of different keys, profiles or parameters", () => {
    const a = ta[0]![0]!;
    const b = tb[0]![0]!;
    expectCode(() => compareTemplates(a, b), "TEMPLATE_MISMATCH", "key");
    expectCode(() => pa.compare(b, b), "TEMPLATE_MISMATCH", "key");
    expectCode(() => pa.verify(b, set.emb[0]![1]!), "TEMPLATE_MISMATCH", "key");
    const other = createTemplateProtector(KEY_A, { profile: { ...profile, embedderId: "synthetic@2" } });
    expectCode(() => compareTemplates(a, other.protect(set.emb[0]![0]!)), "TEMPLATE_MISMATCH", "profile");
    const short = createTemplateProtector(KEY_A, { profile, hashes: 128 });
    expectCode(() => compareTemplates(a, short.protect(set.emb[0]![0]!)), "TEMPLATE_MISMATCH", "params");
    const tampered: ProtectedTemplate = { ...a, keyId: b.keyId };
    expect(() => pa.compare(a, tampered)).toThrow();
    expect(pa.verify(pa.protectToBytes(set.emb[3]![0]!), set.emb[3]![1]!)).toBeGreaterThan(0.4); // strangers ≈ 1/4
  });

  it("different profiles under one key give independent projections", () => {
    const p1 = createTemplateProtector(KEY_A, { profile });
    const p2 = createTemplateProtector(KEY_A, { profile: { ...profile, embedderId: "synthetic@2" } });
    const e = centred[1]![0]!;
    expect(compareCodes(p1.protect(e).codes, p2.protect(e).codes)).toBeLessThan(0.3);
  });

  it("applies a whitening/LDA transform from the profile", () => {
    const rows = 32;
    const r = new Rng(3);
    const data = Float64Array.from({ length: rows * DIM }, () => r.normal());
    const p = createTemplateProtector(KEY_A, { profile: { ...profile, mean, transform: { rows, data } } });
    expect(p.params.dim).toBe(rows);
    const t = p.protect(set.emb[0]![0]!);
    expect(t.dim).toBe(rows);
    expect(p.compare(t, p.protect(set.emb[0]![1]!))).toBeGreaterThan(
      p.compare(t, p.protect(set.emb[1]![1]!)),
    );
  });

  it("validates keys, parameters and embeddings", () => {
    expectCode(() => createTemplateProtector(new Uint8Array(16), { profile }), "INVALID_ARGUMENT");
    expectCode(() => createTemplateProtector(new Uint8Array(32), { profile }), "INVALID_ARGUMENT");
    expectCode(() => createTemplateProtector(KEY_A, { profile, q: 1 }), "INVALID_ARGUMENT");
    expectCode(() => createTemplateProtector(KEY_A, { profile, q: 257 }), "INVALID_ARGUMENT");
    expectCode(() => createTemplateProtector(KEY_A, { profile, hashes: 0 }), "INVALID_ARGUMENT");
    expectCode(() => createTemplateProtector(KEY_A, { profile, hashes: 4096, q: 256 }), "INVALID_ARGUMENT");
    expectCode(
      () => createTemplateProtector(KEY_A, { profile: { ...profile, embedderId: "" } }),
      "INVALID_ARGUMENT",
    );
    expectCode(
      () => createTemplateProtector(KEY_A, { profile: { ...profile, mean: [1, 2] } }),
      "INVALID_ARGUMENT",
    );
    const p = createTemplateProtector(KEY_A, { profile, hashes: 32 });
    expectCode(() => p.protect(new Float32Array(DIM - 1)), "INVALID_ARGUMENT");
    expectCode(() => p.protect(new Float32Array(DIM)), "INVALID_ARGUMENT");
    expectCode(() => p.protect(new Float64Array(DIM).fill(Number.NaN)), "INVALID_ARGUMENT");
    p.dispose();
    expectCode(() => p.protect(set.emb[0]![0]!), "INVALID_ARGUMENT");
  });
});
