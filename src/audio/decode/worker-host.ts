import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { VaultError } from "../../errors.js";
import type { AudioInfo, DecodeLimits, PlanarChunk } from "../pcm/types.js";
import type { FromWorker, ToWorker, WorkerCodec } from "./protocol.js";
// Imported (a no-op on this thread) so that every compilation including the host emits worker.js.
import { WORKER_TAG } from "./worker.js";

/** The compiled worker next to this module (dist/audio/decode/worker.js once built). */
export function defaultWorkerUrl(): URL {
  return new URL("./worker.js", import.meta.url);
}

/** One request's input: encoded bytes, or access units packed with their lengths (AAC). */
export type WorkerPiece = Uint8Array | { readonly bytes: Uint8Array; readonly frames: readonly number[] };

export interface WorkerDecodeOptions {
  readonly codec: WorkerCodec;
  /** Out-of-band codec configuration (AAC: the AudioSpecificConfig). */
  readonly config?: Uint8Array | undefined;
  readonly info: AudioInfo;
  readonly limits: DecodeLimits;
  /** Override for the worker entry (tests run the sources, which have no sibling .js). */
  readonly workerUrl?: URL | undefined;
}

const MiB = 1024 * 1024;

export interface WorkerDecode {
  /** What the decoder yields: the header's rate and channels, or the decoder's own (AAC). */
  readonly sampleRate: number;
  readonly channels: number;
  readonly chunks: AsyncGenerator<PlanarChunk, void, undefined>;
  /** Stops the worker; for a caller that gives up before iterating (a generator never started
   * does not run its finally block). */
  readonly release: () => Promise<void>;
}

/**
 * Decodes a stream of encoded pieces in a worker thread, one piece per request, under a time
 * budget of decodeFloorMs + decodeMsPerMiB per MiB sent + decodeMsPerAudioSec per second decoded.
 * Only time the worker spends on our requests counts (not time spent waiting for input or for
 * the consumer). When the budget runs out the worker is terminated: DECODE_TIMEOUT. At most one
 * piece's output is held at a time, so memory stays bounded whatever the input length.
 * The worker starts and its decoder initialises before this returns, so the output format is
 * known; the caller must iterate `chunks` (or call its return()) to release the worker.
 */
export async function openWorkerDecode(
  pieces: AsyncIterable<WorkerPiece>,
  o: WorkerDecodeOptions,
): Promise<WorkerDecode> {
  const url = o.workerUrl ?? defaultWorkerUrl();
  if (url.protocol === "file:" && !existsSync(fileURLToPath(url))) {
    throw new VaultError("INTERNAL", "decoder worker script not found (build the package)");
  }
  const worker = new Worker(url, {
    workerData: WORKER_TAG,
    execArgv: [],
    resourceLimits: { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 32 },
  });
  const inbox: FromWorker[] = [];
  let failure: VaultError | null = null;
  let wake: (() => void) | null = null;
  const poke = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  worker.on("message", (m: FromWorker) => {
    inbox.push(m);
    poke();
  });
  worker.on("error", (e: unknown) => {
    failure ??= new VaultError("CORRUPT_AUDIO", "decoder failed on this input", { cause: e });
    poke();
  });
  worker.on("exit", () => {
    failure ??= new VaultError("CORRUPT_AUDIO", "decoder exited unexpectedly");
    poke();
  });

  const { limits, info } = o;
  let bytesIn = 0;
  let framesOut = 0;
  let usedMs = 0;
  let outRate = info.sampleRate;
  let outChannels = info.channels;
  const budgetMs = (): number =>
    limits.decodeFloorMs +
    (limits.decodeMsPerMiB * bytesIn) / MiB +
    (limits.decodeMsPerAudioSec * framesOut) / outRate;

  const request = async (msg: ToWorker, transfer: ArrayBuffer[] = []): Promise<PlanarChunk[]> => {
    const started = performance.now();
    worker.postMessage(msg, transfer);
    const out: PlanarChunk[] = [];
    for (;;) {
      const m = inbox.shift();
      if (m === undefined) {
        if (failure) throw failure;
        const remaining = budgetMs() - usedMs - (performance.now() - started);
        if (remaining <= 0) {
          failure = new VaultError("DECODE_TIMEOUT", "decoding exceeded its time budget", {
            details: { budgetMs: Math.round(budgetMs()) },
          });
          await worker.terminate();
          throw failure;
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, Math.min(remaining, 2 ** 31 - 1));
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        continue;
      }
      if (m.type === "error") {
        failure = new VaultError(m.code, m.message);
        throw failure;
      }
      if (m.type === "ack") {
        usedMs += performance.now() - started;
        return out;
      }
      if (m.type === "format") {
        if (
          !Number.isInteger(m.sampleRate) ||
          !Number.isInteger(m.channels) ||
          m.sampleRate < 1 ||
          m.channels < 1
        ) {
          throw new VaultError("INTERNAL", "decoder worker sent a malformed format");
        }
        outRate = m.sampleRate;
        outChannels = m.channels;
        continue;
      }
      const chans = m.channels;
      if (!Array.isArray(chans) || !chans.every((c) => c instanceof Float32Array)) {
        throw new VaultError("INTERNAL", "decoder worker sent a malformed chunk");
      }
      framesOut += chans[0]?.length ?? 0;
      out.push(chans);
    }
  };

  const release = async (): Promise<void> => {
    worker.removeAllListeners("exit");
    await worker.terminate();
  };
  try {
    await request({
      type: "init",
      codec: o.codec,
      channels: info.channels,
      sampleRate: info.sampleRate,
      maxFrames: Math.floor(limits.maxDurationSec * info.sampleRate),
      ...(o.config ? { config: new Uint8Array(o.config) } : {}),
    });
  } catch (e) {
    await release();
    throw e;
  }
  async function* chunks(): AsyncGenerator<PlanarChunk, void, undefined> {
    try {
      for await (const piece of pieces) {
        const bytes = piece instanceof Uint8Array ? piece : piece.bytes;
        // Copy so the transfer never detaches the caller's buffer (or a larger one behind a view).
        const copy = new Uint8Array(bytes);
        bytesIn += copy.length;
        const frames = piece instanceof Uint8Array ? {} : { frames: [...piece.frames] };
        yield* await request({ type: "data", bytes: copy, ...frames }, [copy.buffer]);
      }
      yield* await request({ type: "end" });
    } finally {
      await release();
    }
  }
  return { sampleRate: outRate, channels: outChannels, chunks: chunks(), release };
}

/** The streaming form for callers whose header already fixes the output format. */
export async function* decodeInWorker(
  pieces: AsyncIterable<WorkerPiece>,
  o: WorkerDecodeOptions,
): AsyncGenerator<PlanarChunk, void, undefined> {
  const d = await openWorkerDecode(pieces, o);
  yield* d.chunks;
}
