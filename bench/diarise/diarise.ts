/**
 * Diarisation on synthetic interviews (bench/diarise/conversations.ts): DER (pyannote.metrics
 * definition, collar 0.25 s) for two and three speakers, with short overlaps, mixed levels and a
 * telephone channel. The clustering threshold is tuned on the TUNING voices only; the figures are
 * on the EVALUATION voices.
 *
 * The shipped embedder was trained on the TUNING voices, so tuning with it would fit the
 * thresholds to voices it knows. Each tuning conversation is therefore analysed with a fold model
 * (bench/out/embedder/folds, written by `node scripts/embedder/run.mjs evaluate`) that never heard
 * any of its voices: fold k's model gets conversations of the tuning voices outside fold k.
 *
 * Build and run from the repository root:
 *   npx tsc --outDir /tmp/dzbench --module NodeNext --moduleResolution NodeNext --target ES2022 \
 *     --skipLibCheck --rootDir . bench/diarise/diarise.ts
 *   ln -sfn "$PWD/node_modules" /tmp/dzbench/node_modules
 *   node /tmp/dzbench/bench/diarise/diarise.js
 * Needs flite, festival (ked), espeak-ng with the MBROLA voices listed in conversations.ts, sox.
 */
import os from "node:os";
import { Readable } from "node:stream";
import { join } from "node:path";
import { decodeToMono16k } from "../../src/audio/decode/index.js";
import { FeaturePipeline } from "../../src/audio/features/index.js";
import { diarise, DiarisationStream, type DiarisationFrames } from "../../src/diarise/index.js";
import { loadBuiltinEmbedder } from "../../src/embed/builtin.js";
import type { Embedder } from "../../src/embed/index.js";
import { diarisationErrorRate, type Turn } from "../../src/eval/index.js";
import { SeededRng } from "../privacy/rng.js";
import {
  conversation,
  EVALUATION,
  foldTuning,
  TRAINED,
  utterances,
  type Conversation,
  type Voice,
} from "./conversations.js";

const CACHE = join(os.tmpdir(), "voxvault-diarise-voices");

const embedder = await loadBuiltinEmbedder({ modelsDir: join(process.cwd(), "models") });

/** The analysis pass's diarisation frames for one recording (features + VAD + window embeddings). */
export async function framesOf(wav: Uint8Array, e: Embedder = embedder): Promise<DiarisationFrames> {
  const win = e.windows!;
  const d = await decodeToMono16k(Readable.from([wav]) as AsyncIterable<Uint8Array>);
  const stream = new DiarisationStream(
    win.numCeps,
    (s) => win.project(s),
    Number(process.env.WINDOW_HOPS ?? 3),
  );
  const pipeline = new FeaturePipeline({
    ...e.features,
    onFrames: (f) => {
      stream.push(f);
    },
  });
  pipeline.onSpeechDecision((t, s) => {
    stream.decide(t, s);
  });
  for await (const c of d.pcm) pipeline.push(c);
  pipeline.finish();
  return stream.finish();
}

export function hypothesis(frames: DiarisationFrames, p: Params): Turn[] {
  const r = diarise(frames, p);
  return r.segments.map((s) => ({ start: s.start, end: s.end, speaker: `s${s.speaker}` }));
}

interface Case {
  readonly kind: string;
  readonly conv: Conversation;
  readonly frames: DiarisationFrames;
  readonly speakers: number;
}

async function cases(
  voices: readonly Voice[],
  label: string,
  n: { two: number; three: number; tel: number },
  e: Embedder = embedder,
): Promise<Case[]> {
  const pools = new Map(voices.map((v) => [v.id, utterances(v, 14, CACHE)]));
  const rng = new SeededRng(`diarise-${label}`);
  const out: Case[] = [];
  const make = async (kind: string, count: number, k: number, telephone: boolean): Promise<void> => {
    for (let i = 0; i < count; i++) {
      const chosen = rng.shuffle(voices).slice(0, k);
      const conv = conversation(
        rng,
        chosen.map((v) => ({ id: v.id, pool: pools.get(v.id)! })),
        { turns: 14 + rng.int(8), overlap: 0.2, levelDb: 6, telephone },
      );
      out.push({ kind, conv, frames: await framesOf(conv.wav, e), speakers: k });
    }
  };
  await make("2 speakers", n.two, 2, false);
  await make("3 speakers", n.three, 3, false);
  await make("2 speakers, telephone 8 kHz µ-law", n.tel, 2, true);
  return out;
}

