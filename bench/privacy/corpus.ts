/**
 * Builds the privacy-evaluation corpus: real-voice synthesiser speakers (plus derived pseudo-
 * speakers, see voices.ts), each reading different sentences, each utterance passed through a
 * seeded chain of channel effects:
 *
 *   speaker side  speed (±6 %) or pitch (±80 cents)                              p = 0.3
 *   room          sox reverb, reverberance 20-80 %, room scale 40-100 %           p = 0.3
 *   noise         sox white / pink / brown noise mixed at an SNR of 10-30 dB      p = 0.45
 *   channel       MP3 (lame 16-32 kbit/s) | Opus (opusenc 6-12 kbit/s) |
 *                 telephone (300-3400 Hz band, 8 kHz µ-law)                       p = 0.5
 *
 * Everything is derived from one seed (choices, sentence selection, noise segments); sox runs
 * in repeatable mode (-R). Output: 16 kHz mono 16-bit WAVs under <out>/<speaker>/ and
 * <out>/manifest.json with per-file SHA-256, the conditions and a fixed trial list (per speaker
 * the first `enrol` utterances enrol, the rest are probes; mated = same speaker, non-mated = all
 * other speakers' probes).
 *
 * Run: node <build>/bench/privacy/corpus.js [--out DIR] [--seed S] [--utterances N] [--jobs J]
 *      [--speakers id,id,...] [--force]
 */

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SeededRng } from "./rng.js";
import { missingTools, pool, run, toolVersion } from "./tools.js";
import { ALL_SPEAKERS, FESTIVAL_ENCODING, type Lang, type SpeakerSpec, type VoiceSpec } from "./voices.js";
import { readWav, writeWav16 } from "./wav.js";

export const CORPUS_FORMAT = "voxvault-privacy-corpus/1";
export const SAMPLE_RATE = 16000;
const NOISE_TYPES = ["whitenoise", "pinknoise", "brownnoise"] as const;
const NOISE_BANK_SECONDS = 60;

export type Condition =
  | { readonly kind: "speed"; readonly factor: number }
  | { readonly kind: "pitch"; readonly cents: number }
  | { readonly kind: "reverb"; readonly reverberance: number; readonly roomScale: number }
  | {
      readonly kind: "noise";
      readonly noise: (typeof NOISE_TYPES)[number];
      readonly snrDb: number;
      readonly offsetSec: number;
    }
  | { readonly kind: "mp3"; readonly kbps: number }
  | { readonly kind: "opus"; readonly kbps: number }
  | { readonly kind: "telephone" };

/** Per-utterance espeak-ng settings: words per minute (-s) and base pitch 0–99 (-p). */
export interface Prosody {
  readonly wpm: number;
  readonly pitch: number;
}

export interface UtteranceEntry {
  readonly id: string;
  readonly speaker: string;
  readonly index: number;
  readonly role: "enrol" | "probe";
  readonly lang: Lang;
  readonly text: string;
  readonly engine: VoiceSpec["engine"];
  readonly voice: string;
  /** espeak-ng speaking rate and base pitch (MBROLA voices only). */
  readonly prosody?: Prosody;
  readonly conditions: readonly Condition[];
  readonly file: string;
  readonly durationSec: number;
  readonly sha256: string;
}

export interface SpeakerEntry {
  readonly id: string;
  readonly kind: "real" | "derived";
  readonly lang: Lang;
  readonly sex: "f" | "m";
  readonly description: string;
  readonly base?: string;
}

export interface CorpusManifest {
  readonly format: typeof CORPUS_FORMAT;
  readonly seed: string;
  readonly configDigest: string;
  readonly sampleRate: number;
  readonly utterancesPerSpeaker: number;
  readonly enrolPerSpeaker: number;
  readonly tools: Record<string, string>;
  readonly speakers: readonly SpeakerEntry[];
  readonly utterances: readonly UtteranceEntry[];
  /** [enrol utterance id, probe utterance id] pairs. */
  readonly trials: {
    readonly mated: readonly [string, string][];
    readonly nonMated: readonly [string, string][];
  };
}

