/**
 * The analysis front end (front-end.ts) behind one interface, run either on this thread or on a
 * worker thread (analysis-worker.ts). On a worker, the front end of chunk k (loudness, downmix,
 * resampling, pitch) runs while this thread computes the features of chunk k − 1, so one
 * recording's analysis uses two cores (docs/audio-input.md, "Two analysis threads"). Both forms
 * run the same code on the same samples in the same order, so they give identical results.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { VaultError } from "../errors.js";
import { FrontEnd, type FrontEndOptions, type FrontEndResult } from "./front-end.js";
// Imported (a no-op on this thread) so that every compilation including the host emits the worker.
import { ANALYSIS_WORKER_TAG, ownBuffer, type FromAnalysis, type ToAnalysis } from "./analysis-worker.js";

/** Chunks sent ahead of the one being analysed here: enough to keep both threads busy. */
export const AHEAD = 2;

export interface FrontEndPort {
  /** Whether this front end runs on the analysis worker (false: on this thread). */
  readonly onWorker: boolean;
  /** Hands over one planar chunk (its buffers may be transferred: do not use them afterwards). */
  send(planar: readonly Float32Array[]): void;
  /** Chunks sent whose output has not been taken. */
  readonly inFlight: number;
  /** The 16 kHz mono output of the oldest chunk in flight. */
  next(): Promise<Float32Array>;
  /** Ends the stream (every output taken first): the last samples and the results. */
  end(): Promise<{ readonly tail: Float32Array; readonly result: FrontEndResult }>;
  /** Releases the thread; safe to call at any point, and more than once. */
  close(): Promise<void>;
}

/** The compiled worker next to this module (dist/ingest/analysis-worker.js), if it is there. */
export function defaultAnalysisWorkerUrl(): URL | undefined {
  const url = new URL("./analysis-worker.js", import.meta.url);
  return url.protocol === "file:" && existsSync(fileURLToPath(url)) ? url : undefined;
}

/** The front end on this thread. */
export function inlineFrontEnd(options: FrontEndOptions): FrontEndPort {
  const frontEnd = new FrontEnd(options);
  const out: Float32Array[] = [];
  return {
    onWorker: false,
    send(planar) {
      out.push(frontEnd.push(planar));
    },
    get inFlight() {
      return out.length;
    },
    next() {
      const o = out.shift();
      return o === undefined
        ? Promise.reject(new VaultError("INTERNAL", "front end: nothing in flight"))
        : Promise.resolve(o);
    },
    end() {
      return Promise.resolve(frontEnd.end());
    },
    close: () => Promise.resolve(),
  };
}

/**
 * The process keeps one analysis worker warm between recordings: a new thread costs its start-up
 * and, worse, a cold JIT for the pitch tracker and the resampler (measured: ~0.27 s of CPU per
 * 40 s recording when every ingest started its own). Held while a recording uses it; kept,
 * unreferenced (it never keeps the process alive), once the recording ends cleanly; terminated
 * when a recording stops early or fails, so a reused worker never holds another one's state.
 */
let warm: { readonly url: string; readonly worker: Worker } | null = null;
/** Whether a recording is using the worker: others meanwhile run their front end inline. */
let inUse = false;

function startWorker(url: URL): Worker {
  const w = new Worker(url, {
    workerData: ANALYSIS_WORKER_TAG,
    execArgv: [],
    resourceLimits: { maxOldGenerationSizeMb: 128, maxYoungGenerationSizeMb: 32 },
  });
  // A warm worker that dies while idle is forgotten, never handed out.
  w.on("exit", () => {
    if (warm?.worker === w) warm = null;
  });
  return w;
}

/**
 * The front end on the process's analysis worker (started from `url` if none is warm), or on this
 * thread when another recording of this process is using the worker: two recordings analysed at
 * once already use two cores, and more threads than cores only add switching.
 */
export function threadFrontEnd(options: FrontEndOptions, url: URL): FrontEndPort {
  if (inUse) return inlineFrontEnd(options);
  inUse = true;
  let worker: Worker;
  if (warm !== null && warm.url === url.href) {
    worker = warm.worker;
  } else {
    void warm?.worker.terminate();
    worker = startWorker(url);
  }
  warm = null;
  worker.ref();
  const inbox: FromAnalysis[] = [];
  let failure: VaultError | null = null;
  let wake: (() => void) | null = null;
  let sent = 0;
  let taken = 0;
  let closed = false;
  const poke = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  const onMessage = (m: FromAnalysis): void => {
    inbox.push(m);
    poke();
  };
  const onError = (e: unknown): void => {
    failure ??= new VaultError("INTERNAL", "analysis thread failed", { cause: e });
    poke();
  };
  const onExit = (): void => {
    failure ??= new VaultError("INTERNAL", "analysis thread exited unexpectedly");
    poke();
  };
  worker.on("message", onMessage);
  worker.on("error", onError);
  worker.on("exit", onExit);
  const detach = (): void => {
    worker.off("message", onMessage);
    worker.off("error", onError);
    worker.off("exit", onExit);
    inUse = false;
  };
  const post = (m: ToAnalysis, transfer: ArrayBuffer[] = []): void => {
    if (closed) throw new VaultError("INTERNAL", "front end: used after close");
    worker.postMessage(m, transfer);
  };
  /** The next reply, in order; a reported error becomes the vault error it was. */
  const receive = async (): Promise<FromAnalysis> => {
    for (;;) {
      const m = inbox.shift();
      if (m !== undefined) {
        if (m.type === "error") {
          failure = new VaultError(m.code, m.message, m.details ? { details: { ...m.details } } : undefined);
          throw failure;
        }
        return m;
      }
      if (failure) throw failure;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  };
  /** Stops early or after a failure: the worker goes, with whatever it was doing. */
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    detach();
    await worker.terminate();
  };
  post({ type: "init", options });
  return {
    onWorker: true,
    send(planar) {
      const own = planar.map(ownBuffer);
      // Channels of one chunk may share a buffer: transfer each buffer once.
      post({ type: "chunk", planar: own }, [...new Set(own.map((c) => c.buffer as ArrayBuffer))]);
      sent++;
    },
    get inFlight() {
      return sent - taken;
    },
    async next() {
      if (sent === taken) throw new VaultError("INTERNAL", "front end: nothing in flight");
      const m = await receive();
      if (m.type !== "mono" || !(m.pcm instanceof Float32Array)) {
        throw new VaultError("INTERNAL", "analysis thread sent a malformed reply");
      }
      taken++;
      return m.pcm;
    },
    async end() {
      if (sent !== taken) throw new VaultError("INTERNAL", "front end: output not taken");
      post({ type: "end" });
      const m = await receive();
      if (m.type !== "done" || !(m.tail instanceof Float32Array)) {
        throw new VaultError("INTERNAL", "analysis thread sent a malformed reply");
      }
      // A clean end: nothing of this recording is left in the worker, which stays warm.
      closed = true;
      detach();
      worker.unref();
      warm = { url: url.href, worker };
      return { tail: m.tail, result: m.result };
    },
    close,
  };
}

/** The warm worker, if any: for tests and diagnostics. */
export function warmAnalysisWorker(): Worker | null {
  return warm?.worker ?? null;
}

/** Ends the warm worker, if any (tests; a process exits with it anyway, as it is unreferenced). */
export async function releaseAnalysisWorker(): Promise<void> {
  const w = warm;
  warm = null;
  await w?.worker.terminate();
}
