/**
 * Privacy evaluation of template protection on the bench corpus. Scenarios (VoicePrivacy-style
 * attacker knowledge, Tomashenko et al. 2020/2022; ISO/IEC 30136 for template-protection testing):
 *
 *  U  unprotected      cosine of normalised embeddings (the reference the scheme must preserve)
 *  P  protected        IoM score, enrolment and probe under the same template key (normal use)
 *  G  no key           attacker holds the stored templates (key A) and the victims' own voice,
 *                      protects the voice under a guessed key G            → expected EER ≈ 50 %
 *  X  cross-key        same people enrolled in two systems (keys A and B): linkage scores, EER
 *                      and D↔sys (Gomez-Barrero et al. 2018)             → expected ≈ 50 %, ≈ 0
 *  S  stolen key       attacker holds the templates AND key A: reconstructs an embedding from each
 *                      template (mean winning direction) and (i) compares it with the victims'
 *                      probe embeddings by cosine, (ii) replays its IoM code against the system.
 *
 * Every scenario is reported over all speakers and over real (non-derived) speakers only.
 */

import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  equalErrorRate,
  errorRatesAt,
  operatingPointAtFmr,
  unlinkability,
  type UnlinkabilityResult,
} from "../../src/eval/index.js";
import {
  compareCodes,
  createTemplateProtector,
  DEFAULT_HASHES,
  DEFAULT_Q,
  deriveProjections,
  encodeTemplate,
  iomHash,
  prepareProfile,
  type EmbeddingProfile,
  type TemplateProtector,
} from "../../src/template/index.js";
import type { CorpusManifest, UtteranceEntry } from "./corpus.js";
import { BLUE, GREEN, RED, writeHistogramPlot } from "./plot.js";
import { SeededRng } from "./rng.js";
import { readWav } from "./wav.js";

export type Embedder = (pcm16k: Float32Array) => Float32Array;

export interface EvaluationOptions {
  readonly corpusDir: string;
  readonly outDir: string;
  /** Computes each utterance's embedding; not needed when `embeddings` are given. */
  readonly embedder?: Embedder;
  /** Precomputed embeddings by utterance id (e.g. from an asynchronous, streaming embedder). */
  readonly embeddings?: ReadonlyMap<string, Float32Array>;
  /**
   * The embedder's own public profile (from its training). Without one, a profile is fitted on
   * the enrolment utterances (mean and per-dimension scale), as for the stand-in.
   */
  readonly profile?: EmbeddingProfile;
  /** Seconds spent computing `embeddings`, for the report. */
  readonly embedSeconds?: number;
  readonly embedderId: string;
  /** True for the stand-in: the report then says so in every heading. */
  readonly standIn: boolean;
  readonly hashes?: number;
  readonly q?: number;
  /** Further independent key pairs for the cross-key linkage scenario (default 5). */
  readonly crossKeyPairs?: number;
  /** (m, q) pairs for the stolen-key trade-off table; [] to skip. */
  readonly sweep?: readonly (readonly [number, number])[];
  readonly log?: (line: string) => void;
}

export interface SweepRow {
  readonly hashes: number;
  readonly q: number;
  readonly bytes: number;
  readonly protectedEer: number;
  readonly reconstructionCosine: number;
  readonly reconstructionEer: number;
}

export const DEFAULT_SWEEP: readonly (readonly [number, number])[] = [
  [32, 4],
  [64, 4],
  [128, 4],
  [256, 4],
  [512, 4],
  [1024, 4],
  [2048, 4],
  [2048, 2],
  [512, 16],
  [1024, 16],
  [256, 64],
];

