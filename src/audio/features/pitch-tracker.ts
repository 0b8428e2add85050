/**
 * Streaming pitch + intensity contour for the voice statistics: one {@link YinFrame} per 10 ms
 * hop on 45 ms frames (W = 25 ms plus the longest lag), as {@link YinPitch} on the full-rate
 * signal, at under half its cost.
 *
 * Why and how: YIN's difference function needs the frame's cross-correlation over every lag up to
 * 1/minF0, i.e. FFTs of W + τmax samples; at 16 kHz that is three 1024-point transforms per hop,
 * the largest single cost of ingest. Speech F0 (≤ 550 Hz by default) and the harmonics YIN relies
 * on sit far below 4 kHz, so the search runs on the signal decimated by 2 (halfband FIR, zero
 * phase) with 512-point transforms; the chosen lag is then refined on the full-rate frame: the
 * exact difference function d(t) (paper eq. 6) at the full-rate lags around 2τ, followed downhill
 * to a local minimum, and parabolic interpolation there (paper §II.E), so F0 keeps full-rate resolution. Intensity
 * (Hann-weighted mean square) is computed on the full-rate frame, as before.
 *
 * Frame i covers full-rate samples [i·hop, i·hop + frameLength); frame count and alignment match
 * a {@link Framer} over the same stream. Frames are delivered a few samples after their last
 * input sample (the decimator's look-ahead) and the rest on {@link finish}.
 */

import { VaultError } from "../../errors.js";
import { halfbandDesign, kaiserBeta } from "../pcm/halfband.js";
import { intensityWindow, YinPitch, type YinFrame, type YinOptions } from "./yin.js";

/** The tracker's hop when none is given, s. */
export const DEFAULT_PITCH_HOP_SEC = 0.01;

/** Halfband decimator: 12 odd tap pairs (47 taps), Kaiser β for ~70 dB. */
const HALF_TAPS = 12;
const HALFBAND = halfbandDesign(HALF_TAPS, kaiserBeta(70));

const RING16 = 4096;
const RING8 = 2048;

export class PitchTracker {
  /** Full-rate frame length and hop, samples. */
  readonly frameLength: number;
  readonly hop: number;
  readonly sampleRate: number;
  /** Whether the search runs at half rate (false when maxF0 is too high for it). */
  readonly decimated: boolean;
  private readonly yin: YinPitch;
  /** Full-rate lag bounds and window. */
  private readonly minLag: number;
  private readonly maxLag: number;
  private readonly W: number;
  private readonly ring16 = new Float64Array(RING16);
  private readonly ring8 = new Float64Array(RING8);
  private n16 = 0;
  private n8 = 0;
  private nextFrame = 0;
  private readonly frame16: Float64Array;
  private readonly frame8: Float64Array;
  private readonly prefix: Float64Array;
  private readonly hann: Float64Array;
  private readonly hannSum: number;
  private readonly out: YinFrame = { f0: 0, aperiodicity: 1, intensityDb: -150 };
  private readonly onFrame: (f: YinFrame) => void;
  private finished = false;

  constructor(options: YinOptions & { readonly hopSec?: number }, onFrame: (f: YinFrame) => void) {
    const sr = options.sampleRate ?? 16000;
    const minF0 = options.minF0 ?? 50;
    const maxF0 = options.maxF0 ?? 550;
    // The full-rate estimator validates the options and fixes the full-rate geometry.
    const full = new YinPitch(options);
    this.sampleRate = sr;
    const hopSamples = sr * (options.hopSec ?? DEFAULT_PITCH_HOP_SEC);
    this.hop = Math.round(hopSamples);
    if (!(this.hop >= 1 && Math.abs(this.hop - hopSamples) < 1e-9)) {
      throw new VaultError("INVALID_ARGUMENT", "pitch: the hop must be a whole number of samples");
    }
    this.frameLength = full.frameLength;
    this.minLag = full.minLag;
    this.maxLag = full.maxLag;
    this.W = full.windowLength;
    this.decimated = maxF0 < sr / 8 && this.hop % 2 === 0 && full.windowLength % 2 === 0;
    this.yin = this.decimated
      ? new YinPitch({
          sampleRate: sr / 2,
          minF0,
          maxF0,
          windowLength: full.windowLength / 2,
          ...(options.threshold !== undefined ? { threshold: options.threshold } : {}),
        })
      : full;
    if (this.frameLength + 2 * HALF_TAPS * 2 + this.hop * 2 > RING16) {
      throw new VaultError("INVALID_ARGUMENT", "pitch: frame too long for the tracker");
    }
    this.frame16 = new Float64Array(this.frameLength);
    this.frame8 = new Float64Array(this.yin.frameLength);
    this.prefix = new Float64Array(this.frameLength + 1);
    this.hann = intensityWindow(this.frameLength);
    this.hannSum = this.hann.reduce((a, w) => a + w, 0);
    this.onFrame = onFrame;
  }

