/**
 * Analysis worker: runs the analysis front end (front-end.ts: loudness, channel choice or
 * downmix, resampling to 16 kHz, voice statistics, quality) on its own thread, while the ingest's
 * thread runs the frame-level features on the 16 kHz output. One recording at a time; each "init"
 * starts a new front end, and the host keeps the thread warm between recordings. Input is decoded PCM, never
 * encoded bytes: untrusted containers and codecs stay in the decoder's sandbox
 * (src/audio/decode/worker.ts).
 *
 * The host imports this module too (so every build that includes the host emits it); it only
 * starts serving when loaded as the analysis worker.
 */
import { isMainThread, parentPort, workerData, type MessagePort } from "node:worker_threads";
import { isVaultError, type ErrorCode } from "../errors.js";
import { FrontEnd, type FrontEndOptions, type FrontEndResult } from "./front-end.js";

export const ANALYSIS_WORKER_TAG = "voxvault-analysis-worker";

export type ToAnalysis =
  | { readonly type: "init"; readonly options: FrontEndOptions }
  | { readonly type: "chunk"; readonly planar: Float32Array[] }
  | { readonly type: "end" };

export type FromAnalysis =
  | { readonly type: "mono"; readonly pcm: Float32Array }
  | { readonly type: "done"; readonly tail: Float32Array; readonly result: FrontEndResult }
  | {
      readonly type: "error";
      readonly code: ErrorCode;
      readonly message: string;
      readonly details?: Readonly<Record<string, string | number | boolean>> | undefined;
    };

/**
 * An array whose buffer can be transferred without detaching anything else: the array itself
 * when it spans its whole (non-empty) buffer, else a copy of just its samples. An empty array is
 * always copied: a detached buffer reads as empty, and posting one in a transfer list lost the
 * message (measured: the reply never came).
 */
export function ownBuffer(a: Float32Array): Float32Array {
  return a.byteLength > 0 && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : a.slice();
}

function serve(port: MessagePort): void {
  let frontEnd: FrontEnd | null = null;
  let failed = false;
  port.on("message", (m: ToAnalysis) => {
    if (failed) return;
    try {
      if (m.type === "init") {
        frontEnd = new FrontEnd(m.options);
        return;
      }
      if (!frontEnd) throw new Error("analysis worker not initialised");
      if (m.type === "chunk") {
        const pcm = ownBuffer(frontEnd.push(m.planar));
        port.postMessage({ type: "mono", pcm } satisfies FromAnalysis, [pcm.buffer as ArrayBuffer]);
      } else {
        const { tail, result } = frontEnd.end();
        const own = ownBuffer(tail);
        port.postMessage({ type: "done", tail: own, result } satisfies FromAnalysis, [
          own.buffer as ArrayBuffer,
        ]);
      }
    } catch (e) {
      failed = true;
      // Only the vault's own errors carry a code and a message fit for the caller.
      const reply: FromAnalysis = isVaultError(e)
        ? { type: "error", code: e.code, message: e.message, details: e.details }
        : { type: "error", code: "INTERNAL", message: "analysis failed" };
      port.postMessage(reply);
    }
  });
}

if (!isMainThread && parentPort && workerData === ANALYSIS_WORKER_TAG) serve(parentPort);
