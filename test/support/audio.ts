/** Real-voice test audio made at test time (flite voices are built from recordings of real people). */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { hasCommand, need } from "./tools.js";

export const HAVE_AUDIO_TOOLS = need(
  "audio generation (flite, sox, ffmpeg)",
  hasCommand("flite") && hasCommand("sox") && hasCommand("ffmpeg"),
  "flite, sox or ffmpeg is not installed",
);

const CACHE = path.join(os.tmpdir(), "voxvault-test-audio");

export function speech(text: string, voice: "slt" | "awb" | "rms" | "kal16" = "slt", name?: string): string {
  mkdirSync(CACHE, { recursive: true });
  // Keyed by the whole text: two texts that start alike must not share a cached file.
  const key = createHash("sha256").update(text).digest("hex").slice(0, 24);
  const base = path.join(CACHE, name ?? `${voice}-${key}`);
  const out = `${base}.16k.wav`;
  if (!existsSync(out)) {
    execFileSync("flite", ["-voice", voice, "-t", text, "-o", `${base}.raw.wav`]);
    execFileSync("sox", [`${base}.raw.wav`, "-r", "16000", "-c", "1", "-b", "16", out]);
  }
  return out;
}

/** Converts with ffmpeg (e.g. ".mp3", ".opus", ".webm", ".flac") or sox effects; cached. */
export function convert(input: string, ext: string, args: string[] = []): string {
  const out = `${input}.${Buffer.from(args.join(" ")).toString("hex").slice(0, 16)}${ext}`;
  if (!existsSync(out)) execFileSync("ffmpeg", ["-loglevel", "error", "-y", "-i", input, ...args, out]);
  return out;
}

export function sox(input: string, suffix: string, effects: string[], outArgs: string[] = []): string {
  const out = `${input}.${suffix}.wav`;
  if (!existsSync(out)) execFileSync("sox", [input, ...outArgs, out, ...effects]);
  return out;
}

export function writeTemp(name: string, data: Uint8Array | string): string {
  mkdirSync(CACHE, { recursive: true });
  const p = path.join(CACHE, name);
  writeFileSync(p, data);
  return p;
}

/** A canonical mono WAV header (format tag 1 PCM or 3 float) followed by room for the samples. */
function monoWav(tag: 1 | 3, bytesPerSample: number, frames: number, rate: number): Buffer {
  const b = Buffer.alloc(44 + frames * bytesPerSample);
  b.write("RIFF", 0);
  b.writeUInt32LE(36 + frames * bytesPerSample, 4);
  b.write("WAVEfmt ", 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(tag, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * bytesPerSample, 28);
  b.writeUInt16LE(bytesPerSample, 32);
  b.writeUInt16LE(bytesPerSample * 8, 34);
  b.write("data", 36);
  b.writeUInt32LE(frames * bytesPerSample, 40);
  return b;
}

/** A 16-bit mono WAV from integer samples. */
export function wavBytes(samples: Int16Array, rate = 16000): Buffer {
  const b = monoWav(1, 2, samples.length, rate);
  for (let i = 0; i < samples.length; i++) b.writeInt16LE(samples[i]!, 44 + i * 2);
  return b;
}

/** An IEEE float64 mono WAV (any values, also beyond ±1 or float32's range). */
export function float64WavBytes(samples: Float64Array, rate = 16000): Buffer {
  const b = monoWav(3, 8, samples.length, rate);
  for (let i = 0; i < samples.length; i++) b.writeDoubleLE(samples[i]!, 44 + i * 8);
  return b;
}
