/**
 * End-to-end ingest (decode → mono → 16 kHz → VAD → derivations → protected templates → encrypt →
 * store → audit) in × real time per core, per input format, through `vault.recordings.ingest` on
 * a fresh embedded vault (SQLite, file store, fsync). In the same run, the references: ffmpeg
 * decoding the same files single-threaded, and torchaudio's Kaldi fbank (single thread) on the
 * same 16 kHz PCM. Then peak RSS of a 2 GB WAV ingested in a fresh process.
 *
 * Run: node scripts/bench.mjs bench/ingest/e2e.ts
 * Env: BENCH_MINUTES (input length, default 3), BENCH_RUNS (default 3), BENCH_WAV_GB (default 2;
 * 0 skips the RSS run). Needs flite, sox, flac, lame, opusenc, oggenc and ffmpeg; python3 with
 * torchaudio for the fbank reference (skipped, and said so, without it).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeAudio, decodeToMono16k, downmix, Resampler } from "../../src/audio/decode/index.js";
import { FeaturePipeline, LoudnessMeter } from "../../src/audio/features/index.js";
import { loadBuiltinEmbedder } from "../../src/embed/node.js";
import type { EmbedderPort } from "../../src/ingest/embedder-port.js";
import { initVault, type Vault } from "../../src/index.js";
import { chunked, findTorchPython, timeFfmpeg } from "../audio/refs.js";
import { machineLine, median } from "../machine.js";

const MB = 1024 * 1024;
const env = (k: string, d: number): number => Number(process.env[k] ?? d);

/** Varied speech: four flite voices (built from recordings of four people), different texts. */
const LINES: [string, string][] = [
  ["kal16", "Voice recordings arrive in many formats and each one is abstracted before anything is stored."],
  ["awb", "The quick brown fox jumps over the lazy dog while the interviewer takes careful notes."],
  ["rms", "Please describe a project you are proud of, and explain what you would do differently."],
  ["slt", "A voice cannot be reset like a password, so the vault keeps only what a purpose needs."],
];

function sh(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ["ignore", "ignore", "inherit"] });
}

interface Timing {
  readonly wallMs: number;
  readonly cpuMs: number;
}

async function timeIngest(
  v: Vault,
  subjectId: string,
  bytes: Uint8Array,
): Promise<Timing & { audioSec: number; derivations: string[] }> {
  const cpu0 = process.cpuUsage(); // all threads of this process: the decoder worker counts too
  const t0 = performance.now();
  const r = await v.recordings.ingest({ subjectId, source: chunked(bytes) });
  const cpu = process.cpuUsage(cpu0);
  return {
    wallMs: performance.now() - t0,
    cpuMs: (cpu.user + cpu.system) / 1000,
    audioSec: r.durationSec,
    derivations: r.derivations.map((d) => d.name),
  };
}