export interface ScenarioResult {
  readonly name: string;
  readonly mated: number;
  readonly nonMated: number;
  readonly eer: number;
  readonly eerInterpolated: number;
  readonly threshold: number;
  /** FMR and FNMR at `threshold` (the EER threshold; they straddle the EER). */
  readonly atThreshold: { readonly fmr: number; readonly fnmr: number };
  readonly fnmrAtFmr1: number;
  readonly dsys: number;
  readonly matedMean: number;
  readonly nonMatedMean: number;
  /**
   * Estimator floor: the same metrics when "mated" is a random subset (same size) of this
   * scenario's non-mated scores, i.e. on two samples of ONE distribution (mean of 10 splits).
   * Finite samples bias the ROCCH-EER below 50 % and D↔sys above 0.
   */
  readonly nullEer: number;
  readonly nullDsys: number;
  /** For attacks: share of mated attempts accepted at the protected system's EER threshold. */
  readonly acceptedAtSystemThreshold?: number;
}

export interface SubsetResult {
  readonly subset: "all" | "real";
  readonly speakers: number;
  readonly scenarios: readonly ScenarioResult[];
  /** Mean cosine between a stolen-key reconstruction and the embedding it came from. */
  readonly reconstructionCosine: number;
  /** Cross-key linkage repeated over several independent key pairs: EER and D↔sys per pair. */
  readonly crossKeyPairs: readonly { readonly eer: number; readonly dsys: number }[];
  /** EER(protected) − EER(unprotected) with a 95 % speaker-bootstrap interval. */
  readonly eerCost: { readonly diff: number; readonly lo: number; readonly hi: number };
}

export interface EvaluationReport {
  readonly embedderId: string;
  readonly standIn: boolean;
  readonly params: { readonly hashes: number; readonly q: number; readonly dim: number };
  readonly corpus: {
    readonly speakers: number;
    readonly real: number;
    readonly derived: number;
    readonly utterances: number;
  };
  readonly subsets: readonly SubsetResult[];
  readonly seconds: { readonly embed: number; readonly protect: number };
  readonly sweep: readonly SweepRow[];
  readonly markdown: string;
}

function key(label: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(`voxvault-privacy-bench/${label}`).digest());
}

function mean(a: readonly number[]): number {
  return a.reduce((s, v) => s + v, 0) / Math.max(1, a.length);
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb || 1);
}

/** Public normalisation fitted on the enrolment utterances only: mean and per-dimension scale. */
function fitProfile(embedderId: string, enrol: readonly Float32Array[]): EmbeddingProfile {
  const d = enrol[0]!.length;
  const mu = new Float64Array(d);
  const sd = new Float64Array(d);
  for (const e of enrol) for (let i = 0; i < d; i++) mu[i]! += e[i]! / enrol.length;
  for (const e of enrol) for (let i = 0; i < d; i++) sd[i]! += (e[i]! - mu[i]!) ** 2 / enrol.length;
  const data = new Float64Array(d * d);
  for (let i = 0; i < d; i++) data[i * d + i] = 1 / Math.sqrt(sd[i]! + 1e-12);
  return { embedderId, inputDim: d, mean: mu, transform: { rows: d, data } };
}

/** Stolen-key estimate of the hashed vector: Σ_h (w_{h,code} − mean_j w_{h,j}). */
function reconstruct(codes: Uint8Array, w: Int16Array, dim: number, q: number): Float64Array {
  const z = new Float64Array(dim);
  for (let h = 0; h < codes.length; h++) {
    const base = h * q * dim;
    for (let j = 0; j < q; j++) {
      const coef = j === codes[h] ? 1 - 1 / q : -1 / q;
      const o = base + j * dim;
      for (let k = 0; k < dim; k++) z[k]! += coef * w[o + k]!;
    }
  }
  return z;
}

/**
 * Speaker-level bootstrap (resampling speakers with replacement, trials weighted by how often their
 * speakers were drawn) of EER(b) − EER(a) on the same trials: a 95 % interval for the difference.
 */
