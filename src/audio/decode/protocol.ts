/** Messages between the decoding host (main thread) and the decoder worker. */

export type WorkerCodec = "flac" | "mp3" | "opus" | "vorbis";

export interface InitMessage {
  readonly type: "init";
  readonly codec: WorkerCodec;
  /** Channels the host expects per chunk. */
  readonly channels: number;
  readonly sampleRate: number;
  /** The worker stops with TOO_LONG once it has decoded more frames than this. */
  readonly maxFrames: number;
}

export interface DataMessage {
  readonly type: "data";
  readonly bytes: Uint8Array;
}

export interface EndMessage {
  readonly type: "end";
}

export type ToWorker = InitMessage | DataMessage | EndMessage;

export interface PcmMessage {
  readonly type: "pcm";
  readonly channels: Float32Array[];
}

/** Sent after the last pcm message of each request. */
export interface AckMessage {
  readonly type: "ack";
}

export interface ErrorMessage {
  readonly type: "error";
  readonly code: "CORRUPT_AUDIO" | "TOO_LONG" | "UNSUPPORTED_FORMAT" | "INTERNAL";
  readonly message: string;
}

export type FromWorker = PcmMessage | AckMessage | ErrorMessage;