/** Child mode: ingest a generated WAV of `bytes` bytes (48 kHz stereo s16, looped speech). */
async function rssChild(pieceFile: string, bytes: number): Promise<void> {
  const piece = readFileSync(pieceFile); // 48 kHz stereo s16 PCM, no header
  const frames = Math.floor(bytes / 4);
  const h = Buffer.alloc(44);
  h.write("RIFF", 0, "latin1");
  h.writeUInt32LE(36 + frames * 4, 4);
  h.write("WAVEfmt ", 8, "latin1");
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(2, 22);
  h.writeUInt32LE(48000, 24);
  h.writeUInt32LE(192000, 28);
  h.writeUInt16LE(4, 32);
  h.writeUInt16LE(16, 34);
  h.write("data", 36, "latin1");
  h.writeUInt32LE(frames * 4, 40);
  async function* source(): AsyncGenerator<Uint8Array> {
    yield h;
    let left = frames * 4;
    while (left > 0) {
      for (let o = 0; o < piece.length && left > 0; o += 64 * 1024) {
        const n = Math.min(64 * 1024, piece.length - o, left);
        left -= n;
        await Promise.resolve();
        yield piece.subarray(o, o + n);
      }
    }
  }
  const dir = mkdtempSync(join(os.tmpdir(), "voxvault-ibench-rss-"));
  try {
    const v = await initVault({ dataDir: join(dir, "d"), keyFile: join(dir, "root.key") });
    const s = await v.subjects.add({ ref: "rss" });
    const base = process.memoryUsage.rss();
    let peak = base;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 20);
    const t0 = performance.now();
    const r = await v.recordings.ingest({ subjectId: s.id, source: source() });
    const wallMs = performance.now() - t0;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage.rss());
    await v.close();
    console.log(
      JSON.stringify({
        baseMb: base / MB,
        peakMb: peak / MB,
        audioSec: r.durationSec,
        wallMs,
        inputBytes: 44 + frames * 4,
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Where one ingest's time goes: the analysis loop of `analyseRecording` (src/ingest/analyse.ts)
 * replayed with a timer around each stage, main-thread time only. "decode" is the time spent
 * waiting for the next decoded chunk (the worker decodes while the main thread waits; for WAV
 * the in-thread parser). The vault's own work (template protection, encryption, store, audit)
 * is the ingest's CPU time minus these.
 */
async function stageBreakdown(bytes: Uint8Array, embedder: EmbedderPort): Promise<Record<string, number>> {
  const ms: Record<string, number> = {
    decode: 0,
    "loudness + true peak": 0,
    downmix: 0,
    resample: 0,
    "features (fbank, VAD, quality, pitch)": 0,
    "embedder session": 0,
  };
  const timed = <T>(k: string, f: () => T): T => {
    const t = performance.now();
    const r = f();
    ms[k]! += performance.now() - t;
    return r;
  };
  const d = await decodeAudio(chunked(bytes));
  const meter = new LoudnessMeter({ sampleRate: d.info.sampleRate, channels: d.info.channels });
  const rs = d.info.sampleRate === 16000 ? null : new Resampler(d.info.sampleRate, 16000);
  const session = embedder.createSession();
  const pipeline = new FeaturePipeline({
    ...embedder.features,
    onFrames: (f) => {
      timed("embedder session", () => {
        session.push(f);
      });
    },
  });
  const feed = (mono: Float32Array): void => {
    const t = performance.now();
    const before = ms["embedder session"]!;
    pipeline.push(mono);
    // The session's share was timed inside onFrames.
    ms["features (fbank, VAD, quality, pitch)"]! +=
      performance.now() - t - (ms["embedder session"]! - before);
  };
  const it = d.chunks[Symbol.asyncIterator]();
  for (;;) {
    const t = performance.now();
    const n = await it.next();
    ms.decode! += performance.now() - t;
    if (n.done === true) break;
    const planar = n.value;
    timed("loudness + true peak", () => {
      meter.push(planar);
    });
    const mono = timed("downmix", () => downmix(planar));
    feed(rs ? timed("resample", () => rs.process(mono)) : mono);
  }
  if (rs) feed(timed("resample", () => rs.flush()));
  const report = pipeline.finish();
  meter.finish();
  await timed("embedder session", () => session.finish(report));
  return ms;
}

async function main(): Promise<void> {
  const minutes = env("BENCH_MINUTES", 3);
  const runs = env("BENCH_RUNS", 3);
  const wavGb = env("BENCH_WAV_GB", 2);
  const dir = mkdtempSync(join(os.tmpdir(), "voxvault-ibench-"));
  const f = (n: string): string => join(dir, n);
  try {
    console.log(machineLine());
    const parts: string[] = [];
    LINES.forEach(([voice, text], i) => {
      sh("flite", ["-voice", voice, "-t", text, "-o", f(`p${i}.wav`)]);
      sh("sox", [f(`p${i}.wav`), "-r", "16000", "-c", "1", "-b", "16", f(`q${i}.wav`), "pad", "0", "0.4"]);
      parts.push(f(`q${i}.wav`));
    });
    sh("sox", [...parts, f("round.wav")]);
    const roundSec = Number(execFileSync("soxi", ["-D", f("round.wav")], { encoding: "utf8" }));
    const repeats = Math.max(0, Math.ceil((minutes * 60) / roundSec) - 1);
    sh("sox", [f("round.wav"), f("wav16m.wav"), "repeat", String(repeats)]);
    sh("sox", [f("wav16m.wav"), "-r", "48000", "-c", "2", f("wav48s.wav")]);
    sh("sox", [f("wav16m.wav"), "-r", "44100", "-c", "2", f("s44.wav")]);
    sh("flac", ["-s", "-f", f("s44.wav"), "-o", f("flac44s.flac")]);
    sh("lame", ["--quiet", "-b", "128", f("s44.wav"), f("mp3-44s.mp3")]);
    sh("opusenc", ["--quiet", f("wav48s.wav"), f("opus48s.opus")]);
    sh("oggenc", ["-Q", f("s44.wav"), "-o", f("vorbis44s.ogg")]);
    sh("ffmpeg", ["-loglevel", "error", "-y", "-i", f("wav48s.wav"), "-c:a", "libopus", f("webm48s.webm")]);
    const inputs: [string, string][] = [
      ["WAV 16 kHz mono s16", "wav16m.wav"],
      ["WAV 48 kHz stereo s16", "wav48s.wav"],
      ["FLAC 44.1 kHz stereo", "flac44s.flac"],
      ["MP3 44.1 kHz stereo 128k", "mp3-44s.mp3"],
      ["Ogg Opus 48 kHz stereo", "opus48s.opus"],
      ["Ogg Vorbis 44.1 kHz stereo", "vorbis44s.ogg"],
      ["WebM Opus 48 kHz stereo (ffmpeg-made)", "webm48s.webm"],
    ];

    const durations = new Map<string, number>();
    const cpuMedian = new Map<string, number>();
    const v = await initVault({ dataDir: f("vault"), keyFile: f("root.key") });
    const subject = await v.subjects.add({ ref: "bench" });
    // Warm-up: embedder model, template key expansion, decoder worker code, JIT.
    await timeIngest(v, subject.id, readFileSync(f("wav16m.wav")));

    console.log(
      `\ninput: ${minutes} min of flite speech (4 voices), best-effort median of ${runs} runs; ` +
        `"CPU" counts every thread of the process (the decoder worker included), i.e. work per core\n`,
    );
    console.log(
      "| input | size | ingest (wall) | ingest (CPU) | ffmpeg decode → 16 kHz mono `-threads 1` (CPU) |",
    );
    console.log("|---|---:|---:|---:|---:|");
    for (const [label, name] of inputs) {
      const bytes = readFileSync(f(name));
      const ours: (Timing & { audioSec: number; derivations: string[] })[] = [];
      const ff: Timing[] = [];
      for (let i = 0; i < runs; i++) {
        ours.push(await timeIngest(v, subject.id, bytes));
        ff.push(timeFfmpeg(f(name)));
      }
      const sec = ours[0]!.audioSec;
      const xr = (ms: number): string => `${(sec / (ms / 1000)).toFixed(0)}×`;
      // Four voices: diarisation finds four speakers and enrols none (AMBIGUOUS_SPEAKER), but the
      // embedder and the diarisation ran, which the "speakers" derivation shows.
      if (!ours[0]!.derivations.includes("speakers"))
        throw new Error("no speakers derivation: embedder missing");
      durations.set(name, sec);
      cpuMedian.set(name, median(ours.map((t) => t.cpuMs)));
      console.log(
        `| ${label} | ${(bytes.length / 1e6).toFixed(1)} MB | ${xr(median(ours.map((t) => t.wallMs)))} | ` +
          `${xr(median(ours.map((t) => t.cpuMs)))} | ${xr(median(ff.map((t) => t.cpuMs)))} |`,
      );
    }
    await v.close();

    // Where the time goes, per input (median of the runs, ms per minute of audio).
    const embedder = await loadBuiltinEmbedder();
    const stages = Object.keys(await stageBreakdown(readFileSync(f("wav16m.wav")), embedder));
    console.log(
      `\nstage breakdown (main thread, ms per minute of audio, median of ${runs}; ` +
        "the rest of the ingest's CPU is the vault's own work and the decoder worker's)\n",
    );
    console.log(`| input | ${stages.join(" | ")} | sum | ingest CPU |`);
    console.log(`|---|${stages.map(() => "---:").join("|")}|---:|---:|`);
    for (const [label, name] of inputs) {
      const bytes = readFileSync(f(name));
      const rows: Record<string, number>[] = [];
      for (let i = 0; i < runs; i++) rows.push(await stageBreakdown(bytes, embedder));
      const perMin = (x: number): string => ((x * 60) / durations.get(name)!).toFixed(0);
      const med = stages.map((k) => median(rows.map((r) => r[k]!)));
      const sum = med.reduce((a, b) => a + b, 0);
      console.log(
        `| ${label} | ${med.map(perMin).join(" | ")} | ${perMin(sum)} | ${perMin(cpuMedian.get(name)!)} |`,
      );
    }

    // Reference: torchaudio Kaldi fbank on the same 16 kHz PCM (as our pipeline sees it).
    const py = findTorchPython();
    if (py === null) {
      console.log("\n| torchaudio kaldi.fbank | – | python3 with torchaudio not found |");
    } else {
      const d = await decodeToMono16k(chunked(readFileSync(f("wav16m.wav"))));
      const pcs: Float32Array[] = [];
      for await (const c of d.pcm) pcs.push(Float32Array.from(c));
      const n = pcs.reduce((a, c) => a + c.length, 0);
      const all = new Float32Array(n);
      let o = 0;
      for (const c of pcs) {
        all.set(c, o);
        o += c.length;
      }
      writeFileSync(f("pcm.f32"), Buffer.from(all.buffer, all.byteOffset, all.byteLength));
      const out = execFileSync(
        py,
        [resolve("scripts/dev/bench_torchaudio_fbank.py"), f("pcm.f32"), String(runs)],
        {
          encoding: "utf8",
        },
      );
      const r = JSON.parse(out.trim().split("\n").pop()!) as {
        audioSec: number;
        times: number[];
        chunkedTimes: number[];
        torchaudio: string;
        threads: number;
      };
      console.log(`\n| reference on the same PCM (${r.audioSec.toFixed(0)} s) | × real time |`);
      console.log("|---|---:|");
      console.log(
        `| torchaudio ${r.torchaudio} kaldi.fbank, ${r.threads} thread, one call | ${(r.audioSec / median(r.times)).toFixed(0)}× |`,
      );
      console.log(
        `| torchaudio kaldi.fbank, in 10 s calls | ${(r.audioSec / median(r.chunkedTimes)).toFixed(0)}× |`,
      );
    }

    if (wavGb > 0) {
      // The RSS run loops the 48 kHz stereo speech as raw PCM under a header declaring the size.
      const wav = readFileSync(f("wav48s.wav"));
      const dataAt = wav.indexOf("data", 12, "latin1") + 8;
      writeFileSync(f("piece.pcm"), wav.subarray(dataAt));
      const out = execFileSync(
        process.execPath,
        [fileURLToPath(import.meta.url), "--rss", f("piece.pcm"), String(Math.floor(wavGb * 1e9))],
        { encoding: "utf8", maxBuffer: MB, stdio: ["ignore", "pipe", "inherit"] },
      );
      const r = JSON.parse(out.trim().split("\n").pop()!) as {
        baseMb: number;
        peakMb: number;
        audioSec: number;
        wallMs: number;
        inputBytes: number;
      };
      console.log(
        `\n| ${(r.inputBytes / 1e9).toFixed(1)} GB WAV (48 kHz stereo s16, ${(r.audioSec / 3600).toFixed(2)} h) ingested in a fresh process | value |`,
      );
      console.log("|---|---:|");
      console.log(`| RSS after opening the vault | ${r.baseMb.toFixed(0)} MiB |`);
      console.log(`| peak RSS during ingest | ${r.peakMb.toFixed(0)} MiB |`);
      console.log(`| × real time (wall) | ${(r.audioSec / (r.wallMs / 1000)).toFixed(0)}× |`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--rss") await rssChild(process.argv[3]!, Number(process.argv[4]));
else await main();
