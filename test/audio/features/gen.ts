/** Test-time audio generation with flite and sox (nothing binary is committed). */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "./tools.js";
import { readWav } from "./wav.js";

export function makeTempDir(prefix = "voxvault-features-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const SENTENCES = [
  "The quick brown fox jumps over the lazy dog.",
  "A vault for voice keeps only what it needs and forgets the rest on request.",
  "Please call Stella and ask her to bring these things with her from the store.",
  "Six spoons of fresh snow peas, five thick slabs of blue cheese, and maybe a snack for her brother Bob.",
];

/** flite voice → 16 kHz mono 16-bit WAV at `out`. Extra sox effects are appended. */
export function speechWav(
  dir: string,
  name: string,
  text: string,
  voice: "slt" | "awb" | "rms" | "kal16" = "slt",
  effects: string[] = [],
): string {
  const raw = join(dir, `${name}.flite.wav`);
  const out = join(dir, `${name}.wav`);
  run("flite", ["-voice", voice, "-t", text, "-o", raw]);
  run("sox", [raw, "-r", "16000", "-c", "1", "-b", "16", out, ...effects]);
  return out;
}

export function sox(args: string[]): string {
  return run("sox", args);
}

export function readMono(path: string): { pcm: Float32Array; sampleRate: number } {
  const w = readWav(path);
  return { pcm: w.channels[0]!, sampleRate: w.sampleRate };
}

/** Splits `pcm` at the given cut sizes (cycled), e.g. [1, 7, 160, 4000]. */
export function chunksOf(pcm: Float32Array, sizes: readonly number[]): Float32Array[] {
  const out: Float32Array[] = [];
  let pos = 0;
  let i = 0;
  while (pos < pcm.length) {
    const n = Math.max(0, sizes[i % sizes.length]!);
    out.push(pcm.subarray(pos, Math.min(pcm.length, pos + n)));
    pos += n;
    i++;
  }
  return out;
}

/** Deterministic white noise (xorshift + Box–Muller) with the given RMS. */
export function whiteNoise(n: number, rms: number, seed = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const u = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(u()));
    const th = 2 * Math.PI * u();
    out[i] = rms * r * Math.cos(th);
    if (i + 1 < n) out[i + 1] = rms * r * Math.sin(th);
  }
  return out;
}

export function sine(n: number, freq: number, amp: number, sampleRate = 16000, phase = 0): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = amp * Math.sin((2 * Math.PI * freq * i) / sampleRate + phase);
  return out;
}

export function concat(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Glottal-pulse-like tone at 16 kHz: harmonics below `maxHz` with 1/k amplitudes. */
export function harmonicTone(n: number, f0: number, amp: number, maxHz = 4000): Float32Array {
  const x = new Float32Array(n);
  for (let k = 1; k * f0 < maxHz; k++) {
    for (let i = 0; i < n; i++) x[i] = x[i]! + (amp / k) * Math.sin((2 * Math.PI * k * f0 * i) / 16000);
  }
  return x;
}
