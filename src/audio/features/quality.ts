/**
 * Recording-quality aggregates of 16 kHz mono PCM, streaming with O(1) memory. Every output
 * is a whole-file statistic from which no audio can be reconstructed.
 */

import { VaultError } from "../../errors.js";
import { SnrEstimator } from "./snr.js";

export interface QualityOptions {
  /** |x| at or above this counts as "at full scale" for clipping. Default 0.99 (−0.09 dBFS). */
  readonly clipLevel?: number;
  /** Minimum run of consecutive same-sign full-scale samples that counts as clipping. Default 3. */
  readonly minClipRun?: number;
  /** Sample rate, only used for durations. Default 16000. */
  readonly sampleRate?: number;
}

export interface QualityMetrics {
  readonly numSamples: number;
  readonly durationSec: number;
  /** 20·log10(RMS) re full scale (a full-scale sine reads −3.01); null for digital silence. */
  readonly rmsDbfs: number | null;
  /** 20·log10(max |x|); null for digital silence. */
  readonly peakDbfs: number | null;
  /** Mean sample value (DC offset), in full-scale units. */
  readonly dcOffset: number;
  /** Share of samples that lie in clipped runs (see QualityOptions). */
  readonly clippingRatio: number;
  /** Number of clipped runs. */
  readonly clippedRuns: number;
  /** Noise-floor SNR estimate in dB (see snr.ts), clamped to [−10, 100]; null if < 0.5 s or silent. */
  readonly snrDb: number | null;
  /** Estimated noise power, dBFS; null if no noise was measurable. */
  readonly noiseFloorDbfs: number | null;
  /** WADA-SNR (Kim & Stern 2008) for comparison; null for silence. */
  readonly wadaSnrDb: number | null;
}

export class QualityAnalyzer {
  private readonly clipLevel: number;
  private readonly minRun: number;
  private readonly sampleRate: number;
  private readonly snr = new SnrEstimator();
  private n = 0;
  private sum = 0;
  private sumSq = 0;
  private peak = 0;
  private runLength = 0;
  private runSign = 0;
  private clipped = 0;
  private runs = 0;

  constructor(options: QualityOptions = {}) {
    this.clipLevel = options.clipLevel ?? 0.99;
    this.minRun = options.minClipRun ?? 3;
    this.sampleRate = options.sampleRate ?? 16000;
    if (
      !(this.clipLevel > 0) ||
      !Number.isInteger(this.minRun) ||
      this.minRun < 1 ||
      !(this.sampleRate > 0)
    ) {
      throw new VaultError("INVALID_ARGUMENT", "quality: bad clipLevel, minClipRun or sampleRate");
    }
  }

  push(chunk: Float32Array): void {
    const level = this.clipLevel;
    // Running sums in locals; same order of additions as sample by sample.
    let sum = this.sum;
    let sumSq = this.sumSq;
    let peak = this.peak;
    for (const x of chunk) {
      sum += x;
      sumSq += x * x;
      const a = Math.abs(x);
      if (a > peak) peak = a;
      const sign = a >= level ? (x > 0 ? 1 : -1) : 0;
      if (sign === 0 && this.runSign === 0) continue;
      if (sign !== 0 && sign === this.runSign) {
        this.runLength++;
      } else {
        this.endRun();
        this.runSign = sign;
        this.runLength = sign === 0 ? 0 : 1;
      }
    }
    this.sum = sum;
    this.sumSq = sumSq;
    this.peak = peak;
    this.n += chunk.length;
    this.snr.push(chunk);
  }

  private endRun(): void {
    if (this.runSign !== 0 && this.runLength >= this.minRun) {
      this.clipped += this.runLength;
      this.runs++;
    }
  }

  /** Metrics so far; may be called repeatedly (the open clipping run is counted provisionally). */
  result(): QualityMetrics {
    const n = this.n;
    const pendingRun = this.runSign !== 0 && this.runLength >= this.minRun;
    const clipped = this.clipped + (pendingRun ? this.runLength : 0);
    const rms = n > 0 ? Math.sqrt(this.sumSq / n) : 0;
    const floor = this.snr.noiseFloor();
    return {
      numSamples: n,
      durationSec: n / this.sampleRate,
      rmsDbfs: rms > 0 ? 20 * Math.log10(rms) : null,
      peakDbfs: this.peak > 0 ? 20 * Math.log10(this.peak) : null,
      dcOffset: n > 0 ? this.sum / n : 0,
      clippingRatio: n > 0 ? clipped / n : 0,
      clippedRuns: this.runs + (pendingRun ? 1 : 0),
      snrDb: floor.snrDb,
      noiseFloorDbfs: floor.noiseDbfs,
      wadaSnrDb: this.snr.wada(),
    };
  }
}

export function measureQuality(pcm: Float32Array, options: QualityOptions = {}): QualityMetrics {
  const q = new QualityAnalyzer(options);
  q.push(pcm);
  return q.result();
}
