/**
 * Decode + resample throughput (× real time) per format, against ffmpeg decoding the same files
 * in the same run, plus peak RSS while streaming a large generated WAV and a long MP3.
 *
 * Build and run from the repository root:
 *   npx tsc --outDir /tmp/dbench --module NodeNext --moduleResolution NodeNext --target ES2022 \
 *     --skipLibCheck --rootDir . bench/audio/decode/decode.ts
 *   node /tmp/dbench/bench/audio/decode/decode.js
 * Env: BENCH_MINUTES (input length, default 3), BENCH_WAV_GB (default 2), BENCH_MP3_HOURS (default 3),
 * BENCH_VIDEO_GB (default 2), BENCH_RUNS (default 3).
 */
import { execFileSync } from "node:child_process";
import {
  createReadStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeAudio, decodeToMono16k } from "../../../src/audio/decode/index.js";
import { resampleBuffer } from "../../../src/audio/pcm/resample.js";
import { chunked, timeFfmpeg } from "../refs.js";

// Compiled to a temp dir, the worker resolves npm packages from here: link the repo's.
const outRoot = fileURLToPath(new URL("../../../", import.meta.url));
if (!existsSync(join(outRoot, "node_modules"))) {
  symlinkSync(join(process.cwd(), "node_modules"), join(outRoot, "node_modules"));
}

const MB = 1024 * 1024;
const env = (k: string, d: number): number => Number(process.env[k] ?? d);

interface Timing {
  wallMs: number;
  cpuMs: number;
  seconds: number;
}

async function timeOurs(bytes: Uint8Array, resample: boolean): Promise<Timing> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let seconds: number;
  if (resample) {
    const d = await decodeToMono16k(chunked(bytes));
    let n = 0;
    for await (const c of d.pcm) n += c.length;
    seconds = n / 16000;
  } else {
    const d = await decodeAudio(chunked(bytes));
    let n = 0;
    for await (const c of d.chunks) n += c[0]?.length ?? 0;
    seconds = n / d.info.sampleRate;
  }
  const cpu = process.cpuUsage(cpu0);
  return { wallMs: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000, seconds };
}

function timeFfmpegFor(file: string, seconds: number): Timing {
  return { ...timeFfmpeg(file), seconds };
}

async function best(runs: number, f: () => Promise<Timing> | Timing): Promise<Timing> {
  let b: Timing | null = null;
  for (let i = 0; i < runs; i++) {
    const t = await f();
    if (!b || t.wallMs < b.wallMs) b = t;
  }
  return b!;
}

const x = (t: Timing, k: "wallMs" | "cpuMs"): string => `${(t.seconds / (t[k] / 1000)).toFixed(0)}×`;

/** Child mode: stream a generated input and report peak RSS. */
async function rssChild(kind: string, arg: string): Promise<void> {
  let src: () => AsyncGenerator<Uint8Array>;
  if (kind === "wav") {
    const frames = Math.floor(Number(arg) / 4);
    const h = new Uint8Array(44);
    const v = new DataView(h.buffer);
    h.set([82, 73, 70, 70]);
    v.setUint32(4, 36 + frames * 4, true);
    h.set([87, 65, 86, 69, 102, 109, 116, 32], 8);
    v.setUint32(16, 16, true);
    v.setUint16(20, 1, true);
    v.setUint16(22, 2, true);
    v.setUint32(24, 48000, true);
    v.setUint32(28, 192000, true);
    v.setUint16(32, 4, true);
    v.setUint16(34, 16, true);
    h.set([100, 97, 116, 97], 36);
    v.setUint32(40, frames * 4, true);
    const block = new Uint8Array(64 * 1024);
    const bv = new DataView(block.buffer);
    for (let i = 0; i < block.length / 4; i++) {
      const s = Math.round(8000 * Math.sin(i * 0.05) + 50 * Math.sin(i * 1.3));
      bv.setInt16(4 * i, s, true);
      bv.setInt16(4 * i + 2, -s, true);
    }
    src = async function* () {
      yield h;
      for (let left = frames * 4; left > 0; left -= block.length) {
        await Promise.resolve();
        yield block.subarray(0, Math.min(block.length, left));
      }
    };
  } else if (kind === "file") {
    src = async function* () {
      yield* createReadStream(arg, { highWaterMark: 1 << 16 }) as AsyncIterable<Uint8Array>;
    };
  } else {
    const [file, hours] = arg.split("@");
    const piece = readFileSync(file!);
    const pieceSec = Number(process.env.PIECE_SEC);
    const copies = Math.ceil((Number(hours) * 3600) / pieceSec);
    src = async function* () {
      for (let i = 0; i < copies; i++) yield* chunked(piece);
    };
  }
  const base = process.memoryUsage.rss();
  let peak = base;
  let n = 0;
  let k = 0;
  const t0 = performance.now();
  const d = await decodeToMono16k(src(), { limits: { maxInputBytes: 2 ** 40 } });
  for await (const c of d.pcm) {
    n += c.length;
    if ((k++ & 15) === 0) peak = Math.max(peak, process.memoryUsage.rss());
  }
  console.log(
    JSON.stringify({
      baseMb: base / MB,
      peakMb: peak / MB,
      seconds: n / 16000,
      wallMs: performance.now() - t0,
    }),
  );
}

