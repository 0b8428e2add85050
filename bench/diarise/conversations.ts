/**
 * Synthetic interviews from voices built from real speakers: turn-taking with short gaps and
 * short overlaps, per-speaker levels, optionally a telephone channel. The reference ("who spoke
 * when") comes from each speaker's own track before mixing: 10 ms frames within 35 dB of that
 * track's loudest frame, gaps under 0.3 s bridged.
 *
 * Voice sets that never meet, all of people the built-in embedder never heard (MBROLA diphone
 * voices, each recorded from one person): TUNING sets the clustering threshold, EVALUATION (chosen
 * before any tuning) gives the figures. TRAINED (flite and festival: the embedder's own training
 * people) is reported beside them to show the gap.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadSentences } from "../privacy/corpus.js";
import type { SeededRng } from "../privacy/rng.js";
import { encodeWav16, parseWav } from "../privacy/wav.js";
import type { Turn } from "../../src/eval/index.js";
import { createDspEmbedder, type Embedder } from "../../src/embed/index.js";
import { FOLDS } from "../../scripts/embedder/corpus.js";

export interface Voice {
  readonly id: string;
  readonly engine: "flite" | "festival" | "mbrola";
  readonly name: string;
}

const mbrola = (ids: readonly string[]): Voice[] =>
  ids.map((v) => ({ id: `mb-${v}`, engine: "mbrola" as const, name: `mb-${v}` }));

/** The people the built-in embedder was trained on (reported for comparison, never tuned on). */
export const TRAINED: readonly Voice[] = [
  { id: "kal", engine: "flite", name: "kal16" },
  { id: "awb", engine: "flite", name: "awb" },
  { id: "rms", engine: "flite", name: "rms" },
  { id: "slt", engine: "flite", name: "slt" },
  { id: "ked", engine: "festival", name: "ked_diphone" },
];

/** MBROLA voices for tuning the clustering threshold (never in the figures). */
export const TUNING: readonly Voice[] = mbrola([
  "ar1",
  "br1",
  "br3",
  "ca1",
  "cr1",
  "de8",
  "es2",
  "fr5",
  "fr6",
  "ic1",
  "in1",
  "ir1",
  "it1",
  "la1",
  "lt1",
  "ma1",
  "mx1",
  "nl3",
  "nz1",
  "tl1",
  "vz1",
]);

/** MBROLA voices for the figures, chosen before any tuning (never tuned on). */
export const EVALUATION: readonly Voice[] = mbrola([
  "de3",
  "de7",
  "fr2",
  "fr3",
  "nl1",
  "es1",
  "it3",
  "pt1",
  "ro1",
  "cz2",
  "hu1",
  "gr2",
  "tr1",
  "id1",
  "ee1",
]);

/**
 * The embedder's fold models (bench/out/embedder/folds, written by
 * `node scripts/embedder/run.mjs evaluate`), each paired with the TUNING voices it never heard
 * (those outside its fold): the shipped model was trained on the TUNING voices, so tuning on them
 * with it would fit thresholds to voices it knows.
 */
export function foldTuning(): { readonly model: Embedder; readonly voices: readonly Voice[] }[] {
  return FOLDS.map((fold, k) => ({
    model: createDspEmbedder(readFileSync(join(process.cwd(), `bench/out/embedder/folds/fold${k}.json`))),
    // conversations name MBROLA voices mb-xx1, the training corpus mb_xx1
    voices: TUNING.filter((v) => !fold.includes(v.id.replace("-", "_"))),
  }));
}

export const RATE = 16000;

function synth(v: Voice, text: string, out: string): void {
  const raw = `${out}.raw.wav`;
  if (v.engine === "flite") execFileSync("flite", ["-voice", v.name, "-t", text, "-o", raw]);
  else if (v.engine === "mbrola")
    execFileSync("espeak-ng", ["-v", v.name, "-w", raw, text], { stdio: "ignore" });
  else {
    const txt = `${out}.txt`;
    writeFileSync(txt, text + "\n");
    execFileSync("text2wave", [
      "-eval",
      `(voice_${v.name})`,
      "-F",
      String(RATE),
      "-otype",
      "riff",
      "-o",
      raw,
      txt,
    ]);
  }
  execFileSync("sox", [
    raw,
    "-r",
    String(RATE),
    "-c",
    "1",
    "-b",
    "16",
    out,
    "silence",
    "1",
    "0.05",
    "0.5%",
    "reverse",
    "silence",
    "1",
    "0.05",
    "0.5%",
    "reverse",
  ]);
}

/** A voice's utterances (16 kHz mono, silence trimmed), rendered once into `cache`. */
export function utterances(v: Voice, count: number, cache: string): Float32Array[] {
  const dir = join(cache, v.id);
  mkdirSync(dir, { recursive: true });
  const sentences = loadSentences("en");
  const out: Float32Array[] = [];
  for (let i = 0; i < count; i++) {
    const f = join(dir, `${i}.wav`);
    if (!existsSync(f)) synth(v, sentences[(i * 7 + v.id.length * 13) % sentences.length]!, f);
    out.push(parseWav(readFileSync(f)).samples);
  }
  return out;
}

