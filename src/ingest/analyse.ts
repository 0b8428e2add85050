/**
 * One streaming pass over a recording: decode (time-bounded), then the analysis front end
 * (front-end.ts: loudness and true peak on the original signal, where BS.1770 defines them;
 * channel choice or downmix; resampling to 16 kHz; voice statistics), then the shared feature
 * pipeline and the embedder session on the 16 kHz mono stream. The front end runs on a worker
 * thread when its compiled script is there (analysis-thread.ts), so decoding, front end and
 * features overlap on the machine's cores; the results are the same either way. Optional sinks
 * receive the 16 kHz PCM and the fbank frames for reconstructable derivations; decoded audio
 * never touches the disk here.
 */
import { decodeAudio, type AudioInfo, type DecodeLimits } from "../audio/decode/index.js";
import {
  MIN_SPEECH_SEC,
  FeaturePipeline,
  type FeatureFrames,
  type FeaturePipelineOptions,
  type FeatureReport,
  type LoudnessResult,
} from "../audio/features/index.js";
import { VaultError } from "../errors.js";
import type { EmbedderPort } from "./embedder-port.js";
import { diarise, DiarisationStream, type Diarisation, type DiariseOptions } from "../diarise/index.js";
import {
  AHEAD,
  defaultAnalysisWorkerUrl,
  inlineFrontEnd,
  threadFrontEnd,
  type FrontEndPort,
} from "./analysis-thread.js";
import { checkChannel, PCM_RATE } from "./front-end.js";

export { PCM_RATE };

/**
 * Ten minutes: an interview that has not reached its minimum speech (1 s by default) by then is
 * not an interview. At the measured analysis speed that bounds the cost of a silent or noise-only
 * recording to a few seconds of CPU, whatever its length (docs/audio-input.md).
 */
export const SPEECH_SEARCH_SEC = 600;

export interface AnalysisSinks {
  /** 16 kHz mono PCM as produced (float, [-1, 1]). */
  readonly pcm?: (chunk: Float32Array) => Promise<void>;
  /** Fbank frames as produced (row-major float32). */
  readonly frames?: (frames: FeatureFrames) => Promise<void>;
}

export interface AnalyseOptions {
  readonly limits?: Partial<DecodeLimits> | undefined;
  readonly workerUrl?: URL | undefined;
  readonly ffmpegFallback?: boolean | undefined;
  /** Decode with ffmpeg instead of the WebAssembly decoders (DecodeOptions.native). */
  readonly native?: boolean | undefined;
  readonly embedder?: EmbedderPort | undefined;
  readonly minSpeechSec?: number | undefined;
  /**
   * Gives up with NO_SPEECH once this many seconds of audio held less than minSpeechSec of
   * speech (default SPEECH_SEARCH_SEC), so hours of silence or noise cost a bounded CPU time.
   */
  readonly speechSearchSec?: number | undefined;
  readonly sinks?: AnalysisSinks | undefined;
  /**
   * Who spoke when (src/diarise), with the embedder's window projection; left out when the
   * embedder has none (ONNX models) or no embedder is given.
   */
  readonly diarise?: DiariseOptions | boolean | undefined;
  /**
   * Analyse one channel only, 0-based, instead of the channel mean: recorders that put each party
   * on its own channel give the contractor's voice alone. Loudness is still measured on all.
   */
  readonly channel?: number | undefined;
  /** Audio track of a multi-track container, 0-based (default the first). */
  readonly audioTrack?: number | undefined;
  /**
   * Where the analysis front end runs: the compiled worker script at this URL, or this thread
   * (false). Default: the worker next to the compiled module when it is there, else this thread.
   */
  readonly analysisWorkerUrl?: URL | false | undefined;
  /** Called with the input seconds analysed so far and the duration the header declares, if any. */
  readonly onProgress?: ((seconds: number, totalSec: number | undefined) => void) | undefined;
}

export interface Analysis {
  readonly info: AudioInfo;
  readonly report: FeatureReport;
  readonly loudness: LoudnessResult;
  /** The unprotected embedding: in memory only; the caller protects and wipes it. */
  readonly embedding: Float32Array | undefined;
  /** Speakers and segments when diarisation ran; the caller wipes it. */
  readonly diarisation?: Diarisation | undefined;
}

