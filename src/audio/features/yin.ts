/**
 * YIN fundamental-frequency estimator (de Cheveigné & Kawahara, "YIN, a fundamental frequency
 * estimator for speech and music", JASA 111(4), 2002), one analysis frame at a time.
 *
 * Frame = W + τmax samples. Steps (paper §II): (2) difference function
 * d(τ) = Σ_{j<W} (x_j − x_{j+τ})², computed as e₀ + e_τ − 2r(τ) with the cross-correlation r from
 * one real FFT pair; (3) cumulative-mean-normalised d'(τ); (4) absolute threshold: the first
 * τ ≥ τmin with d' below the threshold, followed down to its local minimum (else the global
 * minimum, reported unvoiced); (5) parabolic interpolation (lag and minimum value). The frame's intensity (Hann-weighted
 * mean square, as Praat's intensity) is computed alongside for the syllable detector.
 */

import { VaultError } from "../../errors.js";
import { RealFft } from "./fft.js";

export interface YinOptions {
  /** Hz; default 16000. */
  readonly sampleRate?: number;
  /** Lowest F0 searched, Hz; default 50. */
  readonly minF0?: number;
  /** Highest F0 searched, Hz; default 550. */
  readonly maxF0?: number;
  /** Integration window W in samples; default 25 ms. */
  readonly windowLength?: number;
  /** YIN absolute threshold on d'(τ); frames with no dip below it are unvoiced. Default 0.2. */
  readonly threshold?: number;
}

export interface YinFrame {
  /** F0 in Hz, or 0 when unvoiced. */
  f0: number;
  /** d'(τ) at the chosen lag: 0 = perfectly periodic, ~1 = noise. */
  aperiodicity: number;
  /** Hann-weighted mean square of the frame, dB re full scale (−150 for silence). */
  intensityDb: number;
}

/** The Hann window of the frame intensity (symmetric about the frame centre, no zero ends). */
export function intensityWindow(n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 0.5)) / n));
}

export class YinPitch {
  readonly sampleRate: number;
  readonly minLag: number;
  readonly maxLag: number;
  readonly windowLength: number;
  /** Samples per analysis frame (W + τmax). */
  readonly frameLength: number;
  readonly threshold: number;
  private readonly fft: RealFft;
  private readonly a: Float64Array;
  private readonly b: Float64Array;
  private readonly r: Float64Array;
  private readonly prefix: Float64Array;
  private readonly dn: Float64Array;
  private readonly hann: Float64Array;
  private readonly hannSum: number;

  constructor(options: YinOptions = {}) {
    const sr = options.sampleRate ?? 16000;
    const minF0 = options.minF0 ?? 50;
    const maxF0 = options.maxF0 ?? 550;
    if (!(sr > 0) || !(minF0 > 0) || !(maxF0 > minF0) || maxF0 >= sr / 4) {
      throw new VaultError("INVALID_ARGUMENT", "yin: need 0 < minF0 < maxF0 < sampleRate/4");
    }
    this.sampleRate = sr;
    this.minLag = Math.max(2, Math.floor(sr / maxF0));
    this.maxLag = Math.ceil(sr / minF0);
    this.windowLength = options.windowLength ?? Math.round(sr * 0.025);
    this.frameLength = this.windowLength + this.maxLag;
    this.threshold = options.threshold ?? 0.2;
    let n = 4;
    while (n < this.frameLength + 1) n <<= 1;
    this.fft = new RealFft(n);
    this.a = new Float64Array(n);
    this.b = new Float64Array(n);
    this.r = new Float64Array(n);
    this.prefix = new Float64Array(this.frameLength + 1);
    this.dn = new Float64Array(this.maxLag + 2);
    this.hann = intensityWindow(this.frameLength);
    this.hannSum = this.hann.reduce((a, w) => a + w, 0);
  }

  /**
   * Analyses one frame of `frameLength` samples into `out`. With `intensity` false the caller
   * computes the intensity itself (out.intensityDb is left as is).
   */
  analyze(frame: ArrayLike<number>, out: YinFrame, intensity = true): void {
    const L = this.frameLength;
    const W = this.windowLength;
    const a = this.a;
    let mean = 0;
    for (let i = 0; i < L; i++) mean += frame[i]!;
    mean /= L;
    const prefix = this.prefix;
    prefix[0] = 0;
    if (intensity) {
      let ms = 0;
      const hann = this.hann;
      for (let i = 0; i < L; i++) {
        const v = frame[i]! - mean;
        a[i] = v;
        const v2 = v * v;
        ms += hann[i]! * v2;
        prefix[i + 1] = prefix[i]! + v2;
      }
      ms /= this.hannSum;
      out.intensityDb = ms > 1e-15 ? 10 * Math.log10(ms) : -150;
    } else {
      for (let i = 0; i < L; i++) {
        const v = frame[i]! - mean;
        a[i] = v;
        prefix[i + 1] = prefix[i]! + v * v;
      }
    }
    const e0 = prefix[W]!;
    if (!(e0 > 1e-12)) {
      out.f0 = 0;
      out.aperiodicity = 1;
      return;
    }
    // a[L…N) and b[W…N) are never written, so they stay the zero padding.
    const b = this.b;
    b.set(a.subarray(0, W));
    // r = IFFT(A · conj(B)): r[τ] = Σ_j b[j]·a[j + τ] (no wrap for τ ≤ τmax since W + τmax ≤ N).
    this.fft.correlate(a, b, this.r);
    const r = this.r;
    const dn = this.dn;
    const maxLag = this.maxLag;
    dn[0] = 1;
    let cum = 0;
    for (let tau = 1; tau <= maxLag + 1 && tau + W <= L; tau++) {
      const et = prefix[tau + W]! - prefix[tau]!;
      const d = Math.max(0, e0 + et - 2 * r[tau]!);
      cum += d;
      dn[tau] = cum > 0 ? (d * tau) / cum : 1;
    }
    const top = Math.min(maxLag, L - W - 1);
    let tau = -1;
    for (let t = this.minLag; t <= top; t++) {
      if (dn[t]! < this.threshold) {
        while (t + 1 <= top && dn[t + 1]! < dn[t]!) t++;
        tau = t;
        break;
      }
    }
    let voiced = true;
    if (tau < 0) {
      voiced = false;
      tau = this.minLag;
      for (let t = this.minLag + 1; t <= top; t++) if (dn[t]! < dn[tau]!) tau = t;
    }
    out.aperiodicity = dn[tau]!;
    if (!voiced) {
      out.f0 = 0;
      return;
    }
    // Parabolic interpolation of d' around the chosen lag (§II.E); the parabola's minimum is
    // the aperiodicity, so a period between two lags does not read as less periodic.
    let frac = tau;
    if (tau > 1 && tau < top) {
      const y0 = dn[tau - 1]!;
      const y1 = dn[tau]!;
      const y2 = dn[tau + 1]!;
      const den = y0 - 2 * y1 + y2;
      if (den > 0) {
        frac = tau + (0.5 * (y0 - y2)) / den;
        out.aperiodicity = Math.max(0, y1 - ((y0 - y2) * (y0 - y2)) / (8 * den));
      }
    }
    out.f0 = this.sampleRate / frac;
  }
}
