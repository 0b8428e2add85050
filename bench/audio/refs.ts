/**
 * Shared by the audio benchmarks: input streaming and the reference tools timed in the same run
 * (ffmpeg single-threaded, torchaudio's Kaldi fbank).
 */
import { execFileSync, spawnSync } from "node:child_process";

/** Feeds bytes in 64 KiB pieces, one microtask apart, as a network or file stream would. */
export async function* chunked(b: Uint8Array, size = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let o = 0; o < b.length; o += size) {
    await Promise.resolve();
    yield b.subarray(o, o + size);
  }
}

/**
 * An interview as platforms store it: AAC-LC 48 kHz mono 96 kbit/s in an M4A whose index (moov)
 * follows the media, ffmpeg's default and most recorders'.
 */
export function encodeInterviewM4a(input: string, output: string): void {
  const args = ["-v", "error", "-y", "-i", input, "-c:a", "aac", "-b:a", "96k", "-ar", "48000"];
  execFileSync("ffmpeg", [...args, "-ac", "1", output], { stdio: ["ignore", "ignore", "inherit"] });
}

/**
 * ffmpeg decoding `file` to 16 kHz mono f32 on one thread; bash's `time` gives ffmpeg's own CPU
 * time. Output goes to /dev/null, as ours goes nowhere.
 */
export function timeFfmpeg(file: string): { wallMs: number; cpuMs: number } {
  const t0 = performance.now();
  const r = spawnSync(
    "bash",
    [
      "-c",
      'TIMEFORMAT="%U %S"; time ffmpeg -nostdin -hide_banner -loglevel error -threads 1 -i "$0" -f f32le -ac 1 -ar 16000 - > /dev/null',
      file,
    ],
    { encoding: "utf8" },
  );
  const wallMs = performance.now() - t0;
  const [u, s] = r.stderr.trim().split(/\s+/).slice(-2).map(Number);
  return { wallMs, cpuMs: ((u ?? NaN) + (s ?? NaN)) * 1000 };
}

/** A python3 with torch, torchaudio and numpy ($VOXVAULT_PYTHON, python3, /usr/bin/python3), or null. */
export function findTorchPython(): string | null {
  for (const c of [process.env.VOXVAULT_PYTHON, "python3", "/usr/bin/python3"]) {
    if (c === undefined || c === "") continue;
    const r = spawnSync(c, ["-c", "import torch, torchaudio, numpy"], { stdio: "ignore" });
    if (r.status === 0) return c;
  }
  return null;
}