function bootstrapEerDifference(
  trials: { mated: readonly (readonly [string, string])[]; nonMated: readonly (readonly [string, string])[] },
  speakerOf: (id: string) => string,
  a: (x: string, y: string) => number,
  b: (x: string, y: string) => number,
  reps = 200,
): { diff: number; lo: number; hi: number } {
  const speakers = [...new Set(trials.mated.map(([e]) => speakerOf(e)))].sort();
  const rng = new SeededRng("voxvault-privacy-bench/bootstrap");
  const pre = (
    list: readonly (readonly [string, string])[],
  ): { s: [string, string]; a: number; b: number }[] =>
    list.map(([x, y]) => ({ s: [speakerOf(x), speakerOf(y)], a: a(x, y), b: b(x, y) }));
  const m = pre(trials.mated);
  const n = pre(trials.nonMated);
  const eerDiff = (count: Map<string, number>): number => {
    const expand = (list: typeof m, which: "a" | "b"): number[] => {
      const out: number[] = [];
      for (const t of list) {
        const w = (count.get(t.s[0]) ?? 0) * (t.s[0] === t.s[1] ? 1 : (count.get(t.s[1]) ?? 0));
        for (let k = 0; k < w; k++) out.push(t[which]);
      }
      return out;
    };
    const [mb, nb, ma, na] = [expand(m, "b"), expand(n, "b"), expand(m, "a"), expand(n, "a")];
    // A resample of a single speaker has no non-mated trials: not a usable replicate.
    if (mb.length === 0 || nb.length === 0) return Number.NaN;
    return equalErrorRate(mb, nb).eer - equalErrorRate(ma, na).eer;
  };
  const diff = eerDiff(new Map(speakers.map((sp) => [sp, 1])));
  const diffs: number[] = [];
  for (let attempt = 0; diffs.length < reps && attempt < 10 * reps; attempt++) {
    const count = new Map<string, number>();
    for (const _ of speakers) {
      const sp = speakers[rng.int(speakers.length)]!;
      count.set(sp, (count.get(sp) ?? 0) + 1);
    }
    const d = eerDiff(count);
    if (!Number.isNaN(d)) diffs.push(d);
  }
  if (diffs.length === 0) return { diff, lo: Number.NaN, hi: Number.NaN };
  diffs.sort((x, y) => x - y);
  const k = diffs.length;
  return { diff, lo: diffs[Math.floor(0.025 * k)]!, hi: diffs[Math.max(0, Math.ceil(0.975 * k) - 1)]! };
}

function scenario(
  name: string,
  mated: number[],
  nonMated: number[],
  systemThreshold?: number,
): { result: ScenarioResult; unl: UnlinkabilityResult; mated: number[]; nonMated: number[] } {
  const e = equalErrorRate(mated, nonMated);
  const unl = unlinkability(mated, nonMated, { omega: 1, bins: 100 });
  const rng = new SeededRng(`voxvault-privacy-bench/null/${name}`);
  let nullEer = 0;
  let nullDsys = 0;
  const splits = 10;
  for (let r = 0; r < splits; r++) {
    const idx = rng.shuffle(nonMated.map((_, i) => i));
    // As large as the mated set, but leave at least half of the non-mated scores on the other side.
    const cut = Math.max(1, Math.min(mated.length, Math.floor(nonMated.length / 2)));
    const a = idx.slice(0, cut).map((i) => nonMated[i]!);
    const b = idx.slice(cut).map((i) => nonMated[i]!);
    if (b.length === 0) {
      nullEer = nullDsys = Number.NaN;
      break;
    }
    nullEer += equalErrorRate(a, b).eer / splits;
    nullDsys += unlinkability(a, b, { omega: 1, bins: 100 }).dsys / splits;
  }
  const result: ScenarioResult = {
    name,
    nullEer,
    nullDsys,
    mated: mated.length,
    nonMated: nonMated.length,
    eer: e.eer,
    eerInterpolated: equalErrorRate(mated, nonMated, "interpolated").eer,
    threshold: e.threshold,
    atThreshold: errorRatesAt(mated, nonMated, e.threshold),
    fnmrAtFmr1: operatingPointAtFmr(mated, nonMated, 0.01).fnmr,
    dsys: unl.dsys,
    matedMean: mean(mated),
    nonMatedMean: mean(nonMated),
    ...(systemThreshold === undefined
      ? {}
      : { acceptedAtSystemThreshold: 1 - errorRatesAt(mated, nonMated, systemThreshold).fnmr }),
  };
  return { result, unl, mated, nonMated };
}

