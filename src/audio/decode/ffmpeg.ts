import { spawn } from "node:child_process";
import type { Readable } from "node:stream";
import { VaultError } from "../../errors.js";
import { ByteReader } from "../pcm/byte-reader.js";
import type { AudioInfo, DecodeLimits, PlanarChunk } from "../pcm/types.js";
import { readWavHeader, wavChunks, type WavHeader } from "../pcm/wav.js";

const MiB = 1024 * 1024;

/**
 * Optional fallback for containers without a native decoder: pipes the input through `ffmpeg`
 * (which must be on PATH) and parses its float WAV output with the strict WAV parser. Never
 * used unless the caller opts in. Time-bounded like the worker path: only time spent waiting
 * for ffmpeg counts; on expiry ffmpeg is killed and DECODE_TIMEOUT raised. PCM stays in pipes.
 */
export interface FfmpegInput {
  /** Force ffmpeg's demuxer (e.g. "aac" for an ADTS stream we made, "amr"); default: probe. */
  readonly format?: string | undefined;
  /** Audio track, 0-based among the input's audio streams (default 0). */
  readonly audioTrack?: number | undefined;
}

export async function openWithFfmpeg(
  input: ByteReader,
  limits: DecodeLimits,
  ffmpegPath = "ffmpeg",
  how: FfmpegInput = {},
): Promise<{ info: AudioInfo; chunks: AsyncIterable<PlanarChunk>; abort: () => void }> {
  const child = spawn(
    ffmpegPath,
    ["-hide_banner", "-nostdin", "-loglevel", "error", "-threads", "1"]
      .concat(how.format ? ["-f", how.format] : [])
      .concat(["-i", "pipe:0", "-map", `0:a:${how.audioTrack ?? 0}`, "-vn"])
      .concat(["-f", "wav", "-c:a", "pcm_f32le", "pipe:1"]),
    { stdio: ["pipe", "pipe", "ignore"] },
  );
  let spawnError: unknown = null;
  child.on("error", (e) => {
    spawnError = e;
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on("close", (code) => {
      resolve(code);
    });
  });
  let pumpError: VaultError | null = null;
  let bytesIn = 0;
  const stdin = child.stdin;
  // Resolves on drain, or when ffmpeg is gone (a killed child never drains).
  const writable = (): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        for (const ev of ["drain", "close", "error"]) stdin.off(ev, done);
        resolve();
      };
      for (const ev of ["drain", "close", "error"]) stdin.on(ev, done);
    });
  const pump = (async () => {
    try {
      for (;;) {
        const b = await input.readSome(64 * 1024);
        if (!b || stdin.destroyed) break;
        bytesIn += b.length;
        if (!stdin.write(b)) await writable();
      }
    } catch (e) {
      // EPIPE when ffmpeg gives up early is reported through its exit code instead.
      if (e instanceof VaultError) {
        pumpError = e;
        child.kill("SIGKILL");
      }
    } finally {
      stdin.end();
    }
  })();
  stdin.on("error", () => undefined);

  let usedMs = 0;
  let framesOut = 0;
  let rate = 1;
  const budget = (): number =>
    limits.decodeFloorMs +
    (limits.decodeMsPerMiB * bytesIn) / MiB +
    (limits.decodeMsPerAudioSec * framesOut) / rate;
  const timed = async <T>(p: Promise<T>): Promise<T> => {
    const started = performance.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => {
          child.kill("SIGKILL");
          reject(new VaultError("DECODE_TIMEOUT", "decoding exceeded its time budget"));
        },
        Math.max(0, budget() - usedMs),
      );
    });
    p.catch(() => undefined);
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
      usedMs += performance.now() - started;
    }
  };
  const fail = async (e: unknown): Promise<never> => {
    child.kill("SIGKILL");
    await pump;
    if (spawnError) throw new VaultError("UNSUPPORTED_FORMAT", "ffmpeg fallback is not available");
    if (pumpError) throw pumpError;
    throw e;
  };

  const out = new ByteReader(child.stdout as Readable & AsyncIterable<Uint8Array>, Number.MAX_SAFE_INTEGER);
  let header: WavHeader;
  try {
    header = await timed(readWavHeader(out));
  } catch (e) {
    return fail(
      e instanceof VaultError && e.code === "DECODE_TIMEOUT"
        ? e
        : new VaultError("UNSUPPORTED_FORMAT", "ffmpeg could not decode this input"),
    );
  }
  rate = header.info.sampleRate;
  const info: AudioInfo = { ...header.info, container: "ffmpeg" };
  async function* chunks(): AsyncGenerator<PlanarChunk, void, undefined> {
    const it = wavChunks(out, header)[Symbol.asyncIterator]();
    try {
      for (;;) {
        const r = await timed(it.next());
        if (r.done === true) break;
        framesOut += r.value[0]?.length ?? 0;
        yield r.value;
      }
      const code = await timed(exited);
      await pump;
      if (pumpError) throw pumpError;
      if (code !== 0) throw new VaultError("CORRUPT_AUDIO", "ffmpeg failed while decoding");
    } catch (e) {
      await fail(e);
    } finally {
      child.kill("SIGKILL");
      await out.close();
    }
  }
  return {
    info,
    chunks: chunks(),
    abort: () => {
      child.kill("SIGKILL");
    },
  };
}

/**
 * The native fast path for a codec stream our demuxer produced: ffmpeg decodes it from a pipe
 * (`format` names its demuxer); the header facts stay our demuxer's, the rate and channels are
 * what ffmpeg outputs. Time-bounded like the fallback.
 */
export async function openNative(
  stream: AsyncIterable<Uint8Array>,
  info: AudioInfo,
  limits: DecodeLimits,
  ffmpegPath: string | undefined,
  format: string,
): Promise<{ info: AudioInfo; chunks: AsyncIterable<PlanarChunk>; abort: () => void }> {
  const o = await openWithFfmpeg(new ByteReader(stream, Number.MAX_SAFE_INTEGER), limits, ffmpegPath, {
    format,
  });
  return { ...o, info: { ...info, sampleRate: o.info.sampleRate, channels: o.info.channels } };
}