export interface CorpusOptions {
  readonly outDir: string;
  readonly seed?: string;
  readonly utterancesPerSpeaker?: number;
  readonly enrolPerSpeaker?: number;
  readonly speakers?: readonly SpeakerSpec[];
  readonly jobs?: number;
  readonly force?: boolean;
  readonly log?: (line: string) => void;
  /**
   * Sentence list per language (default: bench/privacy/sentences/<lang>.txt, the evaluation
   * texts). The embedder's training corpus passes its own, disjoint texts.
   */
  readonly sentences?: (lang: Lang) => readonly string[];
  /**
   * When set, the noise bank is generated from this seed by {@link seededNoise} instead of by sox
   * (whose -R noise is always the same sequence), so another corpus gets other noise samples.
   */
  readonly noiseSeed?: string;
}

const HERE = dirname(fileURLToPath(import.meta.url));

/** Sentence lists live next to the sources; the compiled file may run from elsewhere. */
export function sentencesDir(): string {
  const candidates = [join(HERE, "sentences"), resolve(process.cwd(), "bench/privacy/sentences")];
  const found = candidates.find((d) => existsSync(join(d, "en.txt")));
  if (!found) throw new Error(`sentence lists not found (looked in ${candidates.join(", ")})`);
  return found;
}

export function loadSentences(lang: Lang): string[] {
  return readFileSync(join(sentencesDir(), `${lang}.txt`), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/** The seeded channel chain of one utterance (order: speaker side, room, noise, channel). */
export function drawConditions(rng: SeededRng): Condition[] {
  const c: Condition[] = [];
  if (rng.chance(0.3)) {
    c.push(
      rng.chance(0.5)
        ? { kind: "speed", factor: rng.uniform(0.94, 1.06, 3) }
        : { kind: "pitch", cents: Math.round(rng.uniform(-80, 80)) },
    );
  }
  if (rng.chance(0.3))
    c.push({
      kind: "reverb",
      reverberance: Math.round(rng.uniform(20, 80)),
      roomScale: Math.round(rng.uniform(40, 100)),
    });
  if (rng.chance(0.45)) {
    c.push({
      kind: "noise",
      noise: rng.pick(NOISE_TYPES),
      snrDb: rng.uniform(10, 30, 1),
      offsetSec: rng.uniform(0, NOISE_BANK_SECONDS - 20, 3),
    });
  }
  if (rng.chance(0.5)) {
    const k = rng.int(3);
    c.push(
      k === 0
        ? { kind: "mp3", kbps: rng.pick([16, 24, 32]) }
        : k === 1
          ? { kind: "opus", kbps: rng.pick([6, 8, 12]) }
          : { kind: "telephone" },
    );
  }
  return c;
}

interface Plan {
  readonly speaker: SpeakerSpec;
  readonly index: number;
  readonly id: string;
  readonly text: string;
  readonly voice: VoiceSpec;
  readonly prosody?: Prosody;
  readonly conditions: Condition[];
}

function planCorpus(
  seed: string,
  speakers: readonly SpeakerSpec[],
  perSpeaker: number,
  textsOf: (lang: Lang) => readonly string[] = loadSentences,
): Plan[] {
  const plans: Plan[] = [];
  for (const sp of speakers) {
    const rng = new SeededRng(`${seed}/speaker/${sp.id}`);
    const sentences = textsOf(sp.lang);
    if (sentences.length < perSpeaker)
      throw new Error(`only ${sentences.length} ${sp.lang} sentences for ${perSpeaker} utterances`);
    const texts = rng.shuffle(sentences).slice(0, perSpeaker);
    for (let i = 0; i < perSpeaker; i++) {
      // Alternate engines where one person has two (sessions of one speaker).
      const voice = sp.voices[i % sp.voices.length]!;
      const conditions = drawConditions(rng);
      // Drawn after the conditions and only for MBROLA, so other corpora keep their plans.
      const prosody =
        voice.engine === "mbrola" ? { wpm: 145 + rng.int(46), pitch: 35 + rng.int(31) } : undefined;
      plans.push({
        speaker: sp,
        index: i,
        id: `${sp.id}-${String(i).padStart(2, "0")}`,
        text: texts[i]!,
        voice,
        ...(prosody === undefined ? {} : { prosody }),
        conditions,
      });
    }
  }
  return plans;
}

async function synthesise(
  text: string,
  lang: Lang,
  voice: VoiceSpec,
  work: string,
  out: string,
  prosody?: Prosody,
): Promise<void> {
  if (voice.engine === "flite") {
    await run("flite", ["-voice", voice.voice, "-t", text, "-o", out]);
    return;
  }
  if (voice.engine === "mbrola") {
    const p = prosody ?? { wpm: 165, pitch: 50 };
    await run("espeak-ng", ["-v", voice.voice, "-s", String(p.wpm), "-p", String(p.pitch), "-w", out, text]);
    return;
  }
  const utf8 = join(work, "text.utf8");
  const enc = join(work, "text.txt");
  writeFileSync(utf8, text + "\n", "utf8");
  const encoding = FESTIVAL_ENCODING[lang];
  if (encoding === "UTF-8") writeFileSync(enc, text + "\n", "utf8");
  else writeFileSync(enc, await runBinary("iconv", ["-f", "UTF-8", "-t", encoding, utf8]));
  await run(
    "text2wave",
    ["-eval", `(voice_${voice.voice})`, "-F", String(SAMPLE_RATE), "-otype", "riff", "-o", out, enc],
    300_000,
  );
}

/** Synthesisers can exit 0 with an empty file (e.g. festival on a character its LTS rules lack). */
function checkSynthesised(path: string, what: string): void {
  if (!existsSync(path) || statSync(path).size < 1000)
    throw new Error(`synthesis produced no audio for ${what}`);
}

function runBinary(cmd: string, args: string[]): Promise<Buffer> {
  return new Promise<Buffer>((res, rej) => {
    execFile(cmd, args, { encoding: "buffer" }, (err, stdout) => {
      if (err) rej(new Error(`${cmd} failed: ${err.message}`));
      else res(stdout);
    });
  });
}

const SOX_OUT = ["-r", String(SAMPLE_RATE), "-c", "1", "-b", "16", "-e", "signed-integer"];

async function ensureNoiseBank(dir: string, noiseSeed?: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (const n of NOISE_TYPES) {
    const f = join(dir, `${n}.wav`);
    if (!existsSync(f)) {
      if (noiseSeed === undefined) {
        await run("sox", ["-R", "-n", ...SOX_OUT, f + ".tmp.wav", "synth", String(NOISE_BANK_SECONDS), n]);
      } else {
        writeWav16(f + ".tmp.wav", seededNoise(n, NOISE_BANK_SECONDS * SAMPLE_RATE, noiseSeed), SAMPLE_RATE);
      }
      renameSync(f + ".tmp.wav", f);
    }
  }
}

/**
 * Seeded white / pink / brown noise (peak-normalised to 0.9; the mixer rescales to the SNR anyway).
 * Pink: Paul Kellet's economy filter on white noise (−3 dB/octave within ±0.5 dB above ~40 Hz);
 * brown: leaky integration of white noise (−6 dB/octave above ~3 Hz).
 */
export function seededNoise(kind: (typeof NOISE_TYPES)[number], n: number, seed: string): Float32Array {
  const rng = new SeededRng(`${seed}/noise/${kind}`);
  const out = new Float32Array(n);
  let [b0, b1, b2, brown] = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) {
    const w = rng.normal();
    if (kind === "whitenoise") out[i] = w;
    else if (kind === "pinknoise") {
      b0 = 0.99765 * b0 + w * 0.099046;
      b1 = 0.963 * b1 + w * 0.2965164;
      b2 = 0.57 * b2 + w * 1.0526913;
      out[i] = b0 + b1 + b2 + w * 0.1848;
    } else {
      brown = 0.999 * brown + w * 0.05;
      out[i] = brown;
    }
  }
  let peak = 0;
  for (const v of out) peak = Math.max(peak, Math.abs(v));
  for (let i = 0; i < n; i++) out[i] = (out[i]! * 0.9) / peak;
  return out;
}

function rms(x: Float32Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s / Math.max(1, x.length));
}

