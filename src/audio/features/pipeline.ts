/**
 * One pass over 16 kHz mono PCM that produces every derivation the ingest path needs:
 * fbank (and optionally MFCC) frames, quality metrics, VAD, and voice statistics.
 *
 * Sharing: the fbank frame's FFT and mel energies feed the VAD (one FFT per 10 ms frame for
 * both); MFCC is a DCT of the same log-mel. YIN needs a longer (45 ms) frame and its own
 * FFT pair. Loudness and true peak are NOT here: they are defined on the original signal
 * (rate, channels) and computed with {@link LoudnessMeter} before resampling.
 *
 * Memory is O(1) in duration apart from the VAD's segment list; frames are handed to
 * `onFrames` as they are produced and not retained.
 */

import { VaultError } from "../../errors.js";
import { MeanAccumulator } from "./cmn.js";
import { FbankComputer, numFramesFor, type FbankOptions } from "./fbank.js";
import { Framer } from "./framer.js";
import { MfccTransform, type MfccOptions } from "./mfcc.js";
import { QualityAnalyzer, type QualityMetrics, type QualityOptions } from "./quality.js";
import {
  createVadProcessor,
  hasEnoughSpeech,
  type SpeechRequirement,
  type VadFrameProcessor,
  type VadOptions,
  type VadResult,
} from "./vad.js";
import { VoiceStatsAnalyzer, type VoiceStats, type VoiceStatsOptions } from "./voicestats.js";

export const PIPELINE_SAMPLE_RATE = 16000;

/**
 * Largest |sample| accepted (nominal full scale is 1): float input may exceed full scale, by a
 * lot, but not by 120 dB; beyond that it is damaged data, and the metrics would overflow.
 */
export const MAX_ABS_SAMPLE = 1e6;

/**
 * Refuses a chunk holding NaN, ±Infinity or a level beyond {@link MAX_ABS_SAMPLE}: CORRUPT_AUDIO
 * with the offending sample's index in the stream (`offset` = samples before this chunk).
 */
export function checkSamples(chunk: Float32Array, offset: number): void {
  for (let i = 0; i < chunk.length; i++) {
    const v = chunk[i]!;
    // Also false for NaN. Finite input can still arrive as ±Infinity here (float64 WAV beyond
    // float32's range, resampler overshoot near it), and absurd levels overflow the metrics.
    if (!(v >= -MAX_ABS_SAMPLE && v <= MAX_ABS_SAMPLE)) {
      throw new VaultError(
        "CORRUPT_AUDIO",
        "non-finite sample, or a sample beyond ±1e6 (120 dB over full scale)",
        {
          details: { index: offset + i },
        },
      );
    }
  }
}

/** The statistics of the 16 kHz PCM alone, which need no frame of the fbank. */
export interface PcmStats {
  readonly voice: VoiceStats;
  readonly quality: QualityMetrics;
}

/** Frames produced by one push, row-major. */
export interface FeatureFrames {
  /** Index of the first frame of this batch in the stream (frame i starts at i·10 ms). */
  readonly firstFrame: number;
  readonly numFrames: number;
  readonly numMelBins: number;
  /** numFrames × numMelBins log-mel (Kaldi fbank), not mean-normalised. */
  readonly fbank: Float32Array;
  /** numFrames × numCeps MFCC, when enabled. */
  readonly mfcc: Float32Array | null;
  readonly numCeps: number;
}

export interface FeaturePipelineOptions {
  /** Fbank settings; sampleRate must stay 16000. Defaults: 80 bins, povey, sampleScale 1. */
  readonly fbank?: Omit<FbankOptions, "sampleRate">;
  /** Emit MFCC (DCT of the same log-mel) alongside fbank. Off by default. */
  readonly mfcc?: MfccOptions | false;
  readonly vad?: VadOptions;
  readonly voice?: Omit<VoiceStatsOptions, "sampleRate">;
  /**
   * The statistics of the PCM alone, voice statistics and quality, are computed elsewhere on the
   * same 16 kHz stream (the analysis front end on another thread, src/ingest/front-end.ts) and
   * handed to {@link FeaturePipeline.finish}: this pipeline then runs no pitch tracker and no
   * quality analyser.
   */
  readonly externalPcmStats?: boolean;
  readonly quality?: Omit<QualityOptions, "sampleRate">;
  /** Minimum speech for `enoughSpeech`. */
  readonly speech?: SpeechRequirement;
  /** Receives each push's frames (skipped when a push completes no frame). */
  readonly onFrames?: (frames: FeatureFrames) => void;
}

export interface FeatureReport {
  readonly sampleRate: number;
  readonly numSamples: number;
  readonly durationSec: number;
  readonly frames: {
    readonly count: number;
    readonly numMelBins: number;
    readonly frameLengthSec: number;
    readonly frameShiftSec: number;
    /** Per-bin mean of all fbank frames: subtract it for WeSpeaker-style CMN. */
    readonly fbankMean: Float32Array;
  };
  readonly quality: QualityMetrics;
  readonly vad: VadResult;
  readonly voice: VoiceStats;
  /** hasEnoughSpeech(vad, options.speech): false means the lead should raise NO_SPEECH. */
  readonly enoughSpeech: boolean;
}

