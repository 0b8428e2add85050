/**
 * The built-in embedder's TRAINING corpus, generated with the same machinery as the evaluation
 * corpus (bench/privacy/corpus.ts) but kept apart from it:
 *
 *  - texts: bench-disjoint sentences from scripts/embedder/sentences.ts;
 *  - conditions: the same channel-chain distribution, drawn from another seed;
 *  - noise: generated from a seed (bench/privacy/corpus.ts seededNoise), not sox's fixed sequence;
 *  - speakers: the 16 real voices are the SAME people as in the evaluation corpus (no other real
 *    voices are installed), plus pseudo-speakers made by sox pitch (joint F0 / formant scaling),
 *    tempo and treble transforms, in two rounds of pitch grids, skipping any pitch within 120 cents
 *    of an evaluation pseudo-speaker of the same base voice. The speaker-disjoint estimate (two folds by base voice,
 *    see FOLDS) is how the evaluation reports what this overlap is worth.
 */

import { buildCorpus, type CorpusManifest } from "../../bench/privacy/corpus.js";
import { SeededRng } from "../../bench/privacy/rng.js";
import {
  DERIVED_SPEAKERS,
  MBROLA_TRAINING,
  REAL_SPEAKERS,
  type SpeakerSpec,
} from "../../bench/privacy/voices.js";
import { trainingSentences } from "./sentences.js";

export const TRAIN_SEED = "voxvault-embedder-train/v1";
/** Pseudo-speaker rounds: id tag, pitch grid (cents), corpus sub-directory. */
export const PSEUDO_ROUNDS = [
  { tag: "t", grid: [-550, -300, -150, 150, 300, 550], dir: "pseudo", rng: "pseudo" },
  { tag: "u", grid: [-450, -225, -75, 75, 225, 450], dir: "pseudo2", rng: "pseudo2" },
] as const;
/** Minimum distance in cents from an evaluation pseudo-speaker of the same base voice. */
const MIN_CENTS_FROM_EVAL = 120;

/**
 * Two folds of base voices for the speaker-disjoint estimates: the flite/festival people balanced
 * for language and sex, the MBROLA training voices alternately in list order.
 */
export const FOLDS: readonly (readonly string[])[] = [
  [
    "kal",
    "awb",
    "slt",
    "dita",
    "machac",
    "lj",
    "pc",
    "nsh",
    ...MBROLA_TRAINING.filter((_, i) => i % 2 === 0).map((s) => s.id),
  ],
  [
    "ked",
    "rms",
    "ona",
    "krb",
    "ph",
    "mv",
    "lp",
    "nsk",
    ...MBROLA_TRAINING.filter((_, i) => i % 2 === 1).map((s) => s.id),
  ],
];

/** A training pseudo-speaker of `base` at `cents`, tempo and treble drawn from `rng` (in that order). */
function pseudoSpeaker(base: SpeakerSpec, tag: string, cents: number, rng: SeededRng): SpeakerSpec {
  const transform = { pitchCents: cents, tempo: rng.uniform(0.93, 1.07, 2), trebleDb: rng.uniform(-3, 3, 1) };
  return {
    id: `${base.id}-${tag}${cents > 0 ? "p" : "m"}${Math.abs(cents)}`,
    kind: "derived",
    lang: base.lang,
    sex: base.sex,
    description: `training pseudo-speaker from ${base.id}: pitch ${cents} cents, tempo ${transform.tempo}, treble ${transform.trebleDb} dB`,
    voices: base.voices,
    base: base.id,
    transform,
  };
}

/** Pitch grid (cents) of the pseudo-speakers made from each MBROLA training voice. */
export const MBROLA_PSEUDO_GRID = [-350, 350] as const;

