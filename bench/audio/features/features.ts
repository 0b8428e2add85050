/**
 * Feature-extraction benchmark: × real time on one core for fbank alone, each extractor, the
 * whole FeaturePipeline and the loudness meter, on ~10 minutes of flite speech; the FFT against
 * pffft-wasm; and, in the same run, torchaudio.compliance.kaldi.fbank single-threaded on the
 * same PCM as the reference.
 *
 * Build and run from the repository root (needs flite and sox; python3 with torchaudio for the
 * reference, else that row is reported as missing):
 *   npx tsc --outDir /tmp/fbench --module NodeNext --moduleResolution NodeNext --target ES2022 \
 *     --skipLibCheck --rootDir . bench/audio/features/features.ts
 *   node /tmp/fbench/bench/audio/features/features.js [minutes=10]
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import {
  FbankExtractor,
  FeaturePipeline,
  LoudnessMeter,
  QualityAnalyzer,
  RealFft,
  VoiceActivityDetector,
  VoiceStatsAnalyzer,
} from "../../../src/audio/features/index.js";
import { findTorchPython } from "../refs.js";

const SR = 16000;
const CHUNK = SR; // 1 s pushes, as a decoder would deliver them

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

function readPcm16(path: string): Float32Array {
  const b = readFileSync(path);
  // sox writes a canonical 44-byte header for these files; find "data" to be safe.
  const data = b.indexOf("data", 12, "ascii");
  const n = b.readUInt32LE(data + 4) / 2;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = b.readInt16LE(data + 8 + 2 * i) / 32768;
  return out;
}

const TEXTS = [
  "The quick brown fox jumps over the lazy dog.",
  "A vault for voice keeps only what it needs and forgets the rest on request.",
  "Please call Stella and ask her to bring these things with her from the store.",
  "Six spoons of fresh snow peas, five thick slabs of blue cheese, and maybe a snack for her brother Bob.",
  "We also need a small plastic snake and a big toy frog for the kids.",
  "She can scoop these things into three red bags, and we will go meet her Wednesday at the train station.",
];

/** ~`minutes` of speech: four flite voices reading TEXTS, with pauses, repeated. */
function makeSpeech(dir: string, minutes: number): Float32Array {
  const voices = ["slt", "awb", "rms", "kal16"];
  const parts: string[] = [];
  voices.forEach((v, i) => {
    const raw = join(dir, `${v}.raw.wav`);
    const out = join(dir, `${v}.wav`);
    sh("flite", ["-voice", v, "-t", TEXTS.join(" "), "-o", raw]);
    sh("sox", [raw, "-r", "16000", "-c", "1", "-b", "16", out, "pad", "0.3", `${0.2 + 0.1 * i}`]);
    parts.push(out);
  });
  const block = join(dir, "block.wav");
  sh("sox", [...parts, block]);
  const one = readPcm16(block);
  const total = Math.round(minutes * 60 * SR);
  const out = new Float32Array(total);
  for (let o = 0; o < total; o += one.length) out.set(one.subarray(0, Math.min(one.length, total - o)), o);
  return out;
}