const pct = (v: number): string => `${(100 * v).toFixed(2)} %`;

export function evaluatePrivacy(manifest: CorpusManifest, options: EvaluationOptions): EvaluationReport {
  const log = options.log ?? ((): void => undefined);
  const hashes = options.hashes ?? DEFAULT_HASHES;
  const q = options.q ?? DEFAULT_Q;
  mkdirSync(options.outDir, { recursive: true });

  let t0 = performance.now();
  const emb = new Map<string, Float32Array>();
  for (const u of manifest.utterances) {
    const given = options.embeddings?.get(u.id);
    if (given !== undefined) {
      emb.set(u.id, given);
      continue;
    }
    if (options.embedder === undefined) throw new Error(`no embedding for ${u.id} and no embedder`);
    const audio = readWav(join(options.corpusDir, u.file));
    if (audio.sampleRate !== 16000) throw new Error(`${u.file}: expected 16 kHz`);
    emb.set(u.id, options.embedder(audio.samples));
  }
  const embedSeconds = options.embedSeconds ?? (performance.now() - t0) / 1000;
  log(`embedded ${emb.size} utterances in ${embedSeconds.toFixed(1)} s`);

  const enrolIds = manifest.utterances.filter((u) => u.role === "enrol").map((u) => u.id);
  const profile =
    options.profile ??
    fitProfile(
      options.embedderId,
      enrolIds.map((id) => emb.get(id)!),
    );
  const prepared = prepareProfile(profile);
  const z = new Map<string, Float64Array>();
  for (const [id, e] of emb) z.set(id, prepared.apply(e));

  t0 = performance.now();
  const protA: TemplateProtector = createTemplateProtector(key("system-A"), { profile, hashes, q });
  const protB = createTemplateProtector(key("system-B"), { profile, hashes, q });
  const protG = createTemplateProtector(key("attacker-guess"), { profile, hashes, q });
  const codes = (p: TemplateProtector): Map<string, Uint8Array> =>
    new Map(manifest.utterances.map((u) => [u.id, p.protect(emb.get(u.id)!).codes]));
  const cA = codes(protA);
  const cB = codes(protB);
  const cG = codes(protG);
  const protectSeconds = (performance.now() - t0) / 1000;
  const params = protA.params;
  const wA = deriveProjections(key("system-A"), params, prepared.profileId);
  const recon = new Map(enrolIds.map((id) => [id, reconstruct(cA.get(id)!, wA, params.dim, q)]));
  const reconCodes = new Map([...recon].map(([id, r]) => [id, iomHash(r, wA, params)]));

  const extraPairs = Array.from({ length: options.crossKeyPairs ?? 5 }, (_, i) => {
    const pa = createTemplateProtector(key(`pair-${i}-A`), { profile, hashes, q });
    const pb = createTemplateProtector(key(`pair-${i}-B`), { profile, hashes, q });
    const pair = { a: codes(pa), b: codes(pb) };
    pa.dispose();
    pb.dispose();
    return pair;
  });

  const speakerOf = new Map(manifest.utterances.map((u): [string, UtteranceEntry] => [u.id, u]));
  const kindOf = new Map(manifest.speakers.map((s) => [s.id, s.kind]));
  const subsets: SubsetResult[] = [];
  const plots: string[] = [];
  for (const subset of ["all", "real"] as const) {
    const keep = ([a, b]: readonly [string, string]): boolean =>
      subset === "all" ||
      (kindOf.get(speakerOf.get(a)!.speaker) === "real" && kindOf.get(speakerOf.get(b)!.speaker) === "real");
    const mated = manifest.trials.mated.filter(keep);
    const nonMated = manifest.trials.nonMated.filter(keep);
    const scores = (f: (a: string, b: string) => number): [number[], number[]] => [
      mated.map(([a, b]) => f(a, b)),
      nonMated.map(([a, b]) => f(a, b)),
    ];
    const U = scenario("U unprotected (cosine)", ...scores((a, b) => cosine(z.get(a)!, z.get(b)!)));
    const P = scenario("P protected, same key", ...scores((a, b) => compareCodes(cA.get(a)!, cA.get(b)!)));
    const thr = P.result.threshold;
    const G = scenario(
      "G no key: guessed key vs stored",
      ...scores((a, b) => compareCodes(cA.get(a)!, cG.get(b)!)),
      thr,
    );
    const X = scenario(
      "X cross-key linkage (A vs B)",
      ...scores((a, b) => compareCodes(cA.get(a)!, cB.get(b)!)),
      thr,
    );
    const S1 = scenario(
      "S stolen key: reconstruction vs probe (cosine)",
      ...scores((a, b) => cosine(recon.get(a)!, z.get(b)!)),
    );
    const S2 = scenario(
      "S stolen key: replayed reconstruction vs probe templates",
      ...scores((a, b) => compareCodes(reconCodes.get(a)!, cA.get(b)!)),
      thr,
    );
    const replayOwn = mean(
      enrolIds
        .filter((id) => subset === "all" || kindOf.get(speakerOf.get(id)!.speaker) === "real")
        .map((id) => (compareCodes(reconCodes.get(id)!, cA.get(id)!) >= thr ? 1 : 0)),
    );
    const reconstructionCosine = mean(enrolIds.map((id) => cosine(recon.get(id)!, z.get(id)!)));
    const eerCost = bootstrapEerDifference(
      { mated, nonMated },
      (id) => speakerOf.get(id)!.speaker,
      (a, b) => cosine(z.get(a)!, z.get(b)!),
      (a, b) => compareCodes(cA.get(a)!, cA.get(b)!),
    );
    log(`subset ${subset}: EER cost ${(100 * eerCost.diff).toFixed(2)} pp`);
    const crossKeyPairs = [{ a: cA, b: cB }, ...extraPairs].map(({ a, b }) => {
      const [ms, ns] = scores((x, y) => compareCodes(a.get(x)!, b.get(y)!));
      return { eer: equalErrorRate(ms, ns).eer, dsys: unlinkability(ms, ns, { omega: 1, bins: 100 }).dsys };
    });
    subsets.push({
      subset,
      crossKeyPairs,
      eerCost,
      speakers: manifest.speakers.filter((s) => subset === "all" || s.kind === "real").length,
      scenarios: [
        U.result,
        P.result,
        G.result,
        X.result,
        S1.result,
        { ...S2.result, acceptedAtSystemThreshold: replayOwn },
      ],
      reconstructionCosine,
    });
    if (subset === "all") {
      const tag = options.standIn ? " (STAND-IN EMBEDDER)" : "";
      const plot = (
        file: string,
        title: string,
        sc: typeof U,
        xLabel: string,
        withD = false,
        marker?: number,
      ): void => {
        writeHistogramPlot(join(options.outDir, file), {
          title: title + tag,
          subtitle: `EER ${pct(sc.result.eer)}   D<->SYS ${sc.result.dsys.toFixed(3)}   ${sc.result.mated} MATED / ${sc.result.nonMated} NON-MATED`,
          xLabel,
          series: [
            { label: "MATED", values: sc.mated, color: GREEN },
            { label: "NON-MATED", values: sc.nonMated, color: RED },
          ],
          ...(withD
            ? { curve: { label: "D<->(S)", x: sc.unl.binCentres, y: sc.unl.local, color: BLUE } }
            : {}),
          ...(marker === undefined ? {} : { marker: { label: "SYSTEM THRESHOLD", x: marker } }),
        });
        plots.push(file);
      };
      plot("unprotected.png", "UNPROTECTED EMBEDDINGS", U, "COSINE SCORE");
      plot("protected.png", "PROTECTED, SAME KEY", P, "IOM MATCH RATE", false, thr);
      plot("guessed-key.png", "ATTACKER WITHOUT KEY", G, "IOM MATCH RATE", false, thr);
      plot("cross-key.png", "CROSS-KEY LINKAGE", X, "IOM MATCH RATE", true);
      plot("stolen-key.png", "STOLEN KEY: RECONSTRUCTION VS PROBES", S1, "COSINE SCORE");
    }
  }

  const sweep: SweepRow[] = [];
  for (const [m, qq] of options.sweep ?? DEFAULT_SWEEP) {
    const p = createTemplateProtector(key("system-A"), { profile, hashes: m, q: qq });
    const c = new Map(manifest.utterances.map((u) => [u.id, p.protect(emb.get(u.id)!).codes]));
    const w = deriveProjections(key("system-A"), p.params, prepared.profileId);
    const rec = new Map(enrolIds.map((id) => [id, reconstruct(c.get(id)!, w, p.params.dim, qq)]));
    const pair = (f: (a: string, b: string) => number): [number[], number[]] => [
      manifest.trials.mated.map(([a, b]) => f(a, b)),
      manifest.trials.nonMated.map(([a, b]) => f(a, b)),
    ];
    sweep.push({
      hashes: m,
      q: qq,
      bytes: encodeTemplate(p.protect(emb.get(enrolIds[0]!)!)).length,
      protectedEer: equalErrorRate(...pair((a, b) => compareCodes(c.get(a)!, c.get(b)!))).eer,
      reconstructionCosine: mean(enrolIds.map((id) => cosine(rec.get(id)!, z.get(id)!))),
      reconstructionEer: equalErrorRate(...pair((a, b) => cosine(rec.get(a)!, z.get(b)!))).eer,
    });
    p.dispose();
    w.fill(0);
    log(`sweep m=${m} q=${qq} done`);
  }

  const real = manifest.speakers.filter((s) => s.kind === "real").length;
  const report: Omit<EvaluationReport, "markdown"> = {
    embedderId: options.embedderId,
    standIn: options.standIn,
    params: { hashes, q, dim: params.dim },
    corpus: {
      speakers: manifest.speakers.length,
      real,
      derived: manifest.speakers.length - real,
      utterances: manifest.utterances.length,
    },
    subsets,
    seconds: { embed: embedSeconds, protect: protectSeconds },
    sweep,
  };
  const markdown = renderMarkdown(report, plots);
  writeFileSync(join(options.outDir, "report.md"), markdown);
  writeFileSync(
    join(options.outDir, "report.json"),
    JSON.stringify({ ...report, markdown: undefined }, null, 1) + "\n",
  );
  protA.dispose();
  protB.dispose();
  protG.dispose();
  wA.fill(0);
  return { ...report, markdown };
}