/** Pseudo-speakers from the MBROLA training voices (one round, seeded like the others). */
export function mbrolaPseudoSpeakers(): SpeakerSpec[] {
  const out: SpeakerSpec[] = [];
  for (const base of MBROLA_TRAINING) {
    const rng = new SeededRng(`${TRAIN_SEED}/mbrola-pseudo/${base.id}`);
    for (const cents of MBROLA_PSEUDO_GRID) out.push(pseudoSpeaker(base, "m", cents, rng));
  }
  return out;
}

export function trainingPseudoSpeakers(round: 0 | 1 | "all" = "all"): SpeakerSpec[] {
  if (round === "all") return [...trainingPseudoSpeakers(0), ...trainingPseudoSpeakers(1)];
  const { tag, grid, rng: rngLabel } = PSEUDO_ROUNDS[round];
  const out: SpeakerSpec[] = [];
  for (const base of REAL_SPEAKERS) {
    const evalCents = DERIVED_SPEAKERS.filter((d) => d.base === base.id).map((d) => d.transform!.pitchCents);
    const rng = new SeededRng(`${TRAIN_SEED}/${rngLabel}/${base.id}`);
    for (const cents of grid) {
      if (evalCents.some((c) => Math.abs(c - cents) < MIN_CENTS_FROM_EVAL)) continue;
      out.push(pseudoSpeaker(base, tag, cents, rng));
    }
  }
  return out;
}

/** Base (real) voice of a speaker id of either corpus. */
export function baseVoice(speakerId: string): string {
  return speakerId.split("-")[0]!;
}

export interface CorpusPart {
  readonly dir: string;
  readonly manifest: CorpusManifest;
}

/** The real voices, one part per pseudo-speaker round, the MBROLA voices and their pseudo-speakers. */
export interface TrainingCorpus {
  readonly parts: readonly CorpusPart[];
}

export async function buildTrainingCorpus(
  outDir: string,
  options: {
    realUtterances?: number;
    pseudoUtterances?: number;
    /** Leave the MBROLA parts out (the corpus of the first model, voxvault-dsp-v1). */
    withoutMbrola?: boolean;
    jobs?: number;
    log?: (l: string) => void;
  } = {},
): Promise<TrainingCorpus> {
  const common = {
    seed: TRAIN_SEED,
    enrolPerSpeaker: 1,
    jobs: options.jobs ?? 2,
    sentences: (lang: Parameters<typeof trainingSentences>[0]) => trainingSentences(lang),
    noiseSeed: `${TRAIN_SEED}/noise`,
    ...(options.log === undefined ? {} : { log: options.log }),
  };
  const parts: CorpusPart[] = [];
  const realDir = `${outDir}/real`;
  parts.push({
    dir: realDir,
    manifest: await buildCorpus({
      ...common,
      outDir: realDir,
      speakers: REAL_SPEAKERS,
      utterancesPerSpeaker: options.realUtterances ?? 20,
    }),
  });
  for (const [k, round] of PSEUDO_ROUNDS.entries()) {
    const dir = `${outDir}/${round.dir}`;
    parts.push({
      dir,
      manifest: await buildCorpus({
        ...common,
        // Round 1 keeps the original seed (its cached audio stays valid); later rounds get their own.
        ...(k === 0 ? {} : { seed: `${TRAIN_SEED}/round${k + 1}` }),
        outDir: dir,
        speakers: trainingPseudoSpeakers(k === 0 ? 0 : 1),
        utterancesPerSpeaker: options.pseudoUtterances ?? 8,
      }),
    });
  }
  if (options.withoutMbrola !== true) {
    for (const [name, speakers, utterances] of [
      ["mbrola", MBROLA_TRAINING, options.realUtterances ?? 20],
      ["mbrola-pseudo", mbrolaPseudoSpeakers(), options.pseudoUtterances ?? 8],
    ] as const) {
      const dir = `${outDir}/${name}`;
      parts.push({
        dir,
        manifest: await buildCorpus({
          ...common,
          seed: `${TRAIN_SEED}/${name}`,
          outDir: dir,
          speakers,
          utterancesPerSpeaker: utterances,
        }),
      });
    }
  }
  return { parts };
}
