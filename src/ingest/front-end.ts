/**
 * The analysis front end: everything the ingest computes on a recording before the frame-level
 * features. Loudness and true peak on the original signal (BS.1770 is defined there), the choice
 * of channel or the downmix, resampling to 16 kHz, and the statistics of the 16 kHz PCM alone:
 * voice statistics (pitch track and syllable nuclei) and quality (clipping, level, SNR). It is one of the two halves of the analysis: the other,
 * on the thread that owns the ingest, is the FeaturePipeline with its fbank, VAD, quality and the
 * embedder (src/ingest/analyse.ts). Browser-safe and synchronous; analysis-thread.ts runs it on a
 * worker thread so the two halves use two cores.
 */
import {
  checkSamples,
  LoudnessMeter,
  QualityAnalyzer,
  VoiceStatsAnalyzer,
  type QualityMetrics,
  type QualityOptions,
  type LoudnessResult,
  type VoiceStats,
  type VoiceStatsOptions,
} from "../audio/features/index.js";
import { downmix, Resampler } from "../audio/pcm/resample.js";
import { VaultError } from "../errors.js";

export const PCM_RATE = 16000;

export interface FrontEndOptions {
  /** The decoded signal's rate and channel count. */
  readonly sampleRate: number;
  readonly channels: number;
  /** One channel (0-based) instead of the channel mean. */
  readonly channel?: number | undefined;
  /** The voice-statistics and quality settings of the FeaturePipeline this front end feeds. */
  readonly voice?: Omit<VoiceStatsOptions, "sampleRate"> | undefined;
  readonly quality?: Omit<QualityOptions, "sampleRate"> | undefined;
}

export interface FrontEndResult {
  readonly loudness: LoudnessResult;
  readonly voice: VoiceStats;
  readonly quality: QualityMetrics;
}

/** Refuses a channel choice the recording does not have (INVALID_ARGUMENT). */
export function checkChannel(channel: number | undefined, channels: number): void {
  if (channel !== undefined && !(Number.isInteger(channel) && channel >= 0 && channel < channels)) {
    throw new VaultError(
      "INVALID_ARGUMENT",
      `channel ${channel + 1} requested; the recording has ${channels}`,
    );
  }
}

export class FrontEnd {
  private readonly meter: LoudnessMeter;
  private readonly resampler: Resampler | undefined;
  private readonly voice: VoiceStatsAnalyzer;
  private readonly quality: QualityAnalyzer;
  private readonly channels: number;
  private readonly channel: number | undefined;
  private ended = false;
  /** 16 kHz samples produced so far. */
  private produced = 0;

  constructor(o: FrontEndOptions) {
    checkChannel(o.channel, o.channels);
    this.meter = new LoudnessMeter({ sampleRate: o.sampleRate, channels: o.channels });
    this.resampler = o.sampleRate === PCM_RATE ? undefined : new Resampler(o.sampleRate, PCM_RATE);
    this.voice = new VoiceStatsAnalyzer({ ...o.voice, sampleRate: PCM_RATE });
    this.quality = new QualityAnalyzer({ ...o.quality, sampleRate: PCM_RATE });
    this.channels = o.channels;
    this.channel = o.channel;
  }

  /** One planar chunk of the decoded signal in; the 16 kHz mono samples it completes out. */
  push(planar: readonly Float32Array[]): Float32Array {
    if (this.ended) throw new VaultError("INVALID_ARGUMENT", "front end: push after end");
    if (planar.length !== this.channels) {
      throw new VaultError("CORRUPT_AUDIO", "decoder changed channel count mid-stream");
    }
    this.meter.push(planar);
    const mono = this.channel === undefined ? downmix(planar) : planar[this.channel]!;
    return this.emit(this.resampler ? this.resampler.process(mono) : mono);
  }

  /** The FeaturePipeline's input check, before the pitch tracker sees the samples. */
  private emit(out: Float32Array): Float32Array {
    checkSamples(out, this.produced);
    this.produced += out.length;
    this.quality.push(out);
    this.voice.push(out);
    return out;
  }

  /** Ends the stream: the resampler's last samples, then the loudness and voice statistics. */
  end(): { readonly tail: Float32Array; readonly result: FrontEndResult } {
    if (this.ended) throw new VaultError("INVALID_ARGUMENT", "front end: ended twice");
    this.ended = true;
    const tail = this.emit(this.resampler ? this.resampler.flush() : new Float32Array(0));
    const result = {
      loudness: this.meter.finish(),
      voice: this.voice.finish(),
      quality: this.quality.result(),
    };
    return { tail, result };
  }
}