export class FeaturePipeline {
  private readonly fbank: FbankComputer;
  private readonly fbankFramer: Framer;
  private readonly mfcc: MfccTransform | null;
  private readonly vad: VadFrameProcessor;
  /** Both null when these statistics come from elsewhere (externalPcmStats). */
  private readonly quality: QualityAnalyzer | null;
  private readonly voice: VoiceStatsAnalyzer | null;
  private readonly mean: MeanAccumulator;
  private readonly onFrames: ((frames: FeatureFrames) => void) | undefined;
  private readonly speech: SpeechRequirement;
  private finished = false;

  constructor(options: FeaturePipelineOptions = {}) {
    this.fbank = new FbankComputer({ ...options.fbank, sampleRate: PIPELINE_SAMPLE_RATE });
    this.fbankFramer = new Framer(this.fbank.frameLength, this.fbank.frameShift);
    const bins = this.fbank.options.numMelBins;
    this.mfcc = options.mfcc ? new MfccTransform(bins, options.mfcc) : null;
    this.vad = createVadProcessor(this.fbank, options.vad);
    const own = options.externalPcmStats !== true;
    this.quality = own ? new QualityAnalyzer({ ...options.quality, sampleRate: PIPELINE_SAMPLE_RATE }) : null;
    this.voice = own ? new VoiceStatsAnalyzer({ ...options.voice, sampleRate: PIPELINE_SAMPLE_RATE }) : null;
    this.mean = new MeanAccumulator(bins);
    this.onFrames = options.onFrames;
    this.speech = options.speech ?? {};
  }

  /** Feeds 16 kHz mono samples in [-1, 1]; any chunk size. */
  push(chunk: Float32Array): void {
    if (this.finished) throw new VaultError("INVALID_ARGUMENT", "pipeline: push after finish");
    checkSamples(chunk, this.fbankFramer.samples);
    this.quality?.push(chunk);
    const bins = this.fbank.options.numMelBins;
    const first = this.fbankFramer.frames;
    const total = numFramesFor(
      this.fbankFramer.samples + chunk.length,
      this.fbankFramer.length,
      this.fbankFramer.shift,
    );
    const n = total - first;
    const fb = new Float32Array(n * bins);
    this.fbankFramer.push(chunk, (frame, index) => {
      this.fbank.compute(frame, fb, (index - first) * bins);
      this.vad.pushFrame(this.fbank.melEnergies, this.fbank.rawEnergy);
    });
    this.voice?.push(chunk);
    if (n === 0) return;
    this.mean.add(fb, n);
    if (this.onFrames !== undefined) {
      const mfcc = this.mfcc === null ? null : this.mfcc.applyAll(fb, n);
      this.onFrames({
        firstFrame: first,
        numFrames: n,
        numMelBins: bins,
        fbank: fb,
        mfcc,
        numCeps: this.mfcc?.numCeps ?? 0,
      });
    }
  }

  /** Speech found so far while streaming (see VadFrameProcessor.progress). */
  speechProgress(): { readonly decidedSec: number; readonly speechSec: number } {
    return this.vad.progress();
  }

  /** Per-frame speech decisions as the VAD makes them (see VadFrameProcessor.onDecision). */
  onSpeechDecision(listener: (frame: number, speech: boolean) => void): void {
    this.vad.onDecision(listener);
  }

  /**
   * Ends the stream and returns the utterance-level report. With `externalPcmStats`, `stats` are
   * the voice statistics and quality computed elsewhere on this same stream (durations must match).
   */
  finish(stats?: PcmStats): FeatureReport {
    if (this.finished) throw new VaultError("INVALID_ARGUMENT", "pipeline: finish called twice");
    const numSamples = this.fbankFramer.samples;
    const sr = PIPELINE_SAMPLE_RATE;
    if ((stats === undefined) !== (this.voice !== null)) {
      throw new VaultError("INVALID_ARGUMENT", "pipeline: PCM statistics given iff externalPcmStats");
    }
    if (
      stats !== undefined &&
      (stats.voice.durationSec !== numSamples / sr || stats.quality.numSamples !== numSamples)
    ) {
      throw new VaultError("INTERNAL", "pipeline: the PCM statistics are of another stream");
    }
    this.finished = true;
    const vad = this.vad.finish(numSamples, sr);
    return {
      sampleRate: sr,
      numSamples,
      durationSec: numSamples / sr,
      frames: {
        count: this.fbankFramer.frames,
        numMelBins: this.fbank.options.numMelBins,
        frameLengthSec: this.fbank.frameLength / sr,
        frameShiftSec: this.fbank.frameShift / sr,
        fbankMean: this.mean.mean(),
      },
      quality: stats?.quality ?? this.quality!.result(),
      vad,
      voice: stats?.voice ?? this.voice!.finish(),
      enoughSpeech: hasEnoughSpeech(vad, this.speech),
    };
  }
}
