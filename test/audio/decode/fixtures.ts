import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { expect } from "vitest";
import { isVaultError, type ErrorCode } from "../../../src/errors.js";
import type { PlanarChunk } from "../../../src/audio/pcm/types.js";

export const REPO = resolve(import.meta.dirname, "../../..");

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "voxvault-decode-"));
  return {
    dir,
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
}

/**
 * Copies of an encoded file, `loops` of them joined without re-encoding and cut at `seconds`
 * (ffmpeg writes an MP4's index, the moov, after its media, as recorders do).
 */
export function loopEncoded(input: string, output: string, loops: number, seconds: number): void {
  run("ffmpeg", [
    "-loglevel",
    "error",
    "-y",
    "-stream_loop",
    String(loops),
    "-i",
    input,
    "-t",
    String(seconds),
    "-c",
    "copy",
    output,
  ]);
}

/** Speech from flite (16 kHz mono s16). */
export function speech(dir: string, text: string, name = "speech.wav"): string {
  const out = join(dir, name);
  run("flite", ["-voice", "slt", "-t", text, "-o", out]);
  return out;
}

/** Splits bytes into chunks of `size` (default: one chunk) as an async stream. */
export async function* bytesOf(b: Uint8Array, size = b.length || 1): AsyncGenerator<Uint8Array> {
  for (let o = 0; o < b.length; o += size) {
    await Promise.resolve(); // a real stream yields between chunks
    yield b.subarray(o, Math.min(b.length, o + size));
  }
}

export async function* fileBytes(path: string, size = 64 * 1024): AsyncGenerator<Uint8Array> {
  yield* bytesOf(readFileSync(path), size);
}

export async function collectPlanar(chunks: AsyncIterable<PlanarChunk>): Promise<Float32Array[]> {
  const parts: PlanarChunk[] = [];
  for await (const c of chunks) parts.push(c);
  const channels = parts[0]?.length ?? 0;
  return Array.from({ length: channels }, (_, ch) => concat(parts.map((p) => p[ch]!)));
}

export async function collectMono(pcm: AsyncIterable<Float32Array>): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for await (const c of pcm) parts.push(c);
  return concat(parts);
}

export function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Awaits a promise (or drains an iterable) and asserts it fails with a VaultError of `code`. */
export async function expectCode(
  work: Promise<unknown> | (() => Promise<unknown>),
  code: ErrorCode,
): Promise<void> {
  let err: unknown = null;
  try {
    await (typeof work === "function" ? work() : work);
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}`).not.toBeNull();
  if (!isVaultError(err, code)) throw err;
}

/** Reads a float or s16 WAV the simple way (reference data from sox). */
export function readWavSimple(path: string): { rate: number; channels: number; data: Float32Array } {
  const b = readFileSync(path);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let o = 12;
  let tag = 1;
  let channels = 1;
  let rate = 0;
  let bits = 16;
  for (;;) {
    const id = b.toString("latin1", o, o + 4);
    const size = dv.getUint32(o + 4, true);
    if (id === "fmt ") {
      tag = dv.getUint16(o + 8, true);
      channels = dv.getUint16(o + 10, true);
      rate = dv.getUint32(o + 12, true);
      bits = dv.getUint16(o + 22, true);
      if (tag === 0xfffe) tag = dv.getUint16(o + 32, true);
    }
    if (id === "data") {
      const n = size / (bits / 8);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        data[i] = tag === 3 ? dv.getFloat32(o + 8 + 4 * i, true) : dv.getInt16(o + 8 + 2 * i, true) / 32768;
      }
      return { rate, channels, data };
    }
    o += 8 + size + (size & 1);
  }
}

/** 10*log10(signal / error) over the overlap, skipping `edge` samples at each end. */
export function snrDb(test: Float32Array, ref: Float32Array, edge = 0): number {
  let s = 0;
  let e = 0;
  const n = Math.min(test.length, ref.length);
  for (let i = edge; i < n - edge; i++) {
    s += ref[i]! ** 2;
    e += (test[i]! - ref[i]!) ** 2;
  }
  return 10 * Math.log10(s / e);
}

export function rms(x: Float32Array, from = 0, to = x.length): number {
  let e = 0;
  for (let i = from; i < to; i++) e += x[i]! ** 2;
  return Math.sqrt(e / Math.max(1, to - from));
}

/**
 * Compiles `entries` (repository paths of .ts files) with tsc (no type check) into a temp dir with
 * a node_modules link, so tests can run a worker the way dist/ runs it. Cached per hash of the
 * sources under `dirs` and per checkout; returns the build's root.
 */
function compiled(name: string, entries: readonly string[], dirs: readonly string[]): string {
  const h = createHash("sha256");
  for (const d of dirs) {
    for (const f of readdirSync(join(REPO, d), { recursive: true, encoding: "utf8" }).sort()) {
      if (f.endsWith(".ts") || f.endsWith(".wat")) h.update(f).update(readFileSync(join(REPO, d, f)));
    }
  }
  h.update(readFileSync(join(REPO, "src/errors.ts")));
  // and per checkout: the build links to this checkout's node_modules, which another checkout
  // (a worktree, a clone removed since) must not lend it
  h.update(REPO);
  const root = join(tmpdir(), `voxvault-${name}-build-${h.digest("hex").slice(0, 16)}`);
  if (!existsSync(join(root, "node_modules"))) {
    // Build aside, then rename into place: parallel test files may race here.
    const work = mkdtempSync(`${root}-tmp-`);
    execFileSync(
      process.execPath,
      [join(REPO, "node_modules/typescript/bin/tsc"), "--noCheck", "--skipLibCheck", "--outDir", work]
        .concat(["--module", "NodeNext", "--moduleResolution", "NodeNext", "--target", "ES2022"])
        .concat(["--rootDir", REPO, ...entries.map((e) => join(REPO, e))]),
      { cwd: REPO, stdio: "pipe" },
    );
    symlinkSync(join(REPO, "node_modules"), join(work, "node_modules"));
    try {
      renameSync(work, root);
    } catch {
      rmSync(work, { recursive: true, force: true }); // another file won the race
    }
  }
  return root;
}

/** The decode entry and its worker, compiled (see {@link compiled}). */
export function compiledDecode(): { root: string; workerUrl: URL; indexUrl: URL } {
  const root = compiled(
    "decode",
    ["src/audio/decode/index.ts", "src/audio/decode/worker.ts"],
    ["src/audio/decode", "src/audio/pcm"],
  );
  return {
    root,
    workerUrl: pathToFileURL(join(root, "src/audio/decode/worker.js")),
    indexUrl: pathToFileURL(join(root, "src/audio/decode/index.js")),
  };
}

/** The ingest's analysis worker (src/ingest/analysis-worker.ts), compiled. */
export function compiledAnalysisWorker(): URL {
  const root = compiled(
    "analysis",
    ["src/ingest/analysis-worker.ts"],
    ["src/audio/features", "src/audio/pcm", "src/ingest"],
  );
  return pathToFileURL(join(root, "src/ingest/analysis-worker.js"));
}
