import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBuiltinEmbedder } from "../../../src/embed/builtin.js";
import type { Embedder } from "../../../src/embed/types.js";
import { analyseRecording } from "../../../src/ingest/analyse.js";
import { compiledDecode, fileBytes, run, speech, tempDir } from "./fixtures.js";
import { missingGstElements, missingTools } from "./tools.js";

function cosine(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * Analyses a file with both decoders; the derivations agree within the documented tolerances.
 * `psMono`: an HE-AAC v2 stream, which FAAD2 decodes to its mono core and ffmpeg to stereo; BS.1770
 * sums the channels' power, so the stereo reads 10·log10(2) = 3.01 LU louder for the same voice.
 */
async function expectSameAnalysis(
  path: string,
  workerUrl: URL,
  embedder: Embedder,
  psMono = false,
): Promise<void> {
  const name = path.split("/").pop()!;
  const go = (native: boolean) =>
    analyseRecording(fileBytes(path), { workerUrl, embedder, native, ffmpegFallback: false });
  const wasm = await go(false);
  const nat = await go(true);
  expect(nat.info.container).toBe(wasm.info.container);
  expect(nat.info.codec).toBe(wasm.info.codec);
  const dur = Math.abs(nat.report.durationSec - wasm.report.durationSec);
  const speechDiff = Math.abs(nat.report.vad.speechSec - wasm.report.vad.speechSec);
  const stereoGain = psMono ? 10 * Math.log10(2) : 0;
  const lufs = Math.abs(nat.loudness.integratedLufs! - wasm.loudness.integratedLufs! - stereoGain);
  const f0 = Math.abs(nat.report.voice.f0Hz!.p50 / wasm.report.voice.f0Hz!.p50 - 1);
  const cos = cosine(nat.embedding!, wasm.embedding!);
  console.log(
    `${name}: duration Δ ${dur.toFixed(3)} s, speech Δ ${speechDiff.toFixed(2)} s, loudness Δ ${lufs.toFixed(2)} LU, F0 median Δ ${(100 * f0).toFixed(1)} %, embedding cosine ${cos.toFixed(4)}`,
  );
  expect(dur).toBeLessThanOrEqual(0.13); // a frame of decoder delay or padding (AAC: 2 × 1024 samples at 16 kHz)
  expect(speechDiff).toBeLessThanOrEqual(0.15);
  expect(lufs).toBeLessThanOrEqual(0.5);
  expect(f0).toBeLessThanOrEqual(0.02);
  expect(cos).toBeGreaterThanOrEqual(0.97);
  nat.embedding!.fill(0);
  wasm.embedding!.fill(0);
}

/**
 * The native fast path (ffmpeg decodes the codec stream our demuxers hand it) against the
 * sandboxed WebAssembly decoders: the same derivations within the tolerances docs/audio-input.md
 * states ("Native fast path").
 */
const skip = missingTools("flite", "sox", "ffmpeg", "lame", "oggenc", "opusenc", "flac");
const TEXT =
  "Both decoders should hear the same speaker. I worked on data pipelines for four years and led a small team of annotators.";

describe.skipIf(skip !== null)(`native fast path vs the sandbox ${skip ?? ""}`, () => {
  const t = tempDir();
  let embedder: Embedder;
  let workerUrl: URL;
  const f = (name: string): string => join(t.dir, name);
  const ff = (...args: string[]): void => {
    run("ffmpeg", ["-loglevel", "error", "-y", ...args]);
  };

  beforeAll(async () => {
    workerUrl = compiledDecode().workerUrl;
    embedder = await loadBuiltinEmbedder();
    const base = speech(t.dir, TEXT);
    run("sox", [base, "-r", "44100", "-c", "2", f("s44.wav")]);
    run("sox", [base, "-r", "8000", f("s8.wav")]);
    run("flac", ["-s", "-f", f("s44.wav"), "-o", f("s.flac")]);
    run("lame", ["--quiet", f("s44.wav"), f("s.mp3")]);
    run("oggenc", ["-Q", f("s44.wav"), "-o", f("s.ogg")]);
    run("opusenc", ["--quiet", f("s44.wav"), f("s.opus")]);
    ff("-i", f("s44.wav"), "-c:a", "aac", "-b:a", "96k", f("s.m4a"));
    ff("-i", f("s44.wav"), "-c:a", "aac", f("s.aac"));
    ff(
      "-f",
      "lavfi",
      "-i",
      "testsrc=size=160x120:rate=15",
      "-i",
      base,
      "-shortest",
      "-c:v",
      "libx264",
      "-c:a",
      "aac",
      f("s.mkv"),
    );
    ff("-i", f("s44.wav"), "-c:a", "libopus", f("s.webm"));
    run("sox", [f("s8.wav"), "-C", "7", "-t", "amr-nb", f("s.amr")]);
    ff("-i", f("s.amr"), "-c:a", "copy", f("s.3gp"));
  });
  afterAll(t.cleanup);

  for (const name of [
    "s.flac",
    "s.mp3",
    "s.ogg",
    "s.opus",
    "s.webm",
    "s.m4a",
    "s.aac",
    "s.mkv",
    "s.3gp",
    "s.amr",
  ]) {
    it(`${name}: same duration, speech, loudness, pitch and speaker embedding`, async () => {
      await expectSameAnalysis(f(name), workerUrl, embedder);
    });
  }
});

const skipHe =
  missingTools("flite", "sox", "ffmpeg", "fdkaac") ??
  missingGstElements("wavparse", "audioconvert", "audioresample", "voamrwbenc", "3gppmux");

describe.skipIf(skipHe !== null)(`native fast path vs the sandbox: HE-AAC and AMR-WB ${skipHe ?? ""}`, () => {
  const t = tempDir();
  let embedder: Embedder;
  let workerUrl: URL;
  const f = (name: string): string => join(t.dir, name);

  beforeAll(async () => {
    workerUrl = compiledDecode().workerUrl;
    embedder = await loadBuiltinEmbedder();
    const base = speech(t.dir, TEXT);
    run("sox", [base, "-r", "48000", "-c", "2", f("s48.wav")]);
    run("fdkaac", ["-S", "-p", "5", "-b", "48000", "-o", f("he1.m4a"), f("s48.wav")]);
    run("fdkaac", ["-S", "-p", "29", "-b", "32000", "-o", f("he2.m4a"), f("s48.wav")]);
    run("fdkaac", ["-S", "-p", "29", "-b", "32000", "-f", "2", "-o", f("he2.aac"), f("s48.wav")]);
    const wb = ["-q", "filesrc", `location=${base}`, "!", "wavparse", "!", "audioconvert", "!"];
    const to16k = ["audioresample", "!", "audio/x-raw,rate=16000,channels=1", "!", "voamrwbenc", "!"];
    run("gst-launch-1.0", [...wb, ...to16k, "filesink", `location=${f("wb.frames")}`]);
    writeFileSync(f("wb.amr"), Buffer.concat([Buffer.from("#!AMR-WB\n"), readFileSync(f("wb.frames"))]));
    run("gst-launch-1.0", [...wb, ...to16k, "3gppmux", "!", "filesink", `location=${f("wb.3gp")}`]);
  });
  afterAll(t.cleanup);

  for (const name of ["he1.m4a", "he2.m4a", "he2.aac", "wb.amr", "wb.3gp"]) {
    it(`${name}: same duration, speech, loudness, pitch and speaker embedding`, async () => {
      await expectSameAnalysis(f(name), workerUrl, embedder, name.startsWith("he2"));
    });
  }
});
