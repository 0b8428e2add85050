/**
 * Decoder worker: runs one WASM decoder on the pieces the host sends, one request at a time, and
 * answers each with its PCM (buffers transferred) followed by an ack. The host enforces the time
 * budget by terminating this thread; nothing here needs to cooperate for that.
 *
 * The host imports this module too (so every build that includes the host emits it); it only
 * starts serving when loaded as the decoder worker.
 */
import { isMainThread, parentPort, workerData, type MessagePort } from "node:worker_threads";
import type { CodecAdapter, DecodedBlock } from "./codecs.js";
import type { ErrorMessage, FromWorker, InitMessage, ToWorker } from "./protocol.js";

export const WORKER_TAG = "voxvault-decode-worker";

class Failure extends Error {
  constructor(
    readonly code: ErrorMessage["code"],
    message: string,
  ) {
    super(message);
  }
}

/**
 * Largest |sample| a lossy decoder may yield: 16 = +24 dBFS. Real encodes overshoot full scale
 * by a few dB at most (clipped masters, Gibbs ringing); frames whose payload is noise (damaged
 * or forged streams with valid headers, which MP3 cannot detect: it has no payload checksum)
 * decode to levels 40–140 dB over full scale through their random gains.
 */
export const LOSSY_MAX_ABS = 16;

function checkLevels(chans: readonly Float32Array[]): void {
  for (const c of chans) {
    // An indexed loop: for-of over a Float32Array measured 5× slower here (node 20).
    // eslint-disable-next-line @typescript-eslint/prefer-for-of
    for (let i = 0; i < c.length; i++) {
      const v = c[i]!;
      if (!(v >= -LOSSY_MAX_ABS && v <= LOSSY_MAX_ABS))
        throw new Failure("CORRUPT_AUDIO", "decoded samples far beyond full scale: damaged stream");
    }
  }
}

async function decodeChecked(
  codec: CodecAdapter,
  bytes: Uint8Array,
  frames: readonly number[] | undefined,
): Promise<DecodedBlock> {
  try {
    return await codec.decode(bytes, frames);
  } catch (e) {
    // Only the adapters' own checks carry a message fit for the caller.
    const { CodecFailure } = await import("./codecs.js");
    if (e instanceof CodecFailure) throw new Failure("CORRUPT_AUDIO", e.message);
    throw e;
  }
}

function serve(port: MessagePort): void {
  // The WASM decoders log frame errors to the console: keep input-derived text out of the logs.
  const silent = (): void => undefined;
  Object.assign(console, { error: silent, warn: silent, log: silent });

  let init: InitMessage | null = null;
  /** Output rate and channels: the init message's, or what the decoder reported (AAC). */
  let format = { sampleRate: 0, channels: 0 };
  let codec: CodecAdapter | null = null;
  let frames = 0;
  let failed = false;
  let queue: Promise<void> = Promise.resolve();

  const post = (m: FromWorker, transfer: ArrayBuffer[] = []): void => {
    port.postMessage(m, transfer);
  };

  const emit = (d: DecodedBlock): void => {
    if (d.errors.length > 0) throw new Failure("CORRUPT_AUDIO", "decoder reported damaged frames");
    const n = d.samplesDecoded;
    if (n === 0 || !init) return;
    if (d.sampleRate !== format.sampleRate)
      throw new Failure("CORRUPT_AUDIO", "sample rate changed mid-stream");
    let chans = d.channelData.map((c) => (c.length === n ? c : c.subarray(0, n)));
    // mpg123 always yields two channels; a mono stream's second one is a copy.
    if (init.codec === "mp3" && init.channels === 1 && chans.length === 2) chans = [chans[0]!];
    if (chans.length !== format.channels)
      throw new Failure("CORRUPT_AUDIO", "channel count changed mid-stream");
    if (init.codec !== "flac") checkLevels(chans);
    frames += n;
    if (frames > (init.maxFrames * format.sampleRate) / init.sampleRate)
      throw new Failure("TOO_LONG", "audio exceeds the duration limit");
    const buffers = new Set<ArrayBuffer>();
    for (const c of chans) buffers.add(c.buffer as ArrayBuffer);
    post({ type: "pcm", channels: chans }, [...buffers]);
  };

  const handle = async (m: ToWorker): Promise<void> => {
    if (failed) return;
    switch (m.type) {
      case "init": {
        init = m;
        const { createCodec, CodecFailure } = await import("./codecs.js");
        try {
          codec = createCodec(m.codec, m);
          await codec.ready;
          format = codec.format ? codec.format() : { sampleRate: m.sampleRate, channels: m.channels };
        } catch (e) {
          if (e instanceof CodecFailure) throw new Failure("CORRUPT_AUDIO", e.message);
          throw e;
        }
        post({ type: "format", ...format });
        break;
      }
      case "data":
        if (!codec) throw new Failure("INTERNAL", "decoder not initialised");
        emit(await decodeChecked(codec, m.bytes, m.frames));
        break;
      case "end":
        if (!codec) throw new Failure("INTERNAL", "decoder not initialised");
        emit(await codec.flush());
        codec.free();
        codec = null;
        break;
    }
    post({ type: "ack" });
  };

  port.on("message", (m: ToWorker) => {
    queue = queue
      .then(() => handle(m))
      .catch((e: unknown) => {
        failed = true;
        const code = e instanceof Failure ? e.code : "CORRUPT_AUDIO";
        const message = e instanceof Failure ? e.message : "decoder failed on this input";
        post({ type: "error", code, message });
      });
  });
}

if (!isMainThread && parentPort && workerData === WORKER_TAG) serve(parentPort);