function rss(
  kind: string,
  arg: string,
  extraEnv: Record<string, string> = {},
): { baseMb: number; peakMb: number; seconds: number; wallMs: number } {
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), "--rss", kind, arg], {
    encoding: "utf8",
    env: { ...process.env, ...extraEnv },
    maxBuffer: MB,
  });
  return JSON.parse(out.trim().split("\n").pop()!) as {
    baseMb: number;
    peakMb: number;
    seconds: number;
    wallMs: number;
  };
}

function sh(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ["ignore", "ignore", "inherit"] });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(os.tmpdir(), "voxvault-dbench-"));
  try {
    const minutes = env("BENCH_MINUTES", 3);
    const runs = env("BENCH_RUNS", 3);
    const f = (n: string): string => join(dir, n);
    sh("flite", [
      "-voice",
      "slt",
      "-t",
      "Voice recordings arrive in many formats. Each one is decoded, mixed down to mono, resampled to sixteen kilohertz and abstracted before anything is stored. The quick brown fox jumps over the lazy dog.",
      "-o",
      f("piece.wav"),
    ]);
    const pieceSec = Number(execFileSync("soxi", ["-D", f("piece.wav")], { encoding: "utf8" }));
    const repeats = Math.max(0, Math.ceil((minutes * 60) / pieceSec) - 1);
    sh("sox", [f("piece.wav"), f("wav16m.wav"), "repeat", String(repeats)]);
    sh("sox", [f("wav16m.wav"), "-r", "48000", "-c", "2", f("wav48s.wav")]);
    sh("sox", [f("wav16m.wav"), "-r", "44100", "-c", "2", f("s44.wav")]);
    sh("flac", ["-s", "-f", f("s44.wav"), "-o", f("flac44s.flac")]);
    sh("lame", ["--quiet", "-b", "128", f("s44.wav"), f("mp3-44s.mp3")]);
    sh("lame", ["--quiet", "-t", "-b", "128", f("s44.wav"), f("mp3-piece.mp3")]);
    sh("opusenc", ["--quiet", f("wav48s.wav"), f("opus48s.opus")]);
    sh("oggenc", ["-Q", f("s44.wav"), "-o", f("vorbis44s.ogg")]);
    sh("ffmpeg", ["-loglevel", "error", "-y", "-i", f("wav48s.wav"), "-c:a", "libopus", f("webm48s.webm")]);
    const ffmpeg = (...a: string[]): void => {
      sh("ffmpeg", ["-loglevel", "error", "-y", ...a]);
    };
    ffmpeg("-i", f("s44.wav"), "-c:a", "aac", "-b:a", "128k", f("m4a44s.m4a")); // moov last: the spool path
    ffmpeg("-i", f("wav16m.wav"), "-c:a", "aac", "-b:a", "48k", "-movflags", "+faststart", f("m4a16m.m4a"));
    ffmpeg("-i", f("s44.wav"), "-c:a", "aac", "-b:a", "128k", f("adts44s.aac"));
    ffmpeg(
      ...["-f", "lavfi", "-i", "testsrc=size=640x360:rate=25", "-i", f("s44.wav"), "-shortest"].concat([
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
        f("mp4video.mp4"),
      ]),
    );
    ffmpeg("-i", f("mp4video.mp4"), "-c", "copy", f("mkvvideo.mkv"));
    sh("sox", [f("wav16m.wav"), "-r", "8000", "-C", "7", "-t", "amr-nb", f("amr8.amr")]);
    ffmpeg("-i", f("amr8.amr"), "-c:a", "copy", f("amr8.3gp"));
    const inputs: [string, string][] = [
      ["WAV 16 kHz mono s16", "wav16m.wav"],
      ["WAV 48 kHz stereo s16", "wav48s.wav"],
      ["FLAC 44.1 kHz stereo", "flac44s.flac"],
      ["MP3 44.1 kHz stereo 128k", "mp3-44s.mp3"],
      ["Ogg Opus 48 kHz stereo", "opus48s.opus"],
      ["Ogg Vorbis 44.1 kHz stereo", "vorbis44s.ogg"],
      ["WebM Opus 48 kHz stereo", "webm48s.webm"],
      ["M4A AAC 44.1 kHz stereo, index last", "m4a44s.m4a"],
      ["M4A AAC 16 kHz mono, fast start", "m4a16m.m4a"],
      ["ADTS AAC 44.1 kHz stereo", "adts44s.aac"],
      ["MP4 video H.264 + AAC", "mp4video.mp4"],
      ["MKV video H.264 + AAC", "mkvvideo.mkv"],
      ["3GP AMR-NB 12.2k", "amr8.3gp"],
    ];
    const ffv = execFileSync("ffmpeg", ["-version"], { encoding: "utf8" }).split("\n")[0];
    console.log(`# voxvault decode bench — ${new Date().toISOString()}`);
    console.log(
      `machine: ${os.cpus()[0]?.model ?? "?"}, ${os.cpus().length} cores, node ${process.version}; ${ffv}`,
    );
    console.log(
      `inputs: ${minutes} min of flite speech; best of ${runs} runs; × real time (audio s / time s)\n`,
    );
    console.log(
      "| input | size | ours decode only (wall) | ours decode+mono+16k (wall) | ours (CPU) | ffmpeg -threads 1 (wall) | ffmpeg (CPU) |",
    );
    console.log("|---|---|---|---|---|---|---|");
    for (const [label, file] of inputs) {
      const bytes = readFileSync(f(file));
      const dec = await best(runs, () => timeOurs(bytes, false));
      const full = await best(runs, () => timeOurs(bytes, true));
      const ff = await best(runs, () => timeFfmpegFor(f(file), full.seconds));
      console.log(
        `| ${label} | ${(bytes.length / MB).toFixed(1)} MB | ${x(dec, "wallMs")} | ${x(full, "wallMs")} | ${x(full, "cpuMs")} | ${x(ff, "wallMs")} | ${x(ff, "cpuMs")} |`,
      );
    }

    console.log("\n| resampler alone (mono, 60 s) | × real time |\n|---|---|");
    for (const rate of [48000, 44100, 22050, 8000]) {
      const input = new Float32Array(rate * 60);
      for (let i = 0; i < input.length; i++) input[i] = Math.sin(i * 0.01) * 0.5;
      const t0 = performance.now();
      resampleBuffer(input, rate, 16000);
      console.log(`| ${rate} → 16000 | ${(60 / ((performance.now() - t0) / 1000)).toFixed(0)}× |`);
    }

    const gb = env("BENCH_WAV_GB", 2);
    const hours = env("BENCH_MP3_HOURS", 3);
    console.log(
      "\n| streamed input (generated on the fly) | audio | peak RSS (baseline) | × real time |\n|---|---|---|---|",
    );
    const w = rss("wav", String(Math.floor(gb * 1e9)));
    console.log(
      `| ${gb} GB WAV 48 kHz stereo s16 | ${(w.seconds / 3600).toFixed(2)} h | ${w.peakMb.toFixed(0)} MB (${w.baseMb.toFixed(0)} MB) | ${(w.seconds / (w.wallMs / 1000)).toFixed(0)}× |`,
    );
    const pieceMp3Sec = Number(execFileSync("soxi", ["-D", f("s44.wav")], { encoding: "utf8" }));
    const m = rss("mp3", `${f("mp3-piece.mp3")}@${hours}`, { PIECE_SEC: String(pieceMp3Sec) });
    console.log(
      `| ${hours} h MP3 128k 44.1 kHz stereo (${((statSync(f("mp3-piece.mp3")).size * Math.ceil((hours * 3600) / pieceMp3Sec)) / MB).toFixed(0)} MB) | ${(m.seconds / 3600).toFixed(2)} h | ${m.peakMb.toFixed(0)} MB (${m.baseMb.toFixed(0)} MB) | ${(m.seconds / (m.wallMs / 1000)).toFixed(0)}× |`,
    );
    // A long interview video as a recorder writes it (index last), with raw video so that ~2 GB
    // take seconds to write: the demuxer must spool its media (ciphertext) and skip the video.
    const videoGb = env("BENCH_VIDEO_GB", 2);
    const videoSec = Math.round((videoGb * 1e9) / (320 * 240 * 2 * 25)); // uyvy422: 2 bytes a pixel
    ffmpeg(
      ...["-f", "lavfi", "-i", `testsrc=size=320x240:rate=25:duration=${videoSec}`, "-stream_loop", "-1"]
        .concat(["-i", f("m4a16m.m4a"), "-t", String(videoSec), "-map", "0:v", "-map", "1:a"])
        .concat(["-c:v", "rawvideo", "-pix_fmt", "uyvy422", "-c:a", "copy", f("big.mov")]),
    );
    const big = rss("file", f("big.mov"));
    console.log(
      `| ${(statSync(f("big.mov")).size / 1e9).toFixed(2)} GB MOV (raw video + AAC, index last, read from disk) | ${(big.seconds / 3600).toFixed(2)} h | ${big.peakMb.toFixed(0)} MB (${big.baseMb.toFixed(0)} MB) | ${(big.seconds / (big.wallMs / 1000)).toFixed(0)}× |`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--rss") {
  await rssChild(process.argv[3]!, process.argv[4]!);
} else {
  await main();
}
