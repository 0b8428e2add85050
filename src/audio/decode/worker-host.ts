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
 * the consumer). When the budget runs out the worker is terminated: DECODE_TIMEOUT.
 * Pipelined: while the consumer takes one piece's output, the next piece is in the worker (never
 * more than one request in flight), so at most two pieces' output is held at a time and memory
 * stays bounded whatever the input length. Chunks come out in input order; a failure of the
 * piece in flight (or of the input) surfaces after the output of the pieces before it.
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

  const timedOut = async (): Promise<VaultError> => {
    failure = new VaultError("DECODE_TIMEOUT", "decoding exceeded its time budget", {
      details: { budgetMs: Math.round(budgetMs()) },
    });
    await worker.terminate();
    return failure;
  };

  // The request in flight: when it was posted, and the worker's idle time then.
  const workerIdleMs = (): number => worker.performance.eventLoopUtilization().idle;
  let posted = { at: 0, idleMs: 0 };
  const post = (msg: ToWorker, transfer: ArrayBuffer[] = []): void => {
    posted = { at: performance.now(), idleMs: workerIdleMs() };
    worker.postMessage(msg, transfer);
  };

  /** Collects the reply to the request in flight: its chunks, up to the ack. */
  const reply = async (): Promise<PlanarChunk[]> => {
    // The request's time runs from its post to its reply. Between the post and this call we were
    // reading input or the consumer had this thread, and a reply that came meanwhile sat unread
    // (messages are only read between tasks): the worker's idle time since the post is that wait,
    // not decoding, so it is left out. (A terminated worker reads as idle 0, hence the max.)
    const started = posted.at + Math.max(0, workerIdleMs() - posted.idleMs);
    const out: PlanarChunk[] = [];
    for (;;) {
      const m = inbox.shift();
      if (m === undefined) {
        if (failure) throw failure;
        const remaining = budgetMs() - usedMs - (performance.now() - started);
        if (remaining <= 0) throw await timedOut();
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
        // A reply that came while the consumer had this thread was never waited for, so no timer
        // checked it: it is over budget if it took longer than the budget had left.
        if (usedMs > budgetMs()) throw await timedOut();
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
    post({
      type: "init",
      codec: o.codec,
      channels: info.channels,
      sampleRate: info.sampleRate,
      maxFrames: Math.floor(limits.maxDurationSec * info.sampleRate),
      ...(o.config ? { config: new Uint8Array(o.config) } : {}),
    });
    await reply();
  } catch (e) {
    await release();
    throw e;
  }
  // An input failure, held back until the output of the piece in flight is out (as unpipelined).
  let inputFailure = null as { error: unknown } | null;
  async function* input(): AsyncGenerator<WorkerPiece, void, undefined> {
    try {
      yield* pieces;
    } catch (error) {
      inputFailure = { error };
    }
  }
  async function* chunks(): AsyncGenerator<PlanarChunk, void, undefined> {
    try {
      let inFlight = false;
      // Each piece is read while the worker decodes the one before; that one's output is then
      // collected, this piece posted, and the output handed out while the worker decodes it.
      for await (const piece of input()) {
        const out = inFlight ? await reply() : [];
        const bytes = piece instanceof Uint8Array ? piece : piece.bytes;
        // Copy so the transfer never detaches the caller's buffer (or a larger one behind a view).
        const copy = new Uint8Array(bytes);
        bytesIn += copy.length;
        const frames = piece instanceof Uint8Array ? {} : { frames: [...piece.frames] };
        post({ type: "data", bytes: copy, ...frames }, [copy.buffer]);
        inFlight = true;
        yield* out;
      }
      const out = inFlight ? await reply() : [];
      if (inputFailure) {
        yield* out;
        throw inputFailure.error;
      }
      post({ type: "end" });
      yield* out;
      yield* await reply();
    } finally {
      // Also what an early return() comes to: the request in flight goes with the worker.
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