export async function analyseRecording(
  source: AsyncIterable<Uint8Array>,
  options: AnalyseOptions = {},
): Promise<Analysis> {
  const decoded = await decodeAudio(source, {
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.workerUrl ? { workerUrl: options.workerUrl } : {}),
    ...(options.ffmpegFallback ? { ffmpegFallback: true } : {}),
    ...(options.native ? { native: true } : {}),
    ...(options.audioTrack !== undefined ? { audioTrack: options.audioTrack } : {}),
  });
  const { info } = decoded;
  const channel = options.channel;
  try {
    checkChannel(channel, info.channels);
  } catch (e) {
    // the decoder holds the input open: release it before refusing
    await decoded.chunks[Symbol.asyncIterator]().return?.();
    throw e;
  }
  const session = options.embedder?.createSession();
  const pending: FeatureFrames[] = [];
  const win = options.diarise ? options.embedder?.windows : undefined;
  const speakers = win ? new DiarisationStream(win.numCeps, (s) => win.project(s)) : undefined;
  const features: FeaturePipelineOptions = options.embedder?.features ?? {};
  const pipeline = new FeaturePipeline({
    ...features,
    externalPcmStats: true,
    ...(options.minSpeechSec !== undefined ? { speech: { minSpeechSec: options.minSpeechSec } } : {}),
    onFrames: (f) => {
      session?.push(f);
      speakers?.push(f);
      if (options.sinks?.frames) pending.push(f);
    },
  });
  if (speakers) {
    pipeline.onSpeechDecision((frame, speech) => {
      speakers.decide(frame, speech);
    });
  }
  let inputSamples = 0;
  const searchSec = options.speechSearchSec ?? SPEECH_SEARCH_SEC;
  const minSpeech = options.minSpeechSec ?? MIN_SPEECH_SEC;
  /** Refuses early once the search window holds too little speech. */
  const checkSpeechFound = (): void => {
    const p = pipeline.speechProgress();
    if (p.decidedSec >= searchSec && p.speechSec < minSpeech) {
      throw new VaultError("NO_SPEECH", `no speech in the first ${Math.round(searchSec)} s of audio`, {
        details: { searchedSec: Math.round(p.decidedSec), speechSec: Math.round(p.speechSec * 1000) / 1000 },
      });
    }
  };

  const feed = async (mono: Float32Array): Promise<void> => {
    if (mono.length === 0) return;
    pipeline.push(mono);
    // Bounds queued asynchronous embedder work (ONNX windows) to what one push produces.
    if (session) await session.drain();
    if (options.sinks?.pcm) await options.sinks.pcm(mono);
    while (pending.length > 0) await options.sinks!.frames!(pending.shift()!);
  };

  const workerUrl =
    options.analysisWorkerUrl === false
      ? undefined
      : (options.analysisWorkerUrl ?? defaultAnalysisWorkerUrl());
  const frontEndOptions = {
    sampleRate: info.sampleRate,
    channels: info.channels,
    channel,
    voice: features.voice,
    quality: features.quality,
  };
  let frontEnd: FrontEndPort;
  try {
    frontEnd = workerUrl ? threadFrontEnd(frontEndOptions, workerUrl) : inlineFrontEnd(frontEndOptions);
  } catch (e) {
    await decoded.chunks[Symbol.asyncIterator]().return?.();
    throw e;
  }
  /** Input frames of each chunk in flight, for progress. */
  const sentFrames: number[] = [];
  const take = async (): Promise<void> => {
    await feed(await frontEnd.next());
    inputSamples += sentFrames.shift() ?? 0;
    options.onProgress?.(inputSamples / info.sampleRate, info.declaredDurationSec);
    checkSpeechFound();
  };

  try {
    // A chunk whose channel count differs from the header's is refused by decodeAudio's guard
    // (and by the front end), so none is checked here.
    for await (const planar of decoded.chunks) {
      sentFrames.push(planar[0]?.length ?? 0);
      frontEnd.send(planar);
      // Chunk k's front end runs on its thread while this one analyses chunk k − 1.
      if (frontEnd.inFlight >= AHEAD) await take();
    }
    while (frontEnd.inFlight > 0) await take();
    const { tail, result } = await frontEnd.end();
    await feed(tail);
    const { loudness, voice, quality } = result;
    const report = pipeline.finish({ voice, quality });
    let diarisation: Diarisation | undefined;
    if (speakers) {
      const frames = speakers.finish();
      try {
        diarisation = diarise(frames, typeof options.diarise === "object" ? options.diarise : {});
      } finally {
        frames.wipe();
      }
    }
    let embedding: Float32Array | undefined;
    try {
      if (session && report.enoughSpeech) embedding = await session.finish(report);
      else session?.abort();
    } catch (e) {
      diarisation?.wipe();
      throw e;
    }
    return { info, report, loudness, embedding, diarisation };
  } catch (e) {
    session?.abort();
    speakers?.abort();
    throw e;
  } finally {
    await frontEnd.close();
  }
}