interface Params {
  readonly maxDistance: number;
  readonly mergeDistance: number;
}

function score(
  cs: readonly Case[],
  p: Params,
): { der: number; miss: number; fa: number; conf: number; countOk: number } {
  let err = 0;
  let total = 0;
  let miss = 0;
  let fa = 0;
  let conf = 0;
  let countOk = 0;
  for (const c of cs) {
    const hyp = hypothesis(c.frames, p);
    const r = diarisationErrorRate(c.conv.reference, hyp, 0.25);
    err += r.falseAlarm + r.missed + r.confusion;
    miss += r.missed;
    fa += r.falseAlarm;
    conf += r.confusion;
    total += r.total;
    if (new Set(hyp.map((h) => h.speaker)).size === c.speakers) countOk++;
  }
  return { der: err / total, miss: miss / total, fa: fa / total, conf: conf / total, countOk };
}

const t0 = performance.now();
const tune = (
  await Promise.all(
    foldTuning().map((f, k) => cases(f.voices, `tuning-fold${k}`, { two: 8, three: 4, tel: 4 }, f.model)),
  )
).flat();
const grid: Params[] = [];
for (const maxDistance of [0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75])
  for (const mergeDistance of [0.3, 0.4, 0.5]) grid.push({ maxDistance, mergeDistance });
console.log(
  "| window threshold | merge threshold | DER on tuning voices | speaker count right |\n|---|---|---|---|",
);
let best = grid[0]!;
let bestDer = Infinity;
let bestCount = -1;
for (const g of grid) {
  const s = score(tune, g);
  console.log(
    `| ${g.maxDistance.toFixed(2)} | ${g.mergeDistance.toFixed(2)} | ${(100 * s.der).toFixed(1)} % | ${s.countOk}/${tune.length} |`,
  );
  // lowest DER; a tie goes to the setting that gets the speaker count right more often
  if (s.der < bestDer - 1e-9 || (Math.abs(s.der - bestDer) < 1e-9 && s.countOk > bestCount)) {
    bestDer = s.der;
    bestCount = s.countOk;
    best = g;
  }
}
console.log(
  `\nchosen: window threshold ${best.maxDistance.toFixed(2)}, merge threshold ${best.mergeDistance.toFixed(2)} (tuning DER ${(100 * bestDer).toFixed(1)} %)\n`,
);
const evalCases = await cases(EVALUATION, "evaluation", { two: 20, three: 10, tel: 10 });
const trainedCases = await cases(TRAINED, "trained", { two: 6, three: 4, tel: 4 });
console.log(
  "| voices | conversations | audio | DER | missed | false alarm | confusion | speaker count right |\n|---|---|---|---|---|---|---|---|",
);
for (const [set, all] of [
  ["evaluation (MBROLA, unseen)", evalCases],
  ["embedder's training people", trainedCases],
] as const) {
  for (const kind of [...new Set(all.map((c) => c.kind)), "all"]) {
    const cs = kind === "all" ? all : all.filter((c) => c.kind === kind);
    const s = score(cs, best);
    const sec = cs.reduce((n, c) => n + c.conv.seconds, 0);
    console.log(
      `| ${set}: ${kind} | ${cs.length} | ${(sec / 60).toFixed(1)} min | ${(100 * s.der).toFixed(1)} % | ${(100 * s.miss).toFixed(1)} % | ${(100 * s.fa).toFixed(1)} % | ${(100 * s.conf).toFixed(1)} % | ${s.countOk}/${cs.length} |`,
    );
  }
}
console.log(
  `\n(${((performance.now() - t0) / 1000).toFixed(0)} s; ${os.cpus()[0]?.model ?? "?"}, node ${process.version})`,
);