/** Active-speech RMS: frames (20 ms) within 40 dB of the loudest, cf. ITU-T P.56 in spirit. */
function activeRms(x: Float32Array): number {
  const n = 320;
  const frames: number[] = [];
  for (let i = 0; i + n <= x.length; i += n) frames.push(rms(x.subarray(i, i + n)));
  const max = Math.max(...frames, 1e-9);
  const active = frames.filter((f) => f > max * 0.01);
  return Math.sqrt(active.reduce((s, f) => s + f * f, 0) / Math.max(1, active.length));
}

async function applyCondition(
  c: Condition,
  inp: string,
  out: string,
  work: string,
  noiseDir: string,
): Promise<void> {
  switch (c.kind) {
    case "speed":
      await run("sox", ["-R", inp, ...SOX_OUT, out, "speed", String(c.factor), "rate", String(SAMPLE_RATE)]);
      return;
    case "pitch":
      await run("sox", ["-R", inp, ...SOX_OUT, out, "pitch", String(c.cents)]);
      return;
    case "reverb":
      await run("sox", [
        "-R",
        inp,
        ...SOX_OUT,
        out,
        "reverb",
        String(c.reverberance),
        "50",
        String(c.roomScale),
      ]);
      return;
    case "noise": {
      const speech = readWav(inp).samples;
      const bank = readWav(join(noiseDir, `${c.noise}.wav`)).samples;
      const start = Math.round(c.offsetSec * SAMPLE_RATE);
      const noise = bank.subarray(start, start + speech.length);
      const gain = activeRms(speech) / (rms(noise) * 10 ** (c.snrDb / 20));
      const mixed = Float32Array.from(speech, (v, i) => v + gain * (noise[i] ?? 0));
      let peak = 0;
      for (const v of mixed) peak = Math.max(peak, Math.abs(v));
      if (peak > 0.99) for (let i = 0; i < mixed.length; i++) mixed[i] = (mixed[i]! * 0.99) / peak;
      writeWav16(out, mixed, SAMPLE_RATE);
      return;
    }
    case "mp3": {
      const mp3 = join(work, "x.mp3");
      await run("lame", ["--quiet", "-m", "m", "-b", String(c.kbps), inp, mp3]);
      const dec = join(work, "x-mp3.wav");
      await run("lame", ["--quiet", "--decode", mp3, dec]);
      await run("sox", ["-R", dec, ...SOX_OUT, out]);
      return;
    }
    case "opus": {
      const opus = join(work, "x.opus");
      await run("opusenc", ["--quiet", "--bitrate", String(c.kbps), inp, opus]);
      const dec = join(work, "x-opus.wav");
      await run("opusdec", ["--quiet", "--rate", String(SAMPLE_RATE), opus, dec]);
      await run("sox", ["-R", dec, ...SOX_OUT, out]);
      return;
    }
    case "telephone": {
      const tel = join(work, "x-8k.wav");
      await run("sox", ["-R", inp, "-r", "8000", "-c", "1", "-e", "u-law", tel, "sinc", "300-3400"]);
      await run("sox", ["-R", tel, ...SOX_OUT, out]);
      return;
    }
  }
}