  /** Full-rate samples pushed so far. */
  get samples(): number {
    return this.n16;
  }

  push(chunk: ArrayLike<number>): void {
    if (this.finished) throw new VaultError("INVALID_ARGUMENT", "pitch: push after finish");
    const n = chunk.length;
    // Blocks of at most one hop, so every pending frame is analysed while its full-rate samples
    // are still in the ring.
    for (let pos = 0; pos < n;) {
      const take = Math.min(n - pos, this.hop);
      const ring = this.ring16;
      let w = this.n16 & (RING16 - 1);
      for (let i = 0; i < take; i++) {
        ring[w] = chunk[pos + i]!;
        w = (w + 1) & (RING16 - 1);
      }
      this.n16 += take;
      pos += take;
      this.advance(false);
    }
  }

  /** Analyses the frames that the stream's tail completes. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.advance(true);
  }

  /** Decimates what the input allows (all of it at the end, zeros beyond) and emits frames. */
  private advance(atEnd: boolean): void {
    if (this.decimated) {
      const c = 2 * HALF_TAPS - 1;
      const limit = atEnd ? Math.ceil(this.n16 / 2) : Math.floor((this.n16 - 1 - c) / 2) + 1;
      const ring = this.ring16;
      const taps = HALFBAND.pairs;
      const mid = HALFBAND.centre;
      const n16 = this.n16;
      // Interior outputs (every tap inside the stream) two at a time: two independent sums in
      // one iteration keep both FP adders busy; each sum keeps its order, so results are
      // identical to the general loop below.
      const M = RING16 - 1;
      const ring8 = this.ring8;
      const interiorEnd = Math.min(limit, Math.floor((n16 - 1 - c) / 2) + 1);
      if (this.n8 * 2 >= c) {
        while (this.n8 + 1 < interiorEnd) {
          const c0 = 2 * this.n8;
          const c1 = c0 + 2;
          let a0 = mid * ring[c0 & M]!;
          let a1 = mid * ring[c1 & M]!;
          for (let j = 0; j < HALF_TAPS; j++) {
            const k = 2 * j + 1;
            const t = taps[j]!;
            a0 += t * (ring[(c0 - k) & M]! + ring[(c0 + k) & M]!);
            a1 += t * (ring[(c1 - k) & M]! + ring[(c1 + k) & M]!);
          }
          ring8[this.n8 & (RING8 - 1)] = a0;
          ring8[(this.n8 + 1) & (RING8 - 1)] = a1;
          this.n8 += 2;
        }
      }
      while (this.n8 < limit) {
        const centre = 2 * this.n8;
        let acc = mid * ring[centre & (RING16 - 1)]!;
        for (let j = 0; j < HALF_TAPS; j++) {
          const k = 2 * j + 1;
          const lo = centre - k;
          const hi = centre + k;
          const a = lo >= 0 ? ring[lo & (RING16 - 1)]! : 0;
          const b = hi < n16 ? ring[hi & (RING16 - 1)]! : 0;
          acc += taps[j]! * (a + b);
        }
        this.ring8[this.n8 & (RING8 - 1)] = acc;
        this.n8++;
      }
    }
    const L = this.frameLength;
    const L8 = this.yin.frameLength;
    for (;;) {
      const start = this.nextFrame * this.hop;
      if (start + L > this.n16) return;
      if (this.decimated && start / 2 + L8 > this.n8) return;
      this.analyse(start);
      this.nextFrame++;
    }
  }

