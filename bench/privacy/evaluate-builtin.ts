/**
 * Privacy evaluation and calibration of the REAL built-in embedder (models/voxvault-dsp-v2.json),
 * run by `node scripts/embedder/run.mjs evaluate [--publish] [--jobs J]` (or `all`, which trains
 * first). Writes to bench/out/privacy-builtin/:
 *
 *  - report.md / report.json: the scenarios of runner.ts (U, P, G, X, S) over all and real speakers,
 *    with the embedder's own public profile (from its training), not one fitted on the corpus;
 *  - speaker-disjoint.md: the fold models (each trained on half of the base voices, see
 *    scripts/embedder/corpus.ts FOLDS) scored on the evaluation speakers of the other half;
 *  - onnx-plumbing.md: the ONNX embedder on a tiny generated model (plumbing only: no real
 *    speaker model is available here);
 *
 *  - the held-out real voices (bench/privacy/voices.ts MBROLA_HELDOUT): the speaker-disjoint
 *    figures, the 20-key attacker and D↔sys on all pairs, the default threshold's error rates;
 *
 * and models/voxvault-dsp-v2.calibration.json: the default threshold = the EER threshold of
 * out-of-fold protected-template scores on the real training voices (outOfFoldCalibration).
 * --publish copies the plots to docs/img/.
 */

import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  createDspEmbedder,
  DSP_CALIBRATION_FORMAT,
  embedPcm,
  chunked,
  type CalibrationFile,
  type Embedder,
} from "../../src/embed/index.js";
import { createOnnxEmbedder, loadBuiltinEmbedder, BUILTIN_MODEL_NAME } from "../../src/embed/node.js";
import { equalErrorRate, errorRatesAt, unlinkability } from "../../src/eval/index.js";
import {
  compareCodes,
  createTemplateProtector,
  DEFAULT_HASHES,
  DEFAULT_Q,
  type EmbeddingProfile,
} from "../../src/template/index.js";
import { buildTrainingCorpus, baseVoice, FOLDS } from "../../scripts/embedder/corpus.js";
import {
  corpusStats,
  DEFAULT_SETTINGS,
  serialiseModel,
  trainModel,
  trainingProvenance,
  type LabelledStats,
} from "../../scripts/embedder/train.js";
import { projectStats } from "../../src/embed/dsp/embedder.js";
import { parseDspModel } from "../../src/embed/dsp/model.js";
import { MBROLA_HELDOUT } from "./voices.js";
import { varianceProjectionModel } from "../../test/embed/onnx-proto.js";
import { buildCorpus, type CorpusManifest } from "./corpus.js";
import { SeededRng } from "./rng.js";
import { evaluatePrivacy } from "./runner.js";
import { readWav } from "./wav.js";
import { createHash } from "node:crypto";
import { VaultError } from "../../src/errors.js";

function arg(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

const pct = (v: number): string => `${(100 * v).toFixed(2)} %`;

function benchKey(label: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(`voxvault-privacy-bench/${label}`).digest());
}

/** Embeds every utterance through the streaming path (1 s chunks), as the ingest will. */
export async function embedCorpus(
  embedder: Embedder,
  corpusDir: string,
  manifest: CorpusManifest,
  keep: (speaker: string) => boolean = () => true,
): Promise<{
  embeddings: Map<string, Float32Array>;
  seconds: number;
  audioSeconds: number;
  /** Utterances the embedder refused with NO_SPEECH (synthesis failures), as an ingest would. */
  refused: string[];
}> {
  const embeddings = new Map<string, Float32Array>();
  const refused: string[] = [];
  let seconds = 0;
  let audioSeconds = 0;
  for (const u of manifest.utterances) {
    if (!keep(u.speaker)) continue;
    const pcm = readWav(join(corpusDir, u.file)).samples;
    const t0 = performance.now();
    try {
      const { embedding } = await embedPcm(embedder, chunked(pcm));
      embeddings.set(u.id, embedding);
    } catch (e) {
      if (!(e instanceof VaultError) || e.code !== "NO_SPEECH") throw e;
      refused.push(u.id);
    }
    seconds += (performance.now() - t0) / 1000;
    audioSeconds += pcm.length / 16000;
  }
  return { embeddings, seconds, audioSeconds, refused };
}

