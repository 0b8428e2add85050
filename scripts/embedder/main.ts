/**
 * Command-line entry for the built-in embedder's training (run through scripts/embedder/run.mjs,
 * which compiles and links node_modules first):
 *
 *   train [--out FILE] [--dim N] [--ridge R] [--keep F] [--cv] [--folds DIR] [--jobs J]
 *
 * --cv prints the speaker-disjoint cross-validation EER on the training corpus; --folds DIR also
 * writes the two fold models (trained on one half of the base voices each) for the
 * speaker-disjoint evaluation in bench/privacy/evaluate-builtin.ts.
 */

import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { buildTrainingCorpus } from "./corpus.js";
import {
  corpusStats,
  crossValidate,
  DEFAULT_SETTINGS,
  serialiseModel,
  trainingProvenance,
  trainModel,
  type TrainSettings,
} from "./train.js";
import { baseVoice, FOLDS } from "./corpus.js";
import { dspModelId } from "../../src/embed/dsp/model.js";

function arg(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

export async function train(args: string[], root: string): Promise<void> {
  const settings: TrainSettings = {
    ...DEFAULT_SETTINGS,
    ...(arg(args, "--dim") === undefined ? {} : { dim: Number(arg(args, "--dim")) }),
    ...(arg(args, "--ridge") === undefined ? {} : { ridge: Number(arg(args, "--ridge")) }),
    ...(arg(args, "--keep") === undefined ? {} : { keepFraction: Number(arg(args, "--keep")) }),
    ...(arg(args, "--ceps") === undefined ? {} : { numCeps: Number(arg(args, "--ceps")) }),
  };
  const t0 = performance.now();
  const corpus = await buildTrainingCorpus(join(root, "bench/out/embedder/train-corpus"), {
    jobs: Number(arg(args, "--jobs") ?? 2),
    log: (l) => {
      console.log(l);
    },
  });
  const t1 = performance.now();
  const data = corpus.parts.flatMap((p) => corpusStats(p.dir, p.manifest, settings));
  const t2 = performance.now();
  console.log(
    `statistics of ${data.length} utterances (${new Set(data.map((d) => d.speaker)).size} speakers) in ${((t2 - t1) / 1000).toFixed(1)} s`,
  );
  const provenance = trainingProvenance(corpus.parts.map((p) => p.manifest));
  const file = trainModel(data, settings, provenance);
  const bytes = serialiseModel(file);
  const out = resolve(root, arg(args, "--out") ?? `models/${settings.name}.json`);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, bytes);
  console.log(
    `wrote ${out} (${bytes.length} bytes), id ${dspModelId(settings.name, bytes)}; training ${((performance.now() - t2) / 1000).toFixed(1)} s, corpus ${((t1 - t0) / 1000).toFixed(1)} s`,
  );
  if (args.includes("--cv")) {
    const cv = crossValidate(data, settings);
    console.log(
      `speaker-disjoint 2-fold CV on the training corpus: EER ${(100 * cv.eer).toFixed(2)} % (folds ${cv.folds.map((e) => (100 * e).toFixed(2)).join(", ")} %)`,
    );
  }
  const foldsDir = arg(args, "--folds");
  if (foldsDir !== undefined) {
    mkdirSync(resolve(root, foldsDir), { recursive: true });
    FOLDS.forEach((fold, k) => {
      const sub = data.filter((d) => fold.includes(baseVoice(d.speaker)));
      const f = trainModel(
        sub,
        { ...settings, name: `${settings.name}-fold${k}` },
        { ...provenance, fold: [...fold] },
      );
      writeFileSync(join(resolve(root, foldsDir), `fold${k}.json`), serialiseModel(f));
    });
    console.log(`wrote fold models to ${foldsDir}`);
  }
}