export interface ConversationOptions {
  readonly turns: number;
  /** Probability that a turn starts before the previous one ends. */
  readonly overlap: number;
  /** Each speaker's level, drawn within ± this many dB. */
  readonly levelDb: number;
  readonly telephone: boolean;
}

export interface Conversation {
  /** A 16-bit WAV file as the vault would receive it. */
  readonly wav: Uint8Array;
  readonly reference: Turn[];
  readonly seconds: number;
  /** Who spoke each turn, in order. */
  readonly turns: readonly { speaker: string; start: number; end: number }[];
}

/** Frames of a track that carry its speaker's voice (see the module comment). */
function activity(track: Float32Array, from: number, to: number, speaker: string): Turn[] {
  const hop = RATE / 100;
  const db: number[] = [];
  for (let i = from; i + hop <= to; i += hop) {
    let e = 0;
    for (let k = 0; k < hop; k++) e += track[i + k]! ** 2;
    db.push(10 * Math.log10(e / hop + 1e-12));
  }
  const peak = Math.max(...db);
  const turns: Turn[] = [];
  let start = -1;
  let lastOn = -100;
  for (let f = 0; f <= db.length; f++) {
    const on = f < db.length && db[f]! > peak - 35;
    if (on) {
      if (start < 0 || f - lastOn > 30) {
        if (start >= 0)
          turns.push({ start: from / RATE + start / 100, end: from / RATE + (lastOn + 1) / 100, speaker });
        start = f;
      }
      lastOn = f;
    }
  }
  if (start >= 0)
    turns.push({ start: from / RATE + start / 100, end: from / RATE + (lastOn + 1) / 100, speaker });
  return turns;
}

/**
 * An interview: speakers[0] asks, the others answer in turn (`order` overrides who speaks each
 * turn, e.g. a proxy taking over the candidate's turns halfway).
 */
export function conversation(
  rng: SeededRng,
  speakers: readonly { id: string; pool: readonly Float32Array[] }[],
  o: ConversationOptions,
  order?: readonly number[],
): Conversation {
  const gains = speakers.map(() => 10 ** (rng.uniform(-o.levelDb, o.levelDb) / 20));
  const placed: { s: number; at: number; pcm: Float32Array }[] = [];
  let t = Math.round(0.5 * RATE);
  let prev = -1;
  for (let k = 0; k < o.turns; k++) {
    const s = order ? order[k]! : k % 2 === 0 ? 0 : 1 + rng.int(speakers.length - 1);
    const pool = speakers[s]!.pool;
    const parts = 1 + rng.int(s === 0 ? 2 : 3);
    const chunks: Float32Array[] = [];
    for (let p = 0; p < parts; p++) {
      chunks.push(pool[rng.int(pool.length)]!);
      if (p + 1 < parts) chunks.push(new Float32Array(Math.round(rng.uniform(0.15, 0.45) * RATE)));
    }
    const len = chunks.reduce((n, c) => n + c.length, 0);
    const pcm = new Float32Array(len);
    let at = 0;
    for (const c of chunks) {
      pcm.set(c, at);
      at += c.length;
    }
    if (prev >= 0 && prev !== s && rng.chance(o.overlap)) t -= Math.round(rng.uniform(0.2, 0.6) * RATE);
    placed.push({ s, at: Math.max(0, t), pcm });
    t = Math.max(0, t) + len + Math.round(rng.uniform(0.2, 0.8) * RATE);
    prev = s;
  }
  const total = t + Math.round(0.5 * RATE);
  const tracks = speakers.map(() => new Float32Array(total));
  for (const p of placed) {
    const tr = tracks[p.s]!;
    for (let i = 0; i < p.pcm.length; i++) tr[p.at + i]! += p.pcm[i]! * gains[p.s]!;
  }
  const reference: Turn[] = [];
  for (const p of placed)
    reference.push(...activity(tracks[p.s]!, p.at, p.at + p.pcm.length, speakers[p.s]!.id));
  const mix = new Float32Array(total);
  for (const tr of tracks) for (let i = 0; i < total; i++) mix[i]! += tr[i]!;
  let peak = 0;
  for (const v of mix) peak = Math.max(peak, Math.abs(v));
  for (let i = 0; i < total; i++) mix[i] = (mix[i]! / peak) * 0.7;
  let wav = encodeWav16(mix, RATE);
  if (o.telephone) {
    const dir = join("/tmp", "voxvault-diarise-tel");
    mkdirSync(dir, { recursive: true });
    const a = join(dir, "in.wav");
    const b = join(dir, "out.wav");
    writeFileSync(a, wav);
    // telephone band, 8 kHz µ-law (G.711)
    execFileSync("sox", [a, "-r", "8000", "-e", "u-law", b, "sinc", "300-3400"]);
    wav = new Uint8Array(readFileSync(b));
  }
  return {
    wav,
    reference,
    seconds: total / RATE,
    turns: placed.map((p) => ({
      speaker: speakers[p.s]!.id,
      start: p.at / RATE,
      end: (p.at + p.pcm.length) / RATE,
    })),
  };
}
