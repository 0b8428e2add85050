/**
 * Pitch-recipe benchmark: the voice-stats recipe at a 20 ms hop ("v3", `hopSec: 0.02`) against the
 * previous 10 ms hop ("v2", `hopSec: 0.01`) and against an independent pitch tracker, on a corpus of
 * real voices (synthesisers built from recordings of one person each: flite, festival, MBROLA).
 *
 * Reports (markdown): (a) utterance level, v3 vs v2: F0 percentiles in cents, voiced ratio,
 * syllable count, articulation rate; (b) frame level against the reference, v2 and v3 side by
 * side: gross pitch error, fine pitch error, voicing decision errors; (c) utterance F0 percentiles
 * of v2 / v3 against the reference's; (d) CPU time of VoiceStatsAnalyzer per minute of audio at
 * both hops, in the same run.
 *
 * Reference: Praat's autocorrelation pitch (Boersma 1993; `To Pitch (ac)`, Debian package
 * `praat`, run as `praat_nogui`), floor 50 Hz and ceiling 550 Hz like ours, Praat's standard
 * settings otherwise (silence threshold 0.03, voicing threshold 0.45, octave cost 0.01,
 * octave-jump cost 0.35, voiced/unvoiced cost 0.14), every 2.5 ms; a frame is voiced when Praat's
 * path finder calls it voiced. torchaudio's `compute_kaldi_pitch` is probed and reported, but
 * Debian's python3-torchaudio 0.13.1 is built without Kaldi ("requires kaldi"), so it is not used.
 *
 * Alignment: our frame i at hop h covers samples [i·h, i·h + 45 ms); YIN compares x[j] with
 * x[j + τ] for j < W = 25 ms, i.e. the span [i·h, i·h + W + τ), centred at i·h + 12.5 ms + τ/2.
 * Each frame is compared with the Praat frame (centred on its time) nearest to i·h + 17.5 ms (the
 * span's centre at F0 = 100 Hz). v3's frame i covers the same samples as v2's frame 2i. The
 * assumed centre is scanned (12.5–32.5 ms) and the errors at each are printed as a check.
 *
 * Corpus (built in a temp dir, or in --corpus DIR and reused): per voice --sentences N (default 7)
 * sentences with a cycle of speaking rates (flite/festival duration stretch 0.85–1.2; espeak-ng
 * 140–190 wpm for MBROLA) and pitches (sox `pitch` −200 / +250 cents on two sentences of flite and
 * festival voices; espeak-ng base pitch 35–65 for MBROLA), 16 kHz mono 16-bit, `norm -3`. English
 * voices read English sentences (bench/privacy/sentences/en.txt), the Czech, Finnish, Italian,
 * Catalan, Russian and Hindi festival voices their own language. MBROLA voices (only those whose
 * database is installed in /usr/share/mbrola) read English through espeak-ng, with the `mb-XX-en`
 * variant where espeak-ng has one. The first two utterances of every voice are also degraded:
 * telephone band (300–3400 Hz, 8 kHz µ-law) and pink noise at 15 dB SNR.
 *
 * Build and run from the repository root (needs flite, festival + festvox voices, sox, praat;
 * espeak-ng + mbrola voices optional):
 *   npx tsc --outDir /tmp/prb --module NodeNext --moduleResolution NodeNext --target ES2022 \
 *     --skipLibCheck --rootDir . bench/audio/features/pitch-recipe.ts
 *   ln -sfn $PWD/node_modules /tmp/prb/node_modules
 *   node /tmp/prb/bench/audio/features/pitch-recipe.js [--corpus DIR] [--sentences N]
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  PitchTracker,
  VoiceStatsAnalyzer,
  type F0Percentiles,
  type VoiceStats,
} from "../../../src/audio/features/index.js";
import { machineLine, median, percentile } from "../../machine.js";
import { loadSentences, seededNoise } from "../../privacy/corpus.js";
import { hasTool, pool, run, toolVersion } from "../../privacy/tools.js";
import {
  FESTIVAL_ENCODING,
  MBROLA_HELDOUT,
  MBROLA_TRAINING,
  REAL_SPEAKERS,
  type Lang,
} from "../../privacy/voices.js";
import { readWav, writeWav16 } from "../../privacy/wav.js";
import { findTorchPython } from "../refs.js";

const SR = 16000;
const CHUNK = SR; // 1 s pushes, as a decoder would deliver them
const HOP_V2 = 0.01;
const HOP_V3 = 0.02;
const HOPS = [HOP_V2, HOP_V3] as const;
/**
 * Where our frame is compared with the reference, after the frame's start: the centre of the span
 * YIN compares, [start, start + W + τ) with W = 25 ms, for τ = 10 ms (F0 = 100 Hz). The nominal
 * centre of the 45 ms buffer (22.5 ms) sits later than the signal the lag search sees for any
 * F0 above 50 Hz; the alignment scan in the output shows both.
 */
const FRAME_CENTRE_SEC = 0.0175;
const PRAAT_STEP_SEC = 0.0025;
const PERCENTILES = ["p5", "p25", "p50", "p75", "p95"] as const;

type Engine = "flite" | "festival" | "mbrola";
type Condition = "clean" | "telephone" | "noise";

interface Voice {
  readonly id: string;
  readonly engine: Engine;
  /** flite -voice NAME, festival (voice_NAME), espeak-ng -v NAME. */
  readonly name: string;
  readonly lang: Lang;
}

interface Plan {
  readonly id: string;
  readonly voice: Voice;
  readonly index: number;
  readonly text: string;
  /** Duration stretch (flite, festival). */
  readonly stretch: number;
  /** sox pitch shift after synthesis, cents (flite, festival). */
  readonly cents: number;
  /** espeak-ng -s / -p (MBROLA). */
  readonly wpm: number;
  readonly espeakPitch: number;
}

