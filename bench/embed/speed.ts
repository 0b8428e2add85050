/**
 * Embedder benchmark: × real time on one core of the built-in DSP embedder, on its own (frames
 * precomputed) and inside the FeaturePipeline, with the pipeline alone as the reference measured
 * in the same run; protection cost; and a 3-hour stream through pipeline + embedder with its
 * memory. The ONNX row uses a generated tiny model (no real speaker model is available here):
 * it measures the plumbing, not a speaker network.
 *
 * Input: the utterances of the privacy-evaluation corpus (real-voice synthesis with channel
 * effects; build it first with `node scripts/embedder/run.mjs evaluate`), concatenated.
 *
 *   node scripts/bench.mjs bench/embed/speed.ts              # ~10 min of audio, median of 3
 *   VOXVAULT_BENCH_LONG=1 node scripts/bench.mjs bench/embed/speed.ts   # adds the 3-hour stream
 */

import { readFileSync, readdirSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { FeaturePipeline, type FeatureFrames } from "../../src/audio/features/index.js";
import { createOnnxEmbedder, embedPcm, loadBuiltinEmbedder, type Embedder } from "../../src/embed/node.js";
import { createTemplateProtector } from "../../src/template/index.js";
import { machineLine, median } from "../machine.js";
import { parseWav } from "../privacy/wav.js";
import { varianceProjectionModel } from "../../test/embed/onnx-proto.js";

const SR = 16000;
const root = process.cwd();

function corpusAudio(minutes: number): Float32Array {
  const dir = resolve(root, "bench/out/corpus");
  const files: string[] = [];
  for (const sp of readdirSync(dir, { withFileTypes: true })) {
    if (!sp.isDirectory() || sp.name === "noise") continue;
    for (const f of readdirSync(join(dir, sp.name)))
      if (f.endsWith(".wav")) files.push(join(dir, sp.name, f));
  }
  files.sort();
  const want = Math.round(minutes * 60 * SR);
  const out = new Float32Array(want);
  let o = 0;
  for (let k = 0; o < want; k++) {
    const s = parseWav(new Uint8Array(readFileSync(files[k % files.length]!))).samples;
    out.set(s.subarray(0, Math.min(s.length, want - o)), o);
    o += s.length;
  }
  return out;
}

function* chunks(pcm: Float32Array): Generator<Float32Array> {
  for (let i = 0; i < pcm.length; i += SR) yield pcm.subarray(i, Math.min(pcm.length, i + SR));
}

function time(f: () => void, reps = 3): number {
  f(); // warm-up
  const t: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    f();
    t.push((performance.now() - t0) / 1000);
  }
  return median(t);
}

async function timeAsync(f: () => Promise<void>, reps = 3): Promise<number> {
  await f();
  const t: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await f();
    t.push((performance.now() - t0) / 1000);
  }
  return median(t);
}