function planDigest(plan: Plan): string {
  const { speaker, ...rest } = plan;
  return createHash("sha256").update(JSON.stringify({ CORPUS_FORMAT, speaker, rest })).digest("hex");
}

/**
 * One utterance. A sidecar <id>.json records the plan digest and the entry, so an interrupted or
 * partly changed build redoes only what changed.
 */
async function produce(plan: Plan, outDir: string, noiseDir: string): Promise<UtteranceEntry> {
  const rel = join(plan.speaker.id, `${plan.id}.wav`);
  const final = join(outDir, rel);
  const sidecar = final.replace(/\.wav$/, ".json");
  const digest = planDigest(plan);
  if (existsSync(sidecar) && existsSync(final)) {
    const old = JSON.parse(readFileSync(sidecar, "utf8")) as { digest: string; entry: UtteranceEntry };
    if (
      old.digest === digest &&
      createHash("sha256").update(readFileSync(final)).digest("hex") === old.entry.sha256
    ) {
      return old.entry;
    }
  }
  const work = join(outDir, "tmp", plan.id);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const raw = join(work, "raw.wav");
  await synthesise(plan.text, plan.speaker.lang, plan.voice, work, raw, plan.prosody);
  checkSynthesised(raw, `${plan.id} (${plan.voice.voice})`);
  let cur = join(work, "s0.wav");
  const base = ["-R", raw, ...SOX_OUT, cur];
  const t = plan.speaker.transform;
  if (t)
    base.push("pitch", String(t.pitchCents), "tempo", "-s", String(t.tempo), "treble", String(t.trebleDb));
  base.push("rate", String(SAMPLE_RATE), "norm", "-3");
  await run("sox", base);
  for (let k = 0; k < plan.conditions.length; k++) {
    const next = join(work, `s${k + 1}.wav`);
    await applyCondition(plan.conditions[k]!, cur, next, work, noiseDir);
    cur = next;
  }
  mkdirSync(dirname(final), { recursive: true });
  await run("sox", ["-R", cur, ...SOX_OUT, final, "norm", "-3"]);
  rmSync(work, { recursive: true, force: true });
  const bytes = readFileSync(final);
  const audio = readWav(final);
  const entry: UtteranceEntry = {
    id: plan.id,
    speaker: plan.speaker.id,
    index: plan.index,
    role: "probe",
    lang: plan.speaker.lang,
    text: plan.text,
    engine: plan.voice.engine,
    voice: plan.voice.voice,
    ...(plan.prosody === undefined ? {} : { prosody: plan.prosody }),
    conditions: plan.conditions,
    file: rel,
    durationSec: audio.samples.length / audio.sampleRate,
    sha256: createHash("sha256").update(bytes).digest("hex"),
  };
  writeFileSync(sidecar, JSON.stringify({ digest, entry }) + "\n");
  return entry;
}

