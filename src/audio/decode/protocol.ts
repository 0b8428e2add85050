/** Messages between the decoding host (main thread) and the decoder worker. */

export type WorkerCodec = "flac" | "mp3" | "opus" | "vorbis" | "aac" | "amr_nb" | "amr_wb";

export interface InitMessage {
  readonly type: "init";
  readonly codec: WorkerCodec;
  /** Channels the host expects per chunk. */
  readonly channels: number;
  readonly sampleRate: number;
  /** The worker stops with TOO_LONG once it has decoded more frames than this. */
  readonly maxFrames: number;
  /** Codec configuration carried out of band (AAC: the AudioSpecificConfig). */
  readonly config?: Uint8Array;
}

export interface DataMessage {
  readonly type: "data";
  readonly bytes: Uint8Array;
  /** Lengths of the access units packed in `bytes`, for codecs fed whole frames (AAC). */
  readonly frames?: readonly number[];
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

/** Sent once, before the init ack: what the decoder will yield (AAC with SBR doubles the rate). */
export interface FormatMessage {
  readonly type: "format";
  readonly sampleRate: number;
  readonly channels: number;
}

export type FromWorker = PcmMessage | AckMessage | ErrorMessage | FormatMessage;