async function main(): Promise<void> {
  const minutes = Number(process.argv[2] ?? 10);
  const pcm = corpusAudio(minutes);
  const seconds = pcm.length / SR;
  const builtin = await loadBuiltinEmbedder({ modelsDir: resolve(root, "models") });
  console.log(machineLine());
  console.log(`input: ${seconds.toFixed(0)} s of the privacy corpus; 1 s pushes; one thread\n`);

  // Frames once, for the embedder-only row.
  const frames: FeatureFrames[] = [];
  const p0 = new FeaturePipeline({ ...builtin.features, onFrames: (f) => frames.push(f) });
  for (const c of chunks(pcm)) p0.push(c);
  const report = p0.finish();

  const rows: [string, number][] = [];
  rows.push([
    "FeaturePipeline alone (fbank + MFCC + VAD + quality + voice stats)",
    time(() => {
      const p = new FeaturePipeline({ ...builtin.features, onFrames: () => undefined });
      for (const c of chunks(pcm)) p.push(c);
      p.finish();
    }),
  ]);
  rows.push([
    "built-in embedder alone (statistics + projection, frames given)",
    time(() => {
      const s = builtin.createSession();
      for (const f of frames) s.push(f);
      void s.finish(report);
    }),
  ]);
  rows.push([
    "FeaturePipeline + built-in embedder (embedPcm)",
    await timeAsync(async () => {
      await embedPcm(builtin, chunks(pcm));
    }),
  ]);
  const dir = mkdtempSync(join(tmpdir(), "vv-onnx-bench-"));
  let onnx: Embedder | undefined;
  try {
    const w = Float32Array.from({ length: 80 * 32 }, (_, i) => Math.sin(i * 1.3) / 9);
    writeFileSync(join(dir, "tiny.onnx"), varianceProjectionModel(w, 32));
    onnx = await createOnnxEmbedder({ modelPath: join(dir, "tiny.onnx"), name: "tiny" });
    const onnxFrames: FeatureFrames[] = [];
    const p1 = new FeaturePipeline({ ...onnx.features, onFrames: (f) => onnxFrames.push(f) });
    for (const c of chunks(pcm)) p1.push(c);
    const r1 = p1.finish();
    const e = onnx;
    rows.push([
      "ONNX embedder alone, TINY GENERATED MODEL (plumbing: windows, CMN, onnxruntime calls)",
      await timeAsync(async () => {
        const s = e.createSession();
        for (const f of onnxFrames) {
          s.push(f);
          await s.drain();
        }
        await s.finish(r1);
      }),
    ]);
  } catch (err) {
    console.log(`ONNX row skipped: ${(err as Error).message}`);
  } finally {
    await onnx?.close();
    rmSync(dir, { recursive: true, force: true });
  }

  console.log("| what | median time (s) | × real time |");
  console.log("| --- | ---: | ---: |");
  for (const [what, t] of rows) console.log(`| ${what} | ${t.toFixed(3)} | ${(seconds / t).toFixed(0)}× |`);

  const { embedding } = await embedPcm(builtin, chunks(pcm.subarray(0, 60 * SR)));
  const t0 = performance.now();
  const prot = createTemplateProtector(new Uint8Array(32).fill(1), { profile: builtin.profile });
  const tKey = (performance.now() - t0) / 1000;
  const n = 2000;
  const t1 = performance.now();
  for (let i = 0; i < n; i++) prot.protectToBytes(embedding);
  const tProt = (performance.now() - t1) / 1000 / n;
  const a = prot.protectToBytes(embedding);
  const t2 = performance.now();
  for (let i = 0; i < 20000; i++) prot.compare(a, a);
  const tCmp = (performance.now() - t2) / 1000 / 20000;
  console.log(
    `\nprotection (dim ${builtin.dim}, m = 1024, q = 4): key expansion ${(1000 * tKey).toFixed(1)} ms once per key; protect ${(1e6 * tProt).toFixed(0)} µs; compare ${(1e6 * tCmp).toFixed(1)} µs`,
  );
  prot.dispose();

  if (process.env.VOXVAULT_BENCH_LONG === "1") {
    // 3 hours: the 10-minute buffer pushed 18 times as one stream.
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const s = builtin.createSession();
    const p = new FeaturePipeline({
      ...builtin.features,
      onFrames: (f) => {
        s.push(f);
      },
    });
    const reps = Math.ceil((3 * 3600) / seconds);
    const tl = performance.now();
    for (let r = 0; r < reps; r++) {
      for (const c of chunks(pcm)) p.push(c);
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    const rep = p.finish();
    await s.finish(rep);
    const wall = (performance.now() - tl) / 1000;
    console.log(
      `\n3-hour stream (${(rep.durationSec / 3600).toFixed(2)} h, ${rep.frames.count} frames, ${rep.vad.segments.length} VAD segments): ${wall.toFixed(0)} s wall (${(rep.durationSec / wall).toFixed(0)}× real time); RSS ${(rss0 / 2 ** 20).toFixed(0)} MB before, peak ${(peak / 2 ** 20).toFixed(0)} MB (includes the 10-minute input buffer, ${(pcm.byteLength / 2 ** 20).toFixed(0)} MB)`,
    );
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