export function buildTrials(utterances: readonly UtteranceEntry[]): CorpusManifest["trials"] {
  const enrol = utterances.filter((u) => u.role === "enrol");
  const probe = utterances.filter((u) => u.role === "probe");
  const mated: [string, string][] = [];
  const nonMated: [string, string][] = [];
  for (const e of enrol)
    for (const p of probe) (e.speaker === p.speaker ? mated : nonMated).push([e.id, p.id]);
  return { mated, nonMated };
}

export async function buildCorpus(options: CorpusOptions): Promise<CorpusManifest> {
  const seed = options.seed ?? "voxvault-privacy-v1";
  const perSpeaker = options.utterancesPerSpeaker ?? 12;
  const enrolPer = options.enrolPerSpeaker ?? 3;
  const speakers = options.speakers ?? ALL_SPEAKERS;
  const log = options.log ?? ((): void => undefined);
  const outDir = resolve(options.outDir);
  if (enrolPer < 1 || enrolPer >= perSpeaker) throw new Error("need 1 <= enrol < utterances per speaker");
  const plans = planCorpus(seed, speakers, perSpeaker, options.sentences);
  const configDigest = createHash("sha256")
    .update(
      JSON.stringify({
        CORPUS_FORMAT,
        seed,
        perSpeaker,
        enrolPer,
        speakers,
        plans: plans.map((p) =>
          p.prosody === undefined
            ? [p.id, p.text, p.voice, p.conditions]
            : [p.id, p.text, p.voice, p.conditions, p.prosody],
        ),
        // Only when set, so that the evaluation corpus keeps its digest.
        ...(options.noiseSeed === undefined ? {} : { noiseSeed: options.noiseSeed }),
      }),
    )
    .digest("hex");
  const manifestPath = join(outDir, "manifest.json");
  if (!options.force && existsSync(manifestPath)) {
    const old = JSON.parse(readFileSync(manifestPath, "utf8")) as CorpusManifest;
    if (old.configDigest === configDigest && old.utterances.every((u) => existsSync(join(outDir, u.file)))) {
      log(`corpus: reusing ${manifestPath} (${old.utterances.length} utterances)`);
      return old;
    }
  }
  const engines = new Set(plans.map((p) => p.voice.engine));
  const missing = missingTools([
    "sox",
    "lame",
    "opusenc",
    "opusdec",
    ...(engines.has("flite") ? ["flite"] : []),
    ...(engines.has("festival") ? ["text2wave", "iconv"] : []),
    ...(engines.has("mbrola") ? ["espeak-ng", "mbrola"] : []),
  ]);
  if (missing.length > 0) throw new Error(`corpus generation needs: ${missing.join(", ")}`);
  mkdirSync(outDir, { recursive: true });
  const noiseDir = join(outDir, "noise");
  await ensureNoiseBank(noiseDir, options.noiseSeed);
  log(`corpus: synthesising ${plans.length} utterances of ${speakers.length} speakers into ${outDir}`);
  let done = 0;
  const produced = await pool(plans, options.jobs ?? 2, async (p) => {
    const u = await produce(p, outDir, noiseDir);
    if (++done % 25 === 0) log(`corpus: ${done}/${plans.length}`);
    return u;
  });
  const utterances = produced.map((u): UtteranceEntry => ({
    ...u,
    role: u.index < enrolPer ? "enrol" : "probe",
  }));
  rmSync(join(outDir, "tmp"), { recursive: true, force: true });
  const manifest: CorpusManifest = {
    format: CORPUS_FORMAT,
    seed,
    configDigest,
    sampleRate: SAMPLE_RATE,
    utterancesPerSpeaker: perSpeaker,
    enrolPerSpeaker: enrolPer,
    tools: {
      sox: toolVersion("sox", ["--version"]),
      flite: toolVersion("flite", ["--version"]),
      festival: toolVersion("festival", ["--version"]),
      lame: toolVersion("lame", ["--version"]),
      opusenc: toolVersion("opusenc", ["--version"]),
    },
    speakers: speakers.map((s) => ({
      id: s.id,
      kind: s.kind,
      lang: s.lang,
      sex: s.sex,
      description: s.description,
      ...(s.base === undefined ? {} : { base: s.base }),
    })),
    utterances,
    trials: buildTrials(utterances),
  };
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 1) + "\n");
  log(`corpus: wrote ${manifestPath}`);
  return manifest;
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const ids = argValue(args, "--speakers")?.split(",");
  const speakers = ids ? ALL_SPEAKERS.filter((s) => ids.includes(s.id)) : undefined;
  const m = await buildCorpus({
    outDir: argValue(args, "--out") ?? "bench/out/corpus",
    ...(argValue(args, "--seed") === undefined ? {} : { seed: argValue(args, "--seed")! }),
    ...(argValue(args, "--utterances") === undefined
      ? {}
      : { utterancesPerSpeaker: Number(argValue(args, "--utterances")) }),
    jobs: Number(argValue(args, "--jobs") ?? 2),
    force: args.includes("--force"),
    ...(speakers === undefined ? {} : { speakers }),
    log: (l) => {
      console.log(l);
    },
  });
  console.log(
    `${m.speakers.length} speakers, ${m.utterances.length} utterances, ${m.trials.mated.length} mated / ${m.trials.nonMated.length} non-mated trials`,
  );
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
