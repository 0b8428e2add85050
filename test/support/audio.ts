/** Real-voice test audio made at test time (flite voices are built from recordings of real people). */
import { execFileSync } from "node:child_process";
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
  const base = path.join(CACHE, name ?? `${voice}-${Buffer.from(text).toString("hex").slice(0, 40)}`);
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

/** A 16-bit mono WAV from integer samples. */
export function wavBytes(samples: Int16Array, rate = 16000): Buffer {
  const b = Buffer.alloc(44 + samples.length * 2);
  b.write("RIFF", 0);
  b.writeUInt32LE(36 + samples.length * 2, 4);
  b.write("WAVEfmt ", 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write("data", 36);
  b.writeUInt32LE(samples.length * 2, 40);
  for (let i = 0; i < samples.length; i++) b.writeInt16LE(samples[i]!, 44 + i * 2);
  return b;
}
