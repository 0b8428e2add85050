import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBuiltinEmbedder } from "../../../src/embed/builtin.js";
import type { Embedder } from "../../../src/embed/types.js";
import { analyseRecording } from "../../../src/ingest/analyse.js";
import { compiledDecode, fileBytes, run, speech, tempDir } from "./fixtures.js";
import { missingTools } from "./tools.js";

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

  function cosine(a: Float32Array, b: Float32Array): number {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
    return s;
  }

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
      const go = (native: boolean) =>
        analyseRecording(fileBytes(f(name)), { workerUrl, embedder, native, ffmpegFallback: false });
      const wasm = await go(false);
      const nat = await go(true);
      expect(nat.info.container).toBe(wasm.info.container);
      expect(nat.info.codec).toBe(wasm.info.codec);
      const dur = Math.abs(nat.report.durationSec - wasm.report.durationSec);
      const speechDiff = Math.abs(nat.report.vad.speechSec - wasm.report.vad.speechSec);
      const lufs = Math.abs(nat.loudness.integratedLufs! - wasm.loudness.integratedLufs!);
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
    });
  }
});