/** The manifest without the given utterances and every trial that uses one of them. */
export function withoutUtterances(manifest: CorpusManifest, ids: readonly string[]): CorpusManifest {
  if (ids.length === 0) return manifest;
  const gone = new Set(ids);
  const keep = ([a, b]: readonly [string, string]): boolean => !gone.has(a) && !gone.has(b);
  return {
    ...manifest,
    utterances: manifest.utterances.filter((u) => !gone.has(u.id)),
    trials: { mated: manifest.trials.mated.filter(keep), nonMated: manifest.trials.nonMated.filter(keep) },
  };
}

interface DisjointResult {
  readonly subset: "all" | "real";
  readonly mated: number;
  readonly nonMated: number;
  readonly eerUnprotected: number;
  readonly eerProtected: number;
  readonly folds: readonly {
    readonly fold: number;
    readonly eerUnprotected: number;
    readonly eerProtected: number;
  }[];
}

function cosine(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * The two fold models (each trained on the training-corpus speakers of one half of the base
 * voices, FOLDS), always retrained so that they follow the current corpus and settings; returns
 * the training statistics too, for the out-of-fold calibration.
 */
async function trainFoldModels(
  root: string,
  log: (l: string) => void,
): Promise<{ foldDir: string; data: LabelledStats[]; realSpeakers: Set<string> }> {
  const foldDir = join(root, "bench/out/embedder/folds");
  mkdirSync(foldDir, { recursive: true });
  log("training the fold models (speaker-disjoint estimates, calibration)");
  const corpus = await buildTrainingCorpus(join(root, "bench/out/embedder/train-corpus"), { log });
  const data = corpus.parts.flatMap((p) => corpusStats(p.dir, p.manifest, DEFAULT_SETTINGS));
  const prov = trainingProvenance(corpus.parts.map((p) => p.manifest));
  FOLDS.forEach((fold, k) => {
    const sub = data.filter((d) => fold.includes(baseVoice(d.speaker)));
    const f = trainModel(
      sub,
      { ...DEFAULT_SETTINGS, name: `${DEFAULT_SETTINGS.name}-fold${k}` },
      { ...prov, fold: [...fold] },
    );
    writeFileSync(join(foldDir, `fold${k}.json`), serialiseModel(f));
  });
  const realSpeakers = new Set(
    corpus.parts.flatMap((p) => p.manifest.speakers.filter((s) => s.kind === "real").map((s) => s.id)),
  );
  return { foldDir, data, realSpeakers };
}

/**
 * The default threshold, chosen on voices the scoring model never heard: each fold model embeds
 * the REAL training voices of the other fold (from their statistics, as a session would), all
 * pairs of their utterances are protected under one key and compared, and the EER threshold of
 * the pooled protected scores is the threshold. Neither the evaluation corpus nor the held-out
 * voices take part.
 */
function outOfFoldCalibration(folds: {
  foldDir: string;
  data: readonly LabelledStats[];
  realSpeakers: ReadonlySet<string>;
}): {
  threshold: number;
  fmr: number;
  fnmr: number;
  eer: number;
  mated: number;
  nonMated: number;
  speakers: number;
} {
  const mated: number[] = [];
  const nonMated: number[] = [];
  let speakers = 0;
  FOLDS.forEach((fold, k) => {
    const bytes = readFileSync(join(folds.foldDir, `fold${k}.json`));
    const model = parseDspModel(bytes);
    const test = folds.data.filter(
      (d) => folds.realSpeakers.has(d.speaker) && !fold.includes(baseVoice(d.speaker)),
    );
    speakers += new Set(test.map((d) => d.speaker)).size;
    const prot = createTemplateProtector(benchKey("calibration"), {
      profile: createDspEmbedder(bytes).profile,
    });
    const codes = test.map((d) => prot.protect(projectStats(model, d.stats)));
    for (let i = 0; i < test.length; i++)
      for (let j = i + 1; j < test.length; j++)
        (test[i]!.speaker === test[j]!.speaker ? mated : nonMated).push(prot.compare(codes[i]!, codes[j]!));
    prot.dispose();
  });
  const e = equalErrorRate(mated, nonMated);
  const at = errorRatesAt(mated, nonMated, e.threshold);
  return {
    threshold: e.threshold,
    eer: e.eer,
    fmr: at.fmr,
    fnmr: at.fnmr,
    mated: mated.length,
    nonMated: nonMated.length,
    speakers,
  };
}

async function speakerDisjoint(
  foldDir: string,
  corpusDir: string,
  manifest: CorpusManifest,
): Promise<DisjointResult[]> {
  const kindOf = new Map(manifest.speakers.map((s) => [s.id, s.kind]));
  const speakerOf = new Map(manifest.utterances.map((u) => [u.id, u.speaker]));
  const pooled = {
    all: { u: [[], []] as number[][], p: [[], []] as number[][] },
    real: { u: [[], []] as number[][], p: [[], []] as number[][] },
  };
  const perFold: Record<"all" | "real", { fold: number; eerUnprotected: number; eerProtected: number }[]> = {
    all: [],
    real: [],
  };
  for (let k = 0; k < FOLDS.length; k++) {
    const heldOut = (speaker: string): boolean => !FOLDS[k]!.includes(baseVoice(speaker));
    const embedder = createDspEmbedder(readFileSync(join(foldDir, `fold${k}.json`)));
    const { embeddings } = await embedCorpus(embedder, corpusDir, manifest, heldOut);
    const prot = createTemplateProtector(benchKey("system-A"), { profile: embedder.profile });
    const codes = new Map([...embeddings].map(([id, e]) => [id, prot.protect(e)]));
    for (const subset of ["all", "real"] as const) {
      const keep = ([a, b]: readonly [string, string]): boolean => {
        const [sa, sb] = [speakerOf.get(a)!, speakerOf.get(b)!];
        return (
          heldOut(sa) &&
          heldOut(sb) &&
          (subset === "all" || (kindOf.get(sa) === "real" && kindOf.get(sb) === "real"))
        );
      };
      const m = manifest.trials.mated.filter(keep);
      const n = manifest.trials.nonMated.filter(keep);
      const uScores = [
        m.map(([a, b]) => cosine(embeddings.get(a)!, embeddings.get(b)!)),
        n.map(([a, b]) => cosine(embeddings.get(a)!, embeddings.get(b)!)),
      ];
      const pScores = [
        m.map(([a, b]) => prot.compare(codes.get(a)!, codes.get(b)!)),
        n.map(([a, b]) => prot.compare(codes.get(a)!, codes.get(b)!)),
      ];
      perFold[subset].push({
        fold: k,
        eerUnprotected: equalErrorRate(uScores[0]!, uScores[1]!).eer,
        eerProtected: equalErrorRate(pScores[0]!, pScores[1]!).eer,
      });
      for (let j = 0; j < 2; j++) {
        for (const v of uScores[j]!) pooled[subset].u[j]!.push(v);
        for (const v of pScores[j]!) pooled[subset].p[j]!.push(v);
      }
    }
    prot.dispose();
  }
  return (["all", "real"] as const).map((subset) => ({
    subset,
    mated: pooled[subset].u[0]!.length,
    nonMated: pooled[subset].u[1]!.length,
    eerUnprotected: equalErrorRate(pooled[subset].u[0]!, pooled[subset].u[1]!).eer,
    eerProtected: equalErrorRate(pooled[subset].p[0]!, pooled[subset].p[1]!).eer,
    folds: perFold[subset],
  }));
}

/** FMR and FNMR at `threshold` of the manifest's trials, templates protected under key A (scenario P). */
function protectedRatesAt(
  manifest: CorpusManifest,
  embeddings: ReadonlyMap<string, Float32Array>,
  profile: EmbeddingProfile,
  threshold: number,
): { fmr: number; fnmr: number } {
  const prot = createTemplateProtector(benchKey("system-A"), { profile });
  const codes = new Map([...embeddings].map(([id, e]) => [id, prot.protect(e)]));
  const score = (pairs: readonly (readonly [string, string])[]): number[] =>
    pairs.map(([a, b]) => prot.compare(codes.get(a)!, codes.get(b)!));
  const at = errorRatesAt(score(manifest.trials.mated), score(manifest.trials.nonMated), threshold);
  prot.dispose();
  return at;
}

/** Corpus of the held-out real voices (MBROLA_HELDOUT): never trained on, never tuned on. */
export const HELDOUT_SEED = "voxvault-heldout-v1";
export const HELDOUT_UTTERANCES = 24;

export interface HeldOutResult {
  readonly speakers: number;
  readonly utterances: number;
  readonly refused: readonly string[];
  readonly report: ReturnType<typeof evaluatePrivacy>;
  /** The shipped default threshold applied to the held-out protected scores (scenario P). */
  readonly atDefaultThreshold: { readonly threshold: number; readonly fmr: number; readonly fnmr: number };
  readonly crossKey: CrossKeyRow[];
  /** EER of the no-key attacker (stored templates under key A, victims' voice under key k), per key. */
  readonly perKeyEer: readonly number[];
}

/**
 * The speaker-disjoint evaluation on real voices: the held-out MBROLA people, each reading 24
 * evaluation sentences through the evaluation corpus's channel chain; scenarios U, P, G, X, S of
 * runner.ts, the cross-key analysis over `keys` keys (per key, on the fixed trial list and on all
 * pairs, whose estimator floor is the one that matters for D↔sys), and the default threshold's
 * error rates on these voices.
 */
async function heldOutEvaluation(
  root: string,
  embedder: Embedder,
  threshold: number,
  keys: number,
  jobs: number,
  log: (l: string) => void,
): Promise<HeldOutResult> {
  const corpusDir = join(root, "bench/out/corpus-heldout");
  const outDir = join(root, "bench/out/privacy-builtin/heldout");
  mkdirSync(outDir, { recursive: true });
  const built = await buildCorpus({
    outDir: corpusDir,
    seed: HELDOUT_SEED,
    speakers: MBROLA_HELDOUT,
    utterancesPerSpeaker: HELDOUT_UTTERANCES,
    enrolPerSpeaker: 3,
    jobs,
    log,
  });
  const { embeddings, seconds, refused } = await embedCorpus(embedder, corpusDir, built);
  const manifest = withoutUtterances(built, refused);
  log(
    `held-out: embedded ${embeddings.size} utterances; refused (NO_SPEECH): ${refused.join(", ") || "none"}`,
  );
  const report = evaluatePrivacy(manifest, {
    corpusDir,
    outDir,
    embeddings,
    embedSeconds: seconds,
    profile: embedder.profile,
    embedderId: embedder.id,
    standIn: false,
    sweep: [],
    log,
  });
  const at = protectedRatesAt(manifest, embeddings, embedder.profile, threshold);
  const crossKey = crossKeyAnalysis(manifest, embeddings, embedder.profile, keys, ["all"]);
  const perKeyEer = crossKey.find((r) => r.trials === "enrol×probe")!.perKey.map((k) => k.eer);
  for (const e of embeddings.values()) e.fill(0);
  return {
    speakers: manifest.speakers.length,
    utterances: manifest.utterances.length,
    refused,
    report,
    atDefaultThreshold: { threshold, ...at },
    crossKey,
    perKeyEer,
  };
}

function heldOutMarkdown(h: HeldOutResult): string {
  const all = h.report.subsets.find((x) => x.subset === "all")!;
  const row = (name: string): ScenarioRow => all.scenarios.find((x) => x.name.startsWith(name))!;
  const U = row("U");
  const P = row("P");
  return [
    "### Held-out real voices (speaker-disjoint)",
    "",
    `${h.speakers} people (MBROLA voices, bench/privacy/voices.ts MBROLA_HELDOUT) the embedder never heard, ${h.utterances} utterances (evaluation sentences, the evaluation channel chain; ${h.refused.length === 0 ? "none" : h.refused.join(", ")} refused with NO_SPEECH and left out, as an ingest would refuse them); ${U.mated} mated / ${U.nonMated} non-mated trials (3 enrolment utterances per speaker).`,
    "",
    "| scenario | EER | FNMR @ FMR 1 % | D↔sys | floor EER / D↔sys |",
    "| --- | --- | --- | --- | --- |",
    ...all.scenarios.map(
      (x) =>
        `| ${x.name} | ${pct(x.eer)} | ${pct(x.fnmrAtFmr1)} | ${x.dsys.toFixed(3)} | ${pct(x.nullEer)} / ${x.nullDsys.toFixed(3)} |`,
    ),
    "",
    `Default threshold ${h.atDefaultThreshold.threshold.toFixed(4)} on these voices (scenario P): FMR ${pct(h.atDefaultThreshold.fmr)}, FNMR ${pct(h.atDefaultThreshold.fnmr)} (EER ${pct(P.eer)}).`,
    "",
    `No-key attacker (scenario G) per key, EER: ${h.perKeyEer.map((e) => pct(e)).join(", ")}; lowest ${pct(Math.min(...h.perKeyEer))}, ${h.perKeyEer.filter((e) => e < 0.45).length} of ${h.perKeyEer.length} below 45 %.`,
    "",
    crossKeyMarkdown(h.crossKey),
  ].join("\n");
}

type ScenarioRow = ReturnType<typeof evaluatePrivacy>["subsets"][number]["scenarios"][number];

async function onnxPlumbing(outDir: string, corpusDir: string, manifest: CorpusManifest): Promise<string> {
  // A tiny "speaker model": per-bin variance of the (CMN'd) window times a seeded random 80 × 32 matrix.
  const rng = new SeededRng("voxvault-onnx-plumbing");
  const dim = 32;
  const w = Float32Array.from({ length: 80 * dim }, () => rng.normal() / Math.sqrt(80));
  const path = join(outDir, "tiny-speaker-model.onnx");
  writeFileSync(path, varianceProjectionModel(w, dim));
  const embedder = await createOnnxEmbedder({ modelPath: path, name: "tiny-test-model" });
  try {
    const { embeddings, seconds, audioSeconds } = await embedCorpus(embedder, corpusDir, manifest);
    const prot = createTemplateProtector(benchKey("system-A"), { profile: embedder.profile });
    const codes = new Map([...embeddings].map(([id, e]) => [id, prot.protect(e)]));
    const u = (pairs: readonly (readonly [string, string])[]): number[] =>
      pairs.map(([a, b]) => cosine(embeddings.get(a)!, embeddings.get(b)!));
    const p = (pairs: readonly (readonly [string, string])[]): number[] =>
      pairs.map(([a, b]) => prot.compare(codes.get(a)!, codes.get(b)!));
    const eu = equalErrorRate(u(manifest.trials.mated), u(manifest.trials.nonMated)).eer;
    const ep = equalErrorRate(p(manifest.trials.mated), p(manifest.trials.nonMated)).eer;
    prot.dispose();
    return [
      "### ONNX embedder: plumbing run (no real speaker model exists on this machine)",
      "",
      `Model: a generated ${readFileSync(path).length}-byte ONNX graph (Mul, ReduceMean over time, MatMul with a seeded random 80 × ${dim} matrix: a projection of each window's per-bin log-mel variance), id \`${embedder.id}\`. ` +
        `It went through the whole path: onnxruntime-node load, signature check, probe, 10 s windows with per-window CMN, speech-weighted averaging, protection. ` +
        `${embeddings.size} utterances (${(audioSeconds / 60).toFixed(1)} min) in ${seconds.toFixed(1)} s (${(audioSeconds / seconds).toFixed(0)}× real time, dominated by the feature pipeline). ` +
        `EER unprotected ${pct(eu)}, protected ${pct(ep)}: a random projection of log-mel variances, MEANINGLESS as a speaker-recognition figure; it shows only that the path runs end to end.`,
      "",
    ].join("\n");
  } finally {
    await embedder.close();
  }
}

export async function evaluateBuiltin(args: string[], root: string): Promise<void> {
  const log = (l: string): void => {
    console.log(l);
  };
  const corpusDir = join(root, "bench/out/corpus");
  const outDir = join(root, "bench/out/privacy-builtin");
  mkdirSync(outDir, { recursive: true });
  const jobs = Number(arg(args, "--jobs") ?? 2);
  const manifest = await buildCorpus({ outDir: corpusDir, jobs, log });
  const modelsDir = join(root, "models");
  const embedder = await loadBuiltinEmbedder({ modelsDir });
  log(`embedder ${embedder.id} (dim ${embedder.dim})`);
  const { embeddings, seconds, audioSeconds } = await embedCorpus(embedder, corpusDir, manifest);
  log(
    `embedded ${embeddings.size} utterances (${(audioSeconds / 60).toFixed(1)} min) in ${seconds.toFixed(1)} s`,
  );
  const report = evaluatePrivacy(manifest, {
    corpusDir,
    outDir,
    embeddings,
    embedSeconds: seconds,
    profile: embedder.profile,
    embedderId: embedder.id,
    standIn: false,
    log,
  });
  const crossKeys = Number(arg(args, "--keys") ?? 20);
  const crossKey = crossKeyAnalysis(manifest, embeddings, embedder.profile, crossKeys);
  log(`cross-key analysis over ${crossKeys} keys done`);

  const folds = await trainFoldModels(root, log);
  const oof = outOfFoldCalibration(folds);
  const calibration: CalibrationFile = {
    format: DSP_CALIBRATION_FORMAT,
    modelId: embedder.id,
    threshold: oof.threshold,
    hashes: DEFAULT_HASHES,
    q: DEFAULT_Q,
    fmr: oof.fmr,
    fnmr: oof.fnmr,
    source:
      `EER threshold of out-of-fold protected-template scores (GRP-IoM m=${DEFAULT_HASHES}, q=${DEFAULT_Q}): each fold model of scripts/embedder/corpus.ts FOLDS ` +
      `scored all pairs of the other fold's real training voices (${oof.speakers} people, ${oof.mated} mated / ${oof.nonMated} non-mated pairs); ` +
      `ROCCH-EER ${pct(oof.eer)}`,
  };
  const calPath = join(root, `models/${BUILTIN_MODEL_NAME}.calibration.json`);
  writeFileSync(calPath, JSON.stringify(calibration, null, 1) + "\n");
  log(
    `wrote ${calPath}: threshold ${oof.threshold.toFixed(4)} (out of fold: FMR ${pct(oof.fmr)}, FNMR ${pct(oof.fnmr)})`,
  );
  // The shipped embedder must pick it up.
  const check = await loadBuiltinEmbedder({ modelsDir });
  if (check.calibration?.threshold !== oof.threshold)
    throw new Error("calibration not picked up by loadBuiltinEmbedder");
  const all = report.subsets.find((s) => s.subset === "all")!;
  const P = all.scenarios[1]!;
  const seenAt = protectedRatesAt(manifest, embeddings, embedder.profile, oof.threshold);
  for (const e of embeddings.values()) e.fill(0);

  const heldOut = await heldOutEvaluation(root, check, oof.threshold, crossKeys, jobs, log);
  const disjoint = await speakerDisjoint(folds.foldDir, corpusDir, manifest);
  const disjointMd = [
    "### Speaker-disjoint estimate (fold models)",
    "",
    "Each fold model is trained on the training-corpus speakers (real and pseudo) of one half of the base voices and scored only on evaluation trials whose enrolment and probe speakers both come from the other half (their real voices and derived pseudo-speakers); scores of the two folds are pooled.",
    "",
    "| subset | mated / non-mated | EER unprotected (cosine) | EER protected (same key) | per fold unprotected / protected |",
    "| --- | --- | --- | --- | --- |",
    ...disjoint.map(
      (d) =>
        `| ${d.subset} | ${d.mated} / ${d.nonMated} | ${pct(d.eerUnprotected)} | ${pct(d.eerProtected)} | ${d.folds.map((f) => `${pct(f.eerUnprotected)} / ${pct(f.eerProtected)}`).join("; ")} |`,
    ),
    "",
  ].join("\n");
  const onnxMd = await onnxPlumbing(outDir, corpusDir, manifest);
  const extra = [
    `Calibration: default threshold ${oof.threshold.toFixed(4)} (IoM match rate, m = ${DEFAULT_HASHES}, q = ${DEFAULT_Q}), the EER threshold of out-of-fold protected scores on ${oof.speakers} real training voices (${oof.mated} mated / ${oof.nonMated} non-mated pairs, EER ${pct(oof.eer)}). At it, on this corpus (scenario P): FMR ${pct(seenAt.fmr)}, FNMR ${pct(seenAt.fnmr)}; this corpus's own EER threshold would be ${P.threshold.toFixed(4)}. Embedding: ${embeddings.size} utterances, ${(audioSeconds / 60).toFixed(1)} min of audio in ${seconds.toFixed(1)} s through the streaming path (feature pipeline + embedder, ${(audioSeconds / seconds).toFixed(0)}× real time).`,
    "",
    crossKeyMarkdown(crossKey),
    heldOutMarkdown(heldOut),
    disjointMd,
    onnxMd,
  ].join("\n");
  writeFileSync(join(outDir, "report.md"), report.markdown + "\n" + extra);
  writeFileSync(
    join(outDir, "extra.json"),
    JSON.stringify(
      {
        calibration,
        seenAtDefaultThreshold: seenAt,
        heldOut: { ...heldOut, report: undefined, subsets: heldOut.report.subsets },
        disjoint,
        crossKey,
        embedSeconds: seconds,
        audioSeconds,
      },
      null,
      1,
    ) + "\n",
  );
  console.log(report.markdown);
  console.log(extra);
  if (args.includes("--publish")) {
    const img = join(root, "docs/img");
    mkdirSync(img, { recursive: true });
    for (const f of ["unprotected", "protected", "guessed-key", "cross-key", "stolen-key"]) {
      copyFileSync(join(outDir, `${f}.png`), join(img, `privacy-builtin-${f}.png`));
    }
    log(`copied plots to ${img}`);
  }
}

interface CrossKeyRow {
  readonly trials: "enrol×probe" | "all pairs";
  readonly subset: "all" | "real";
  readonly keys: number;
  readonly mated: number;
  readonly nonMated: number;
  readonly eer: {
    readonly mean: number;
    readonly min: number;
    readonly max: number;
    readonly below45: number;
  };
  readonly dsys: { readonly mean: number; readonly min: number; readonly max: number };
  /** Mean mated and non-mated score, averaged over the keys. */
  readonly scoreMeans: { readonly mated: number; readonly nonMated: number };
  /** Floor 1 (runner.ts): a random non-mated subset as large as the mated set vs the rest. */
  readonly nullSubset: { readonly eer: number; readonly dsys: number };
  /**
   * Floor 2: speaker-permutation null. "Mated" = trials whose probe speaker is π(enrolment
   * speaker) for a random derangement π: non-mated trials with the same clustering by speaker
   * pair as real mated trials, which floor 1 lacks.
   */
  readonly nullPermuted: { readonly eer: number; readonly dsys: number };
  /** Per key: EER, D↔sys, and the speaker-permutation floor of D↔sys drawn for that key. */
  readonly perKey: readonly { readonly eer: number; readonly dsys: number; readonly floorDsys: number }[];
}

/**
 * Templates under key A against the same people's recordings protected under K other keys (an
 * attacker's guessed keys, or a second system): the scenario G / X of runner.ts repeated over many
 * keys, on the fixed trial list and on all pairs (including the same recording enrolled twice,
 * the most direct cross-system link), with two estimator floors.
 */
function crossKeyAnalysis(
  manifest: CorpusManifest,
  embeddings: ReadonlyMap<string, Float32Array>,
  profile: EmbeddingProfile,
  keys: number,
  subsets: readonly ("all" | "real")[] = ["all", "real"],
): CrossKeyRow[] {
  const ids = manifest.utterances.map((u) => u.id);
  const speakerOf = new Map(manifest.utterances.map((u) => [u.id, u.speaker]));
  const kindOf = new Map(manifest.speakers.map((s) => [s.id, s.kind]));
  const protect = (label: string): Map<string, Uint8Array> => {
    const p = createTemplateProtector(benchKey(label), { profile });
    const c = new Map(ids.map((id) => [id, p.protect(embeddings.get(id)!).codes]));
    p.dispose();
    return c;
  };
  const cA = protect("system-A");
  const others = Array.from({ length: keys }, (_, i) => protect(`cross-key-${i}`));
  const rows: CrossKeyRow[] = [];
  for (const trials of ["enrol×probe", "all pairs"] as const) {
    for (const subset of subsets) {
      const ok = (id: string): boolean => subset === "all" || kindOf.get(speakerOf.get(id)!) === "real";
      let pairs: (readonly [string, string])[];
      if (trials === "enrol×probe")
        pairs = [...manifest.trials.mated, ...manifest.trials.nonMated].filter(([a, b]) => ok(a) && ok(b));
      else {
        const sel = ids.filter(ok);
        pairs = sel.flatMap((a) => sel.map((b) => [a, b] as const));
      }
      const same = pairs.map(([a, b]) => speakerOf.get(a) === speakerOf.get(b));
      const speakers = [...new Set(pairs.map(([a]) => speakerOf.get(a)!))].sort();
      const eers: number[] = [];
      const dsyss: number[] = [];
      const perKey: { eer: number; dsys: number; floorDsys: number }[] = [];
      let meanM = 0;
      let meanN = 0;
      let n1e = 0,
        n1d = 0,
        n2e = 0,
        n2d = 0;
      others.forEach((cB, k) => {
        const scores = pairs.map(([a, b]) => compareCodes(cA.get(a)!, cB.get(b)!));
        const m = scores.filter((_, i) => same[i]);
        const n = scores.filter((_, i) => !same[i]);
        meanM += m.reduce((s, v) => s + v, 0) / m.length / keys;
        meanN += n.reduce((s, v) => s + v, 0) / n.length / keys;
        eers.push(equalErrorRate(m, n).eer);
        dsyss.push(unlinkability(m, n, { omega: 1, bins: 100 }).dsys);
        const rng = new SeededRng(`voxvault-crosskey-null/${trials}/${subset}/${k}`);
        // Floor 1.
        const idx = rng.shuffle(n.map((_, i) => i));
        const cut = Math.min(m.length, Math.floor(n.length / 2));
        const a1 = idx.slice(0, cut).map((i) => n[i]!);
        const b1 = idx.slice(cut).map((i) => n[i]!);
        n1e += equalErrorRate(a1, b1).eer / keys;
        n1d += unlinkability(a1, b1, { omega: 1, bins: 100 }).dsys / keys;
        // Floor 2: a derangement of the speakers.
        let perm: string[];
        do perm = rng.shuffle(speakers);
        while (perm.some((s, i) => s === speakers[i]));
        const pi = new Map(speakers.map((s, i) => [s, perm[i]!]));
        const pm: number[] = [];
        const pn: number[] = [];
        pairs.forEach(([a, b], i) => {
          if (same[i]) return;
          (pi.get(speakerOf.get(a)!) === speakerOf.get(b) ? pm : pn).push(scores[i]!);
        });
        n2e += equalErrorRate(pm, pn).eer / keys;
        const f2 = unlinkability(pm, pn, { omega: 1, bins: 100 }).dsys;
        n2d += f2 / keys;
        perKey.push({ eer: eers[k]!, dsys: dsyss[k]!, floorDsys: f2 });
      });
      const stat = (v: number[]): { mean: number; min: number; max: number } => ({
        mean: v.reduce((s, x) => s + x, 0) / v.length,
        min: Math.min(...v),
        max: Math.max(...v),
      });
      rows.push({
        trials,
        subset,
        keys,
        mated: same.filter((x) => x).length,
        nonMated: same.filter((x) => !x).length,
        eer: { ...stat(eers), below45: eers.filter((e) => e < 0.45).length },
        dsys: stat(dsyss),
        scoreMeans: { mated: meanM, nonMated: meanN },
        nullSubset: { eer: n1e, dsys: n1d },
        nullPermuted: { eer: n2e, dsys: n2d },
        perKey,
      });
    }
  }
  return rows;
}

function crossKeyMarkdown(rows: readonly CrossKeyRow[]): string {
  return [
    `### Cross-key scores over ${rows[0]?.keys ?? 0} keys (guessed key G / second system B)`,
    "",
    'Stored templates under key A against the same people\'s recordings protected under each of the other keys (for the attacker of scenario G, each key is one guess; for scenario X, one second system). Floor 1: a random non-mated subset as large as the mated set against the rest (as in the tables above). Floor 2: a speaker-permutation null — "mated" = trials whose probe speaker is π(enrolment speaker) for a random derangement π, which keeps the clustering of mated trials by speaker that floor 1 lacks. Both floors: mean over the keys.',
    "",
    "| trials | speakers | mated / non-mated | EER mean (min – max) | keys with EER < 45 % | D↔sys mean (min – max) | floor 1 EER / D↔sys | floor 2 EER / D↔sys | mean mated / non-mated score |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map(
      (r) =>
        `| ${r.trials} | ${r.subset} | ${r.mated} / ${r.nonMated} | ${pct(r.eer.mean)} (${pct(r.eer.min)} – ${pct(r.eer.max)}) | ${r.eer.below45} of ${r.keys} | ${r.dsys.mean.toFixed(3)} (${r.dsys.min.toFixed(3)} – ${r.dsys.max.toFixed(3)}) | ${pct(r.nullSubset.eer)} / ${r.nullSubset.dsys.toFixed(3)} | ${pct(r.nullPermuted.eer)} / ${r.nullPermuted.dsys.toFixed(3)} | ${r.scoreMeans.mated.toFixed(4)} / ${r.scoreMeans.nonMated.toFixed(4)} |`,
    ),
    "",
  ].join("\n");
}