function time(fn: () => void, repeats: number): number[] {
  const t: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return t;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

function pushAll(pcm: Float32Array, push: (c: Float32Array) => void): void {
  for (let o = 0; o < pcm.length; o += CHUNK) push(pcm.subarray(o, Math.min(pcm.length, o + CHUNK)));
}

interface PffftModule {
  _pffft_new_setup(n: number, kind: number): number;
  _pffft_transform_ordered(setup: number, input: number, output: number, work: number, dir: number): void;
  _pffft_aligned_malloc(bytes: number): number;
  HEAPF32: Float32Array;
}

/**
 * ns per 512-point real FFT + power spectrum, ours (WebAssembly SIMD kernel and TypeScript loops)
 * vs pffft-wasm (SIMD), data starting in JS.
 */
async function fftBench(): Promise<{ ours: number; oursJs: number; pffft: number | null }> {
  const N = 512;
  const iters = 200_000;
  const x = new Float64Array(N);
  const xf = new Float32Array(N);
  for (let i = 0; i < N; i++) xf[i] = x[i] = Math.sin(i * 0.1) + 0.01 * i;
  const re = new Float64Array(N / 2 + 1);
  const im = new Float64Array(N / 2 + 1);
  const p = new Float64Array(N / 2 + 1);
  let sink = 0;
  const oursWith = (kernel: "wasm" | "js"): number => {
    const fft = new RealFft(N, { kernel });
    const run = (): void => {
      for (let k = 0; k < iters; k++) {
        fft.forward(x, re, im);
        for (let b = 0; b <= N / 2; b++) p[b] = re[b]! * re[b]! + im[b]! * im[b]!;
        sink += p[3]!;
      }
    };
    run();
    return (median(time(run, 3)) / iters) * 1e9;
  };
  const ours = oursWith("wasm");
  const oursJs = oursWith("js");
  let pffft: number | null = null;
  try {
    const url = pathToFileURL(resolve("node_modules/@echogarden/pffft-wasm/dist/simd/pffft.js")).href;
    const mod = (await import(url)) as { default: () => Promise<PffftModule> };
    const m = await mod.default();
    const setup = m._pffft_new_setup(N, 0);
    const inp = m._pffft_aligned_malloc(N * 4);
    const out = m._pffft_aligned_malloc(N * 4);
    const work = m._pffft_aligned_malloc(N * 4);
    const runPffft = (): void => {
      for (let k = 0; k < iters; k++) {
        const heap = m.HEAPF32;
        heap.set(xf, inp >> 2);
        m._pffft_transform_ordered(setup, inp, out, work, 0);
        // Ordered real output: [r0, r(N/2), r1, i1, r2, i2, …].
        const o = out >> 2;
        p[0] = heap[o]! * heap[o]!;
        p[N / 2] = heap[o + 1]! * heap[o + 1]!;
        for (let b = 1; b < N / 2; b++) p[b] = heap[o + 2 * b]! ** 2 + heap[o + 2 * b + 1]! ** 2;
        sink += p[3]!;
      }
    };
    runPffft();
    pffft = (median(time(runPffft, 3)) / iters) * 1e9;
  } catch (e) {
    console.error(`pffft-wasm not measured: ${String(e)}`);
  }
  if (sink === 42) console.log("");
  return { ours, oursJs, pffft };
}

async function main(): Promise<void> {
  const minutes = Number(process.argv[2] ?? 10);
  const dir = mkdtempSync(join(tmpdir(), "voxvault-bench-"));
  try {
    console.error(`generating ${minutes} min of speech…`);
    const pcm = makeSpeech(dir, minutes);
    const audioSec = pcm.length / SR;
    const repeats = 3;
    const rows: [string, number[], string][] = [];

    // Warm the JIT on 30 s of every path.
    const warm = pcm.subarray(0, 30 * SR);
    {
      const f = new FbankExtractor();
      pushAll(warm, (c) => f.push(c));
      const p = new FeaturePipeline({ onFrames: () => undefined });
      pushAll(warm, (c) => {
        p.push(c);
      });
      p.finish();
    }

    rows.push([
      "fbank (80 mel, povey; FbankExtractor)",
      time(() => {
        const f = new FbankExtractor();
        pushAll(pcm, (c) => f.push(c));
      }, repeats),
      "this library",
    ]);
    rows.push([
      "VAD alone (own fbank front end)",
      time(() => {
        const v = new VoiceActivityDetector();
        pushAll(pcm, (c) => {
          v.push(c);
        });
        v.finish();
      }, repeats),
      "this library",
    ]);
    rows.push([
      "voice stats alone (YIN + syllables)",
      time(() => {
        const v = new VoiceStatsAnalyzer();
        pushAll(pcm, (c) => {
          v.push(c);
        });
        v.finish();
      }, repeats),
      "this library",
    ]);
    rows.push([
      "quality alone",
      time(() => {
        const q = new QualityAnalyzer();
        pushAll(pcm, (c) => {
          q.push(c);
        });
        q.result();
      }, repeats),
      "this library",
    ]);
    rows.push([
      "**FeaturePipeline** (fbank + VAD + quality + voice stats)",
      time(() => {
        const p = new FeaturePipeline({ onFrames: () => undefined });
        pushAll(pcm, (c) => {
          p.push(c);
        });
        p.finish();
      }, repeats),
      "this library",
    ]);

    // Loudness on the original-rate signal: 48 kHz stereo of the same speech.
    const wav16 = join(dir, "all16.wav");
    const i16 = new Int16Array(pcm.length);
    for (let i = 0; i < pcm.length; i++) i16[i] = Math.round(pcm[i]! * 32767);
    const hdr = Buffer.alloc(44);
    hdr.write("RIFF", 0, "ascii");
    hdr.writeUInt32LE(36 + i16.byteLength, 4);
    hdr.write("WAVEfmt ", 8, "ascii");
    hdr.writeUInt32LE(16, 16);
    hdr.writeUInt16LE(1, 20);
    hdr.writeUInt16LE(1, 22);
    hdr.writeUInt32LE(SR, 24);
    hdr.writeUInt32LE(SR * 2, 28);
    hdr.writeUInt16LE(2, 32);
    hdr.writeUInt16LE(16, 34);
    hdr.write("data", 36, "ascii");
    hdr.writeUInt32LE(i16.byteLength, 40);
    writeFileSync(wav16, Buffer.concat([hdr, Buffer.from(i16.buffer)]));
    const raw48 = join(dir, "all48.f32");
    sh("sox", [wav16, "-r", "48000", "-c", "2", "-e", "floating-point", "-b", "32", "-t", "raw", raw48]);
    const b48 = readFileSync(raw48);
    const inter = new Float32Array(b48.buffer, b48.byteOffset, b48.byteLength / 4);
    for (const tp of [false, true]) {
      rows.push([
        `loudness, 48 kHz stereo, true peak ${tp ? "on" : "off"}`,
        time(() => {
          const m = new LoudnessMeter({ sampleRate: 48000, channels: 2, truePeak: tp });
          for (let o = 0; o < inter.length; o += 96000) m.pushInterleaved(inter.subarray(o, o + 96000));
          m.finish();
        }, repeats),
        "this library",
      ]);
    }

    // Reference: torchaudio, single thread, same PCM.
    const py = findTorchPython();
    interface TorchRef {
      times: number[];
      chunkedTimes: number[];
      torch: string;
      torchaudio: string;
      threads: number;
    }
    let ref: TorchRef | null = null;
    if (py !== null) {
      const rawPath = join(dir, "all16.f32");
      writeFileSync(rawPath, Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
      const script = resolve("scripts/dev/bench_torchaudio_fbank.py");
      const r = JSON.parse(sh(py, [script, rawPath, `${repeats}`])) as TorchRef;
      ref = r;
      rows.push([
        `fbank, torchaudio ${r.torchaudio} (torch ${r.torch}, ${r.threads} thread), one call`,
        r.times,
        "reference",
      ]);
      rows.push([`fbank, torchaudio, same, in 10 s calls`, r.chunkedTimes, "reference"]);
    }

    const fftNs = await fftBench();
    const cpu = cpus()[0]?.model ?? "unknown CPU";
    console.log(`\n### Feature extraction benchmark\n`);
    console.log(
      `Machine: ${cpu}, ${cpus().length} logical CPUs; Node ${process.version}; ` +
        `${audioSec.toFixed(0)} s of 16 kHz flite speech (4 voices), pushed in 1 s chunks; ` +
        `median of ${repeats} runs after warm-up; single thread.\n`,
    );
    console.log("| what | median time (s) | × real time | |");
    console.log("|---|---:|---:|---|");
    for (const [name, t, kind] of rows) {
      const m = median(t);
      const isLoud = name.startsWith("loudness");
      console.log(
        `| ${name} | ${m.toFixed(3)} | ${(audioSec / m).toFixed(0)}× | ${kind}${isLoud ? " (RT = audio duration)" : ""} |`,
      );
    }
    if (ref === null) console.log("| fbank, torchaudio | – | – | python3 with torchaudio not found |");
    console.log(
      `\n512-point real FFT + power spectrum from JS data: ours ${fftNs.ours.toFixed(0)} ns ` +
        `(WebAssembly SIMD kernel; ${fftNs.oursJs.toFixed(0)} ns with the TypeScript loops), ` +
        `pffft-wasm SIMD ${fftNs.pffft === null ? "n/a" : `${fftNs.pffft.toFixed(0)} ns`} (incl. copy into the WASM heap).`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