interface Utterance {
  readonly id: string;
  readonly voice: Voice;
  readonly condition: Condition;
  readonly file: string;
  readonly pcm: Float32Array;
}

// ---------------------------------------------------------------------------------------------
// Corpus

const STRETCH = [1.0, 0.85, 1.2, 1.0, 0.9, 1.1, 1.0];
const CENTS = [0, 0, 0, 250, 0, -200, 0];
const WPM = [165, 140, 190, 160, 175, 150, 180];
const ESPEAK_PITCH = [50, 40, 60, 55, 35, 65, 45];
const SOX_OUT = ["-r", String(SR), "-c", "1", "-b", "16", "-e", "signed-integer"];

function argValue(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function espeakDataDir(): string | null {
  const r = spawnSync("espeak-ng", ["--version"], { encoding: "utf8" });
  if (r.status !== 0) return null;
  const m = /Data at:\s*(\S+)/.exec(r.stdout);
  return m?.[1] ?? null;
}

function listVoices(): { voices: Voice[]; skipped: string[] } {
  const voices: Voice[] = [];
  const skipped: string[] = [];
  if (hasTool("flite")) {
    const out = spawnSync("flite", ["-lv"], { encoding: "utf8" }).stdout;
    const names = out.replace(/^.*?:/, "").trim().split(/\s+/).filter(Boolean);
    // awb_time is a limited-domain voice (it speaks clock times only and truncates other text).
    for (const n of names.filter((x) => !x.endsWith("_time")))
      voices.push({ id: `flite:${n}`, engine: "flite", name: n, lang: "en" });
  } else skipped.push("flite (not installed)");
  if (hasTool("text2wave")) {
    for (const sp of REAL_SPEAKERS)
      for (const v of sp.voices)
        if (v.engine === "festival")
          voices.push({ id: `festival:${v.voice}`, engine: "festival", name: v.voice, lang: sp.lang });
  } else skipped.push("festival (not installed)");
  const data = hasTool("espeak-ng") && hasTool("mbrola") ? espeakDataDir() : null;
  if (data !== null) {
    for (const sp of [...MBROLA_HELDOUT, ...MBROLA_TRAINING]) {
      const code = sp.voices[0]!.voice.replace(/^mb-/, "");
      if (!existsSync(join("/usr/share/mbrola", code))) continue;
      const en = `mb-${code}-en`;
      const name = existsSync(join(data, "voices", "mb", en)) ? en : `mb-${code}`;
      voices.push({ id: `mbrola:${name}`, engine: "mbrola", name, lang: "en" });
    }
  } else skipped.push("MBROLA (espeak-ng or mbrola not installed)");
  return { voices, skipped };
}

function planCorpus(voices: readonly Voice[], perVoice: number): Plan[] {
  const plans: Plan[] = [];
  const used = new Map<Lang, number>();
  for (const v of voices) {
    const sentences = loadSentences(v.lang);
    // Voices of one language read different sentences where the list allows.
    const start = (used.get(v.lang) ?? 0) % sentences.length;
    used.set(v.lang, start + perVoice);
    for (let k = 0; k < perVoice; k++) {
      const c = k % STRETCH.length;
      plans.push({
        id: `${v.id.replace(":", "-")}-${k}`,
        voice: v,
        index: k,
        text: sentences[(start + k) % sentences.length]!,
        stretch: STRETCH[c]!,
        cents: CENTS[c]!,
        wpm: WPM[c]!,
        espeakPitch: ESPEAK_PITCH[c]!,
      });
    }
  }
  return plans;
}

async function synthesise(p: Plan, work: string, raw: string): Promise<void> {
  const v = p.voice;
  if (v.engine === "flite") {
    await run("flite", [
      "-voice",
      v.name,
      "--setf",
      `duration_stretch=${p.stretch}`,
      "-t",
      p.text,
      "-o",
      raw,
    ]);
  } else if (v.engine === "mbrola") {
    await run("espeak-ng", [
      "-v",
      v.name,
      "-s",
      String(p.wpm),
      "-p",
      String(p.espeakPitch),
      "-w",
      raw,
      p.text,
    ]);
  } else {
    const utf8 = join(work, `${p.id}.utf8`);
    const txt = join(work, `${p.id}.txt`);
    writeFileSync(utf8, p.text + "\n", "utf8");
    const enc = FESTIVAL_ENCODING[v.lang];
    if (enc === "UTF-8") writeFileSync(txt, p.text + "\n", "utf8");
    else {
      const r = spawnSync("iconv", ["-f", "UTF-8", "-t", enc, utf8]);
      if (r.status !== 0) throw new Error(`iconv to ${enc} failed`);
      writeFileSync(txt, r.stdout);
    }
    await run(
      "text2wave",
      [
        "-eval",
        `(voice_${v.name})`,
        "-eval",
        `(Parameter.set 'Duration_Stretch ${p.stretch})`,
        "-F",
        String(SR),
        "-otype",
        "riff",
        "-o",
        raw,
        txt,
      ],
      300_000,
    );
  }
  // Synthesisers can exit 0 with an empty file (e.g. festival on a character its rules lack).
  if (!existsSync(raw) || statSync(raw).size < 4000) throw new Error("no audio");
}

/** Active-speech RMS: 20 ms frames within 40 dB of the loudest. */
function activeRms(x: Float32Array): number {
  const n = 320;
  const e: number[] = [];
  for (let i = 0; i + n <= x.length; i += n) {
    let s = 0;
    for (let j = i; j < i + n; j++) s += x[j]! * x[j]!;
    e.push(s / n);
  }
  const max = Math.max(...e, 1e-18);
  const act = e.filter((v) => v > max * 1e-4);
  return Math.sqrt(act.reduce((a, v) => a + v, 0) / Math.max(1, act.length));
}

async function degrade(
  clean: string,
  cond: Exclude<Condition, "clean">,
  out: string,
  seed: string,
): Promise<void> {
  if (cond === "telephone") {
    const tel = out.replace(/\.wav$/, ".8k.wav");
    await run("sox", ["-R", clean, "-r", "8000", "-c", "1", "-e", "u-law", tel, "sinc", "300-3400"]);
    await run("sox", ["-R", tel, ...SOX_OUT, out]);
    rmSync(tel, { force: true });
    return;
  }
  const x = readWav(clean).samples;
  const noise = seededNoise("pinknoise", x.length, seed);
  let nr = 0;
  for (const v of noise) nr += v * v;
  nr = Math.sqrt(nr / Math.max(1, noise.length));
  const gain = activeRms(x) / (nr * 10 ** (15 / 20));
  const y = Float32Array.from(x, (v, i) => v + gain * noise[i]!);
  let peak = 0;
  for (const v of y) peak = Math.max(peak, Math.abs(v));
  if (peak > 0.99) for (let i = 0; i < y.length; i++) y[i] = (y[i]! * 0.99) / peak;
  writeWav16(out, y, SR);
}

async function buildCorpus(
  dir: string,
  perVoice: number,
): Promise<{ utterances: Utterance[]; failed: string[]; skipped: string[]; voices: Voice[] }> {
  const { voices, skipped } = listVoices();
  const plans = planCorpus(voices, perVoice);
  const work = join(dir, "work");
  mkdirSync(work, { recursive: true });
  const failed = new Map<string, string>();
  const made = await pool(plans, 2, async (p): Promise<string | null> => {
    const out = join(dir, `${p.id}.wav`);
    if (existsSync(out)) return out;
    const raw = join(work, `${p.id}.raw.wav`);
    try {
      await synthesise(p, work, raw);
      const fx = p.voice.engine === "mbrola" || p.cents === 0 ? [] : ["pitch", String(p.cents)];
      await run("sox", ["-R", raw, ...SOX_OUT, out + ".tmp.wav", ...fx, "rate", String(SR), "norm", "-3"]);
      await run("mv", [out + ".tmp.wav", out]);
      return out;
    } catch (e) {
      const msg = e instanceof Error ? (e.message.split("\n")[0] ?? e.message) : String(e);
      if (!failed.has(p.voice.id)) failed.set(p.voice.id, `${p.id}: ${msg.slice(0, 160)}`);
      return null;
    } finally {
      rmSync(raw, { force: true });
    }
  });
  const utterances: Utterance[] = [];
  const degradeJobs: { clean: string; cond: Exclude<Condition, "clean">; out: string; p: Plan }[] = [];
  plans.forEach((p, i) => {
    const f = made[i];
    if (f === null || f === undefined) return;
    utterances.push({ id: p.id, voice: p.voice, condition: "clean", file: f, pcm: readWav(f).samples });
    if (p.index < 2) {
      for (const cond of ["telephone", "noise"] as const)
        degradeJobs.push({ clean: f, cond, out: join(dir, `${p.id}.${cond}.wav`), p });
    }
  });
  await pool(degradeJobs, 2, async (j) => {
    if (!existsSync(j.out)) await degrade(j.clean, j.cond, j.out, `pitch-recipe/${j.p.id}`);
  });
  for (const j of degradeJobs) {
    utterances.push({
      id: `${j.p.id}.${j.cond}`,
      voice: j.p.voice,
      condition: j.cond,
      file: j.out,
      pcm: readWav(j.out).samples,
    });
  }
  rmSync(work, { recursive: true, force: true });
  const ok = new Set(utterances.map((u) => u.voice.id));
  const fails = [...failed.entries()].map(
    ([v, m]) => `${v} (${ok.has(v) ? "some utterances" : "all"}: ${m})`,
  );
  return { utterances, failed: fails, skipped, voices: voices.filter((v) => ok.has(v.id)) };
}

// ---------------------------------------------------------------------------------------------
// Our analysis

function pushAll(pcm: Float32Array, push: (c: Float32Array) => void): void {
  for (let o = 0; o < pcm.length; o += CHUNK) push(pcm.subarray(o, Math.min(pcm.length, o + CHUNK)));
}

function voiceStats(pcm: Float32Array, hopSec: number): VoiceStats {
  const v = new VoiceStatsAnalyzer({ hopSec });
  pushAll(pcm, (c) => {
    v.push(c);
  });
  return v.finish();
}

interface Track {
  readonly hopSec: number;
  readonly f0: Float64Array;
  readonly intensityDb: Float64Array;
  /** f0 > 0 and the frame is sounding: the frames VoiceStats puts into its F0 percentiles. */
  readonly gated: Uint8Array;
}

function pitchTrack(pcm: Float32Array, hopSec: number): Track {
  const f0: number[] = [];
  const db: number[] = [];
  const t = new PitchTracker({ hopSec }, (f) => {
    f0.push(f.f0);
    db.push(f.intensityDb);
  });
  pushAll(pcm, (c) => {
    t.push(c);
  });
  t.finish();
  const tr = { hopSec, f0: Float64Array.from(f0), intensityDb: Float64Array.from(db) };
  return { ...tr, gated: soundingGate(tr.f0, tr.intensityDb, hopSec) };
}

/**
 * The sounding gate of VoiceStatsAccumulator, recomputed from the frames (σ = 20 ms Gaussian
 * smoothing of the frame power over ±60 ms, threshold = 0.99-quantile − 25 dB on a 0.1 dB
 * histogram, gate applied at 1 dB resolution), so frame-level figures use the same voiced frames
 * as the percentiles. Checked against VoiceStats.voicedRatio in the run.
 */
function soundingGate(f0: Float64Array, intensityDb: Float64Array, hopSec: number): Uint8Array {
  const n = f0.length;
  const half = Math.round(0.06 / hopSec);
  const sigma = 0.02 / hopSec;
  const w = Array.from({ length: 2 * half + 1 }, (_, i) => Math.exp(-0.5 * ((i - half) / sigma) ** 2));
  const power = Float64Array.from(intensityDb, (d) => (d <= -150 ? 0 : 10 ** (d / 10)));
  const sm = new Float64Array(n);
  const fine = new Uint32Array(1600);
  const fineBin = (d: number): number => Math.max(0, Math.min(1599, Math.floor((d + 150) / 0.1)));
  for (let c = 0; c < n; c++) {
    let num = 0;
    let den = 0;
    for (let k = -half; k <= half; k++) {
      const j = c + k;
      if (j < 0 || j >= n) continue;
      num += w[k + half]! * power[j]!;
      den += w[k + half]!;
    }
    const p = num / den;
    const db = p > 0 ? Math.max(-150, 10 * Math.log10(p)) : -150;
    sm[c] = db;
    fine[fineBin(db)]!++;
  }
  const quantile = (q: number): number => {
    const target = q * (n - 1);
    let cum = 0;
    for (let i = 0; i < 1600; i++) {
      const c = fine[i]!;
      if (c > 0 && cum + c > target) return -150 + (i + 0.5) * 0.1;
      cum += c;
    }
    return 10;
  };
  const threshold = Math.max(quantile(0.99) - 25, quantile(0));
  const coarseT = Math.floor(threshold + 150) + 1;
  return Uint8Array.from(f0, (f, i) =>
    f > 0 && Math.max(0, Math.min(159, Math.floor(sm[i]! + 150))) >= coarseT ? 1 : 0,
  );
}

// ---------------------------------------------------------------------------------------------
// Reference

const PRAAT_SCRIPT = `form args
  sentence infile
  sentence outfile
  real step 0.0025
endform
s = Read from file: infile$
p = To Pitch (ac): step, 50, 15, "no", 0.03, 0.45, 0.01, 0.35, 0.14, 550
n = Get number of frames
t1 = Get time from frame number: 1
out$ = fixed$(t1, 9) + " " + fixed$(step, 9) + " " + string$(n) + newline$
for i to n
  f = Get value in frame: i, "Hertz"
  if f = undefined
    f = 0
  endif
  out$ = out$ + fixed$(f, 4) + newline$
endfor
writeFile: outfile$, out$
`;

interface RefTrack {
  readonly t1: number;
  readonly dt: number;
  /** Hz, 0 = unvoiced. */
  readonly f0: Float64Array;
}

async function praatTrack(script: string, wav: string): Promise<RefTrack> {
  const out = wav.replace(/\.wav$/, ".praat.txt");
  if (!existsSync(out)) {
    await run("praat_nogui", ["--run", script, wav, out + ".tmp", String(PRAAT_STEP_SEC)]);
    await run("mv", [out + ".tmp", out]);
  }
  const lines = readFileSync(out, "utf8").trim().split("\n");
  const [t1, dt, n] = lines[0]!.trim().split(/\s+/).map(Number);
  const f0 = Float64Array.from(lines.slice(1, 1 + (n ?? 0)), Number);
  if (t1 === undefined || dt === undefined || f0.length !== n) throw new Error(`bad praat output ${out}`);
  return { t1, dt, f0 };
}

/** Whether torchaudio's Kaldi pitch runs here (the reference the issue names), with the reason. */
function probeKaldiPitch(): string {
  const py = findTorchPython();
  if (py === null) return "no python3 with torch + torchaudio";
  const r = spawnSync(
    py,
    [
      "-c",
      "import torch, torchaudio, torchaudio.functional as F\n" +
        "x = torch.sin(torch.arange(16000) * 0.06).unsqueeze(0)\n" +
        "try:\n  F.compute_kaldi_pitch(x, 16000, min_f0=50, max_f0=550); print('ok ' + torchaudio.__version__)\n" +
        "except Exception as e:\n  print('unavailable in torchaudio ' + torchaudio.__version__ + ': ' + str(e))",
    ],
    { encoding: "utf8" },
  );
  return (r.stdout || r.stderr).trim().split("\n").pop() ?? "unknown";
}

// ---------------------------------------------------------------------------------------------
// Metrics

const cents = (a: number, b: number): number => 1200 * Math.log2(a / b);

class FrameStats {
  frames = 0;
  refVoiced = 0;
  oursVoiced = 0;
  bothVoiced = 0;
  miss = 0;
  falseAlarm = 0;
  gross = 0;
  octave = 0;
  readonly fine: number[] = [];

  add(ours: number, voiced: boolean, ref: number): void {
    const rv = ref > 0;
    this.frames++;
    if (rv) this.refVoiced++;
    if (voiced) this.oursVoiced++;
    if (rv && !voiced) this.miss++;
    if (!rv && voiced) this.falseAlarm++;
    if (rv && voiced) {
      this.bothVoiced++;
      if (Math.abs(ours / ref - 1) > 0.2) {
        this.gross++;
        if (Math.abs(Math.abs(cents(ours, ref)) - 1200) < 200) this.octave++;
      } else this.fine.push(cents(ours, ref));
    }
  }

  get vde(): number {
    return (this.miss + this.falseAlarm) / Math.max(1, this.frames);
  }
  get gpe(): number {
    return this.gross / Math.max(1, this.bothVoiced);
  }
}

function compareFrames(tr: Track, gated: boolean, ref: RefTrack, offsetSec: number, acc: FrameStats): void {
  for (let i = 0; i < tr.f0.length; i++) {
    const k = Math.round((i * tr.hopSec + offsetSec - ref.t1) / ref.dt);
    if (k < 0 || k >= ref.f0.length) continue;
    const f = tr.f0[i]!;
    acc.add(f, gated ? tr.gated[i] === 1 : f > 0, ref.f0[k]!);
  }
}

function refPercentiles(refs: readonly RefTrack[]): F0Percentiles | null {
  const v = refs.flatMap((r) => [...r.f0].filter((f) => f > 0)).sort((a, b) => a - b);
  if (v.length < 40) return null;
  const at = (q: number): number => {
    const x = q * (v.length - 1);
    const i = Math.floor(x);
    return v[i]! + (v[Math.min(v.length - 1, i + 1)]! - v[i]!) * (x - i);
  };
  return { p5: at(0.05), p25: at(0.25), p50: at(0.5), p75: at(0.75), p95: at(0.95) };
}

const pct = (x: number, d = 1): string => `${(100 * x).toFixed(d)} %`;
const absMed = (xs: number[]): number => median(xs.map(Math.abs));
const absP = (xs: number[], p: number): number => percentile(xs.map(Math.abs), p);
const absMax = (xs: number[]): number => Math.max(...xs.map(Math.abs));
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

function table(header: readonly string[], rows: readonly (readonly string[])[], right = true): string {
  const align = header.map((_, i) => (i === 0 || !right ? "---" : "---:"));
  return [header, align, ...rows].map((r) => `| ${r.join(" | ")} |`).join("\n");
}

// ---------------------------------------------------------------------------------------------

/** VoiceStats at v2 and v3 and the reference's F0 percentiles, for an utterance or a voice. */
interface Pair {
  readonly id: string;
  readonly stats: readonly [VoiceStats, VoiceStats];
  readonly refP: F0Percentiles | null;
}

interface UttResult extends Pair {
  readonly u: Utterance;
  readonly tracks: readonly [Track, Track];
  readonly ref: RefTrack;
}

/** label, count, median / p90 / max of |x|, mean (or the given text), at `digits` decimals. */
function summaryRow(label: string, x: number[], digits: number, meanText?: string): string[] {
  return [
    label,
    `${x.length}`,
    absMed(x).toFixed(digits),
    absP(x, 90).toFixed(digits),
    absMax(x).toFixed(digits),
    meanText ?? mean(x).toFixed(digits),
  ];
}

function utteranceTable(results: readonly Pair[], unit = "utterances"): string {
  const rows: string[][] = [];
  for (const p of PERCENTILES) {
    const d = results
      .filter((r) => r.stats[0].f0Hz !== null && r.stats[1].f0Hz !== null)
      .map((r) => cents(r.stats[1].f0Hz![p], r.stats[0].f0Hz![p]));
    rows.push(summaryRow(`F0 ${p} (cents)`, d, 1));
  }
  const vr = results.map((r) => 100 * (r.stats[1].voicedRatio - r.stats[0].voicedRatio));
  rows.push(summaryRow("voiced ratio (points)", vr, 2));
  const withSyl = results.filter((r) => r.stats[0].syllableCount > 0);
  const rel = (f: (s: VoiceStats) => number | null): number[] =>
    withSyl.flatMap((r) => {
      const a = f(r.stats[0]);
      const b = f(r.stats[1]);
      return a === null || b === null || a === 0 ? [] : [100 * (b / a - 1)];
    });
  const syl = rel((s) => s.syllableCount);
  const tot = (k: 0 | 1): number => withSyl.reduce((a, r) => a + r.stats[k].syllableCount, 0);
  rows.push(
    summaryRow(
      "syllables = speech rate (%)",
      syl,
      1,
      `${mean(syl).toFixed(1)} (total ${(100 * (tot(1) / tot(0) - 1)).toFixed(1)})`,
    ),
  );
  const art = rel((s) => s.articulationRateSps);
  rows.push(summaryRow("articulation rate (%)", art, 1));
  return table(["v3 − v2", unit, "median abs", "p90 abs", "max abs", "mean signed"], rows);
}

function frameTable(results: readonly UttResult[], offsetSec: number): string {
  const acc = HOPS.map(() => [new FrameStats(), new FrameStats()]);
  for (const r of results)
    for (let h = 0; h < 2; h++) {
      compareFrames(r.tracks[h]!, true, r.ref, offsetSec, acc[h]![0]!);
      compareFrames(r.tracks[h]!, false, r.ref, offsetSec, acc[h]![1]!);
    }
  const g = acc.map((a) => a[0]!);
  const u = acc.map((a) => a[1]!);
  const both = (f: (s: FrameStats) => string, s: FrameStats[] = g): string[] => s.map(f);
  const rows: string[][] = [
    ["frames compared", ...both((s) => `${s.frames}`)],
    ["reference voiced", ...both((s) => pct(s.refVoiced / s.frames))],
    ["ours voiced (gated, as VoiceStats)", ...both((s) => pct(s.oursVoiced / s.frames))],
    ["frames both voiced", ...both((s) => `${s.bothVoiced}`)],
    ["**gross pitch error** (> 20 %)", ...both((s) => pct(s.gpe, 2))],
    ["… of which octave errors", ...both((s) => pct(s.octave / Math.max(1, s.gross)))],
    ["fine error, median abs (cents)", ...both((s) => absMed(s.fine).toFixed(1))],
    ["fine error, mean abs (cents)", ...both((s) => mean(s.fine.map(Math.abs)).toFixed(1))],
    ["fine error, p95 abs (cents)", ...both((s) => absP(s.fine, 95).toFixed(1))],
    ["fine error, mean signed (cents)", ...both((s) => mean(s.fine).toFixed(1))],
    ["**voicing decision error**", ...both((s) => pct(s.vde))],
    ["… miss (ref voiced, ours not)", ...both((s) => pct(s.miss / s.frames))],
    ["… false alarm (ours voiced, ref not)", ...both((s) => pct(s.falseAlarm / s.frames))],
    ["voicing error, ungated YIN (f0 > 0)", ...both((s) => pct(s.vde), u)],
    ["GPE, ungated YIN", ...both((s) => pct(s.gpe, 2), u)],
  ];
  return table(["against Praat", "v2 (10 ms)", "v3 (20 ms)"], rows);
}

function groupTable(results: readonly UttResult[], offsetSec: number): string {
  const rows: string[][] = [];
  const groups: [string, (r: UttResult) => boolean][] = [
    ["flite", (r) => r.u.voice.engine === "flite"],
    ["festival", (r) => r.u.voice.engine === "festival"],
    ["MBROLA", (r) => r.u.voice.engine === "mbrola"],
  ];
  for (const [name, f] of groups) {
    const sel = results.filter(f);
    if (sel.length === 0) continue;
    const v = new Set(sel.map((r) => r.u.voice.id)).size;
    rows.push([`${name} (${v} voices, ${sel.length} utt.)`, ...frameCells(sel, offsetSec)]);
  }
  return table(
    ["clean, by engine", "GPE v2", "GPE v3", "fine v2 (c)", "fine v3 (c)", "VDE v2", "VDE v3"],
    rows,
  );
}

/** GPE, median fine error and VDE at v2 and v3 over the frames of `sel`, as table cells. */
function frameCells(sel: readonly UttResult[], offsetSec: number): string[] {
  const s = HOPS.map(() => new FrameStats());
  for (const r of sel) for (let h = 0; h < 2; h++) compareFrames(r.tracks[h]!, true, r.ref, offsetSec, s[h]!);
  return [
    pct(s[0]!.gpe, 2),
    pct(s[1]!.gpe, 2),
    absMed(s[0]!.fine).toFixed(1),
    absMed(s[1]!.fine).toFixed(1),
    pct(s[0]!.vde),
    pct(s[1]!.vde),
  ];
}

/** Compact frame- and utterance-level figures per condition. */
function conditionTable(results: readonly UttResult[], offsetSec: number): string {
  const rows: string[][] = [];
  for (const cond of ["clean", "telephone", "noise"] as const) {
    const sel = results.filter((r) => r.u.condition === cond);
    if (sel.length === 0) continue;
    const p50 = (h: 0 | 1): number[] =>
      sel.flatMap((r) => {
        const o = r.stats[h].f0Hz;
        return o === null || r.refP === null ? [] : [cents(o.p50, r.refP.p50)];
      });
    rows.push([
      `${cond} (${sel.length} utt.)`,
      ...frameCells(sel, offsetSec),
      absMed(p50(0)).toFixed(1),
      absMed(p50(1)).toFixed(1),
    ]);
  }
  return table(
    [
      "condition",
      "GPE v2",
      "GPE v3",
      "fine v2 (c)",
      "fine v3 (c)",
      "VDE v2",
      "VDE v3",
      "p50 − Praat v2 (c)",
      "p50 − Praat v3 (c)",
    ],
    rows,
  );
}

function perVoiceTable(voices: readonly Pair[], secs: ReadonlyMap<string, number>): string {
  const f = (x: number | undefined): string => (x === undefined ? "–" : x.toFixed(1));
  return table(
    [
      "voice",
      "s",
      "p50 v2 / v3 / Praat (Hz)",
      "p5 v2 / v3 (Hz)",
      "p95 v2 / v3 (Hz)",
      "voiced v2 / v3",
      "syllables v2 / v3",
      "artic. rate v2 / v3",
    ],
    voices.map((v) => {
      const [a, b] = v.stats;
      return [
        v.id,
        (secs.get(v.id) ?? 0).toFixed(0),
        `${f(a.f0Hz?.p50)} / ${f(b.f0Hz?.p50)} / ${f(v.refP?.p50)}`,
        `${f(a.f0Hz?.p5)} / ${f(b.f0Hz?.p5)}`,
        `${f(a.f0Hz?.p95)} / ${f(b.f0Hz?.p95)}`,
        `${a.voicedRatio.toFixed(3)} / ${b.voicedRatio.toFixed(3)}`,
        `${a.syllableCount} / ${b.syllableCount}`,
        `${(a.articulationRateSps ?? 0).toFixed(2)} / ${(b.articulationRateSps ?? 0).toFixed(2)}`,
      ];
    }),
  );
}

/** The utterances where v3 and v2 differ most (any percentile), for diagnosis. */
function outliers(results: readonly UttResult[], n: number): string {
  const scored = results.flatMap((r) => {
    const [a, b] = r.stats;
    if (a.f0Hz === null || b.f0Hz === null) return [];
    const none: { p: (typeof PERCENTILES)[number]; d: number } = { p: "p50", d: 0 };
    const worst = PERCENTILES.reduce((w, p) => {
      const d = cents(b.f0Hz![p], a.f0Hz![p]);
      return Math.abs(d) > Math.abs(w.d) ? { p, d } : w;
    }, none);
    return [{ r, ...worst }];
  });
  scored.sort((x, y) => Math.abs(y.d) - Math.abs(x.d));
  return table(
    [
      "utterance",
      "percentile",
      "v2 Hz",
      "v3 Hz",
      "Praat Hz",
      "Δ (c)",
      "voiced frames v2 / v3",
      "syllables v2 / v3",
    ],
    scored
      .slice(0, n)
      .map(({ r, p, d }) => [
        r.id,
        p,
        r.stats[0].f0Hz![p].toFixed(1),
        r.stats[1].f0Hz![p].toFixed(1),
        r.refP === null ? "–" : r.refP[p].toFixed(1),
        d.toFixed(0),
        `${Math.round(r.stats[0].voicedSec / HOP_V2)} / ${Math.round(r.stats[1].voicedSec / HOP_V3)}`,
        `${r.stats[0].syllableCount} / ${r.stats[1].syllableCount}`,
      ]),
  );
}

function refUtteranceTable(results: readonly Pair[], unit = "utterances"): string {
  const rows: string[][] = [];
  for (const p of PERCENTILES) {
    for (let h = 0; h < 2; h++) {
      const d = results.flatMap((r) => {
        const ours = r.stats[h]!.f0Hz;
        return ours === null || r.refP === null ? [] : [cents(ours[p], r.refP[p])];
      });
      rows.push([
        `${p} ${h === 0 ? "v2" : "v3"}`,
        `${d.length}`,
        absMed(d).toFixed(1),
        absP(d, 90).toFixed(1),
        absMax(d).toFixed(1),
        median(d).toFixed(1),
        pct(d.filter((x) => Math.abs(x) > 100).length / Math.max(1, d.length)),
      ]);
    }
  }
  return table(
    ["ours − Praat", unit, "median abs (c)", "p90 abs (c)", "max abs (c)", "median signed (c)", "> 100 c"],
    rows,
  );
}

function cpuTimes(pcm: Float32Array): { hop: number; cpuMs: number[]; wallMs: number[] }[] {
  const out = HOPS.map((hop) => ({ hop, cpuMs: [] as number[], wallMs: [] as number[] }));
  for (const hop of HOPS) voiceStats(pcm, hop); // warm-up
  for (let rep = 0; rep < 3; rep++) {
    for (const o of out) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      voiceStats(pcm, o.hop);
      const wall = Number(process.hrtime.bigint() - t0) / 1e6;
      const c = process.cpuUsage(c0);
      o.cpuMs.push((c.user + c.system) / 1000);
      o.wallMs.push(wall);
    }
  }
  return out;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const sentences = Number(argValue(args, "--sentences") ?? 7);
  const given = argValue(args, "--corpus");
  const dir = given ?? mkdtempSync(join(tmpdir(), "voxvault-pitch-recipe-"));
  mkdirSync(dir, { recursive: true });
  for (const t of ["sox", "praat_nogui"])
    if (!hasTool(t)) throw new Error(`${t} is needed (apt-get install ${t === "sox" ? "sox" : "praat"})`);
  try {
    console.error(`building the corpus in ${dir}…`);
    const corpus = await buildCorpus(dir, sentences);
    const script = join(dir, "pitch.praat");
    writeFileSync(script, PRAAT_SCRIPT);
    console.error(`${corpus.utterances.length} utterances; tracking…`);
    const refs = await pool(corpus.utterances, 2, (u) => praatTrack(script, u.file));
    const results: UttResult[] = corpus.utterances.map((u, i) => ({
      id: u.id,
      u,
      stats: [voiceStats(u.pcm, HOP_V2), voiceStats(u.pcm, HOP_V3)] as const,
      tracks: [pitchTrack(u.pcm, HOP_V2), pitchTrack(u.pcm, HOP_V3)] as const,
      ref: refs[i]!,
      refP: refPercentiles([refs[i]!]),
    }));

    // Consistency checks: the recomputed gate reproduces VoiceStats' voiced frames; v3's frame i
    // analyses the same samples as v2's frame 2i.
    let gateMismatch = 0;
    for (const r of results)
      for (let h = 0; h < 2; h++) {
        const t = r.tracks[h]!;
        const n = t.gated.reduce((a, b) => a + b, 0);
        gateMismatch = Math.max(
          gateMismatch,
          Math.abs(n - Math.round(r.stats[h]!.voicedRatio * t.f0.length)),
        );
      }
    let sameFrames = 0;
    let allFrames = 0;
    for (const r of results) {
      const [a, b] = r.tracks;
      for (let i = 0; i < b.f0.length && 2 * i < a.f0.length; i++) {
        allFrames++;
        if (a.f0[2 * i] === b.f0[i]) sameFrames++;
      }
    }

    const clean = results.filter((r) => r.u.condition === "clean");
    const degraded = results.filter((r) => r.u.condition !== "clean");
    // Per voice: its clean utterances back to back (~15–30 s), as VoiceStats sees a recording.
    const perVoice: Pair[] = corpus.voices.flatMap((v) => {
      const mine = clean.filter((r) => r.u.voice.id === v.id);
      if (mine.length === 0) return [];
      const pcm = new Float32Array(mine.reduce((a, r) => a + r.u.pcm.length, 0));
      let at = 0;
      for (const r of mine) {
        pcm.set(r.u.pcm, at);
        at += r.u.pcm.length;
      }
      return [
        {
          id: v.id,
          stats: [voiceStats(pcm, HOP_V2), voiceStats(pcm, HOP_V3)] as const,
          refP: refPercentiles(mine.map((r) => r.ref)),
        },
      ];
    });
    const minutes = (rs: readonly UttResult[]): number =>
      rs.reduce((a, r) => a + r.u.pcm.length, 0) / SR / 60;
    const byEngine = (e: Engine): number => corpus.voices.filter((v) => v.engine === e).length;

    console.log(`\n### Pitch recipe v3 (20 ms hop) vs v2 (10 ms hop) and Praat\n`);
    console.log(machineLine());
    console.log(
      `\nCorpus: ${corpus.voices.length} voices (flite ${byEngine("flite")}, festival ${byEngine("festival")}, ` +
        `MBROLA ${byEngine("mbrola")}); clean: ${clean.length} utterances, ${minutes(clean).toFixed(1)} min; ` +
        `degraded (telephone, pink noise 15 dB): ${degraded.length} utterances, ${minutes(degraded).toFixed(1)} min.`,
    );
    console.log(`Voices: ${corpus.voices.map((v) => v.name).join(", ")}.`);
    console.log(`Failed to synthesise: ${corpus.failed.length === 0 ? "none" : corpus.failed.join("; ")}.`);
    if (corpus.skipped.length > 0) console.log(`Skipped: ${corpus.skipped.join("; ")}.`);
    console.log(
      `Reference: ${toolVersion("praat_nogui", ["--version"])}, To Pitch (ac), 50–550 Hz, step 2.5 ms.`,
    );
    console.log(`torchaudio compute_kaldi_pitch: ${probeKaldiPitch()}.`);
    console.log(
      `Checks: recomputed sounding gate vs VoiceStats voiced frames, max difference ${gateMismatch} frame(s); ` +
        `v3 frame i has the same F0 as v2 frame 2i on ${pct(sameFrames / Math.max(1, allFrames), 3)} of ${allFrames} frames.`,
    );

    console.log(`\n#### (a) Utterance level, v3 − v2 (clean)\n`);
    console.log(utteranceTable(clean));
    console.log(`\n#### (a′) Per voice (its clean utterances back to back), v3 − v2\n`);
    console.log(utteranceTable(perVoice, "voices"));
    const secs = new Map(perVoice.map((v) => [v.id, v.stats[0].durationSec]));
    console.log(`\n`);
    console.log(perVoiceTable(perVoice, secs));
    console.log(`\n#### (a″) Utterance level, v3 − v2 (degraded)\n`);
    console.log(utteranceTable(degraded));
    console.log(`\n#### Largest v3 − v2 differences (all conditions)\n`);
    console.log(outliers(results, 8));

    const ms = (FRAME_CENTRE_SEC * 1000).toFixed(1);
    console.log(`\n#### (b) Frame level against Praat, clean (compared at frame start + ${ms} ms)\n`);
    console.log(frameTable(clean, FRAME_CENTRE_SEC));
    console.log(`\n`);
    console.log(groupTable(clean, FRAME_CENTRE_SEC));
    console.log(`\n#### (b′) Frame level against Praat, by condition\n`);
    console.log(conditionTable(results, FRAME_CENTRE_SEC));

    console.log(`\n#### Alignment check (clean, gated): error against Praat by assumed frame centre\n`);
    const scan: string[][] = [];
    for (let off = 0.0125; off <= 0.03251; off += 0.0025) {
      const s = HOPS.map(() => new FrameStats());
      for (const r of clean) for (let h = 0; h < 2; h++) compareFrames(r.tracks[h]!, true, r.ref, off, s[h]!);
      scan.push([
        `${(off * 1000).toFixed(1)} ms`,
        pct(s[0]!.vde, 2),
        pct(s[1]!.vde, 2),
        pct(s[0]!.gpe, 2),
        pct(s[1]!.gpe, 2),
        absMed(s[0]!.fine).toFixed(1),
      ]);
    }
    console.log(table(["centre after start", "VDE v2", "VDE v3", "GPE v2", "GPE v3", "fine v2 (c)"], scan));

    console.log(`\n#### (c) Utterance F0 percentiles against Praat's (over its voiced frames), clean\n`);
    console.log(refUtteranceTable(clean));
    console.log(`\n#### (c, per voice) The same, per voice (clean utterances back to back)\n`);
    console.log(refUtteranceTable(perVoice, "voices"));
    console.log(`\n#### (c′) The same, degraded\n`);
    console.log(refUtteranceTable(degraded));

    console.log(`\n#### (d) CPU of VoiceStatsAnalyzer (1 s pushes, median of 3 after warm-up)\n`);
    const all = new Float32Array(clean.reduce((a, r) => a + r.u.pcm.length, 0));
    let o = 0;
    for (const r of clean) {
      all.set(r.u.pcm, o);
      o += r.u.pcm.length;
    }
    const cpu = cpuTimes(all);
    const audioMin = all.length / SR / 60;
    console.log(
      table(
        ["hop", "CPU ms per min of audio", "wall ms per min", "× real time (CPU)", "runs (CPU ms)"],
        cpu.map((c) => [
          `${c.hop * 1000} ms (${c.hop === HOP_V2 ? "v2" : "v3"})`,
          (median(c.cpuMs) / audioMin).toFixed(1),
          (median(c.wallMs) / audioMin).toFixed(1),
          `${((audioMin * 60000) / median(c.cpuMs)).toFixed(0)}×`,
          c.cpuMs.map((x) => x.toFixed(0)).join(", "),
        ]),
      ),
    );
    console.log(
      `\nv3 / v2 CPU: ${(median(cpu[1]!.cpuMs) / median(cpu[0]!.cpuMs)).toFixed(3)} (${audioMin.toFixed(1)} min of audio).`,
    );
  } finally {
    if (given === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