  private analyse(start: number): void {
    const L = this.frameLength;
    const x = this.frame16;
    const ring = this.ring16;
    let mean = 0;
    for (let i = 0; i < L; i++) {
      const v = ring[(start + i) & (RING16 - 1)]!;
      x[i] = v;
      mean += v;
    }
    mean /= L;
    let ms = 0;
    const hann = this.hann;
    for (let i = 0; i < L; i++) {
      const v = x[i]! - mean;
      x[i] = v;
      ms += hann[i]! * v * v;
    }
    ms /= this.hannSum;
    const out = this.out;
    if (!this.decimated) {
      this.yin.analyze(x, out);
      out.intensityDb = ms > 1e-15 ? 10 * Math.log10(ms) : -150;
      this.onFrame(out);
      return;
    }
    const L8 = this.yin.frameLength;
    const y = this.frame8;
    const s8 = start / 2;
    for (let i = 0; i < L8; i++) y[i] = this.ring8[(s8 + i) & (RING8 - 1)]!;
    this.yin.analyze(y, out, false);
    out.intensityDb = ms > 1e-15 ? 10 * Math.log10(ms) : -150;
    // The full-rate energies are needed only to refine a voiced frame.
    if (out.f0 > 0) {
      const prefix = this.prefix;
      prefix[0] = 0;
      for (let i = 0; i < L; i++) prefix[i + 1] = prefix[i]! + x[i]! * x[i]!;
      if (prefix[this.W]! > 1e-12) out.f0 = this.refine(out.f0);
    }
    this.onFrame(out);
  }

  /**
   * Full-rate refinement of a half-rate F0: the exact d(t) = e₀ + e_t − 2·r(t) at the full-rate
   * lag nearest the half-rate estimate and its neighbours, walking downhill (at most 3 lags away)
   * to a local minimum, then a parabola through it and its neighbours. At the ends of the lag
   * range the integer lag is used.
   */
  private refine(f0Half: number): number {
    const lo = this.minLag;
    const hi = Math.min(this.maxLag, this.frameLength - this.W);
    const centre = Math.round(this.sampleRate / f0Half);
    let t = Math.min(hi, Math.max(lo, centre));
    let d1 = this.diff(t);
    let d0 = t > lo ? this.diff(t - 1) : Infinity;
    let d2 = t < hi ? this.diff(t + 1) : Infinity;
    for (let steps = 0; steps < 3; steps++) {
      if (d0 < d1 && t - 1 > lo) {
        t--;
        d2 = d1;
        d1 = d0;
        d0 = this.diff(t - 1);
      } else if (d2 < d1 && t + 1 < hi) {
        t++;
        d0 = d1;
        d1 = d2;
        d2 = this.diff(t + 1);
      } else break;
    }
    // Interpolate only at a local minimum (the walk may stop on a slope after 3 steps); there the
    // vertex lies within half a lag.
    if (!(d1 <= d0 && d1 <= d2)) return this.sampleRate / t;
    const den = d0 - 2 * d1 + d2;
    const frac = Number.isFinite(den) && den > 0 ? t + (0.5 * (d0 - d2)) / den : t;
    return this.sampleRate / frac;
  }

  /** d(t) of the current full-rate frame (mean removed, prefix energies ready). */
  private diff(t: number): number {
    const x = this.frame16;
    const prefix = this.prefix;
    const W = this.W;
    let r0 = 0;
    let r1 = 0;
    let j = 0;
    for (; j + 1 < W; j += 2) {
      r0 += x[j]! * x[j + t]!;
      r1 += x[j + 1]! * x[j + 1 + t]!;
    }
    if (j < W) r0 += x[j]! * x[j + t]!;
    return Math.max(0, prefix[W]! + (prefix[t + W]! - prefix[t]!) - 2 * (r0 + r1));
  }
}