function renderMarkdown(r: Omit<EvaluationReport, "markdown">, plots: readonly string[]): string {
  const warn = r.standIn
    ? "> **Stand-in embedder.** These numbers come from the plumbing stand-in (covariance of MFCCs, bench/privacy/standin-embedder.ts), not from voxvault's built-in speaker embedder (evaluated by bench/privacy/evaluate-builtin.ts, docs/privacy-eval.md). They show how protection behaves relative to whatever the embedding offers, nothing about the product's accuracy.\n\n"
    : "";
  const lines: string[] = [
    `## Template protection: privacy evaluation (${r.embedderId})`,
    "",
    warn +
      `Corpus: ${r.corpus.speakers} speakers (${r.corpus.real} real synthesiser voices, ${r.corpus.derived} derived pseudo-speakers), ${r.corpus.utterances} utterances. ` +
      `Scheme: GRP-IoM, m = ${r.params.hashes}, q = ${r.params.q}, hashed dimension ${r.params.dim}. ` +
      `EER = ROCCH-EER (interpolated step-curve EER in brackets); D↔sys with ω = 1, 100 bins. ` +
      `"Accepted" = share of mated attack attempts scoring at or above the protected system's EER threshold. ` +
      `"Null" = the same metrics on two samples of one distribution (a random subset of the scenario's non-mated scores, as large as the mated set, against the rest; mean of 10 splits): the floor of the estimators at these sample sizes, to read G and X against.`,
    "",
  ];
  for (const s of r.subsets) {
    lines.push(`### ${s.subset === "all" ? "All speakers" : "Real speakers only"} (${s.speakers})`, "");
    lines.push(
      "| scenario | mated / non-mated | EER | FNMR @ FMR 1 % | D↔sys | null EER / D↔sys | mean mated / non-mated score | accepted |",
    );
    lines.push("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (const c of s.scenarios) {
      lines.push(
        `| ${c.name} | ${c.mated} / ${c.nonMated} | ${pct(c.eer)} (${pct(c.eerInterpolated)}) | ${pct(c.fnmrAtFmr1)} | ${c.dsys.toFixed(3)} | ${pct(c.nullEer)} / ${c.nullDsys.toFixed(3)} | ${c.matedMean.toFixed(3)} / ${c.nonMatedMean.toFixed(3)} | ${c.acceptedAtSystemThreshold === undefined ? "" : pct(c.acceptedAtSystemThreshold)} |`,
      );
    }
    const pp = (v: number): string => (100 * v).toFixed(2);
    lines.push(
      "",
      `Cross-key linkage over ${s.crossKeyPairs.length} independent key pairs: EER ${s.crossKeyPairs.map((c) => pct(c.eer)).join(", ")}; D↔sys ${s.crossKeyPairs.map((c) => c.dsys.toFixed(3)).join(", ")}.`,
      "",
      `Cost of protection: EER(P) − EER(U) = ${pp(s.eerCost.diff)} percentage points (95 % speaker-bootstrap interval ${pp(s.eerCost.lo)} to ${pp(s.eerCost.hi)}, 200 resamples).`,
      "",
      `Stolen key: mean cosine between a reconstruction and the embedding it was made from: ${s.reconstructionCosine.toFixed(3)}. The last row's "accepted" is the share of reconstructions whose replayed code is accepted against the very template it came from.`,
      "",
    );
  }
  if (r.sweep.length > 0) {
    lines.push(
      "### Stolen key: what the key holder learns, by parameters (all speakers)",
      "",
      `Unprotected cosine EER for reference: ${pct(r.subsets[0]!.scenarios[0]!.eer)}. "Reconstruction" = Σ_h (w_h,code − mean_j w_h,j) from one template and the key.`,
      "",
      "| m | q | template bytes | protected EER | cosine(reconstruction, original) | reconstruction-vs-probe EER |",
      "| --- | --- | --- | --- | --- | --- |",
      ...r.sweep.map(
        (w) =>
          `| ${w.hashes} | ${w.q} | ${w.bytes} | ${pct(w.protectedEer)} | ${w.reconstructionCosine.toFixed(3)} | ${pct(w.reconstructionEer)} |`,
      ),
      "",
    );
  }
  lines.push(
    `Plots: ${plots.map((p) => `\`${p}\``).join(", ")}. Time: embedding ${r.seconds.embed.toFixed(1)} s, protecting ${r.seconds.protect.toFixed(2)} s for 3 keys.`,
    "",
  );
  return lines.join("\n");
}
