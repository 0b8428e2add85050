/**
 * Streaming utterance statistics for the built-in embedder, in memory independent of duration.
 *
 * Per 10 ms frame: MFCC c1..c(C−1) from the pipeline (c0, the level, is left out), their
 * regression deltas Δ and ΔΔ (±2 frames each, edges clamped as Kaldi's add-deltas does; cf.
 * Furui, "Speaker-independent isolated word recognition using dynamic features of speech
 * spectrum", IEEE TASSP 34(1), 1986), and the frame's log energy (log of the summed mel energies).
 *
 * Speech frames only. Which frames are speech is known only at the end (the VAD's total comes with
 * the FeatureReport), so the sufficient statistics are accumulated per 0.5 dB energy bin: count,
 * Σc, Σccᵀ, ΣΔ, ΣΔ², ΣΔΔ, ΣΔΔ². At the end the loudest bins are summed until they hold
 * `keepFraction` × the VAD's speech duration (the boundary bin pro rata). That equals an energy
 * gate whose threshold is chosen after the fact — the energy-based frame selection of classical
 * speaker recognition (e.g. Kinnunen & Li, "An overview of text-independent speaker recognition",
 * Speech Communication 52(1), 2010, §2.3) with the amount of speech set by the VAD. Memory:
 * (1 + 3(C−1) + C(C−1)/2 + … ) doubles per occupied bin, ~300 bins at most.
 */

import { VaultError } from "../../errors.js";
import type { FeatureFrames } from "../../audio/features/index.js";

/** Delta window ±N frames (HTK/Kaldi default 2). */
const DELTA_N = 2;
const DELTA_DEN = 2 * (1 + 4); // 2 Σ n², n = 1..2
const RING = 16;
const BIN_DB = 0.5;
const DB_PER_NEPER = 10 / Math.LN10;

export interface UtteranceStatsOptions {
  /** MFCC coefficients delivered per frame (c0..c(C−1)). */
  readonly numCeps: number;
  /** Share of the VAD's speech duration kept, loudest frames first. */
  readonly keepFraction: number;
  /** Fewer frames than this after selection: NO_SPEECH. */
  readonly minFrames: number;
}

/** Layout of one accumulator of frame statistics (all float64): count, Σc, Σccᵀ (upper triangle), ΣΔ, ΣΔ², ΣΔΔ, ΣΔΔ². */
export function statsLayout(d: number): {
  n: number;
  s1: number;
  s2: number;
  d1: number;
  d2: number;
  a1: number;
  a2: number;
  size: number;
} {
  const tri = (d * (d + 1)) / 2;
  const n = 0;
  const s1 = 1;
  const s2 = s1 + d;
  const d1 = s2 + tri;
  const d2 = d1 + d;
  const a1 = d2 + d;
  const a2 = a1 + d;
  return { n, s1, s2, d1, d2, a1, a2, size: a2 + d };
}

type Layout = ReturnType<typeof statsLayout>;

/** Dimension of the statistics vector: mean, std, correlations, Δ std, ΔΔ std of d = C − 1 coefficients. */
export function statsDim(numCeps: number): number {
  const d = numCeps - 1;
  return 4 * d + (d * (d - 1)) / 2;
}

/** Adds one frame (cepstra c1.., Δ, ΔΔ, each of length d) to an accumulator laid out by statsLayout(d). */
export function accumulateFrame(
  acc: Float64Array | Float32Array,
  L: Layout,
  d: number,
  c: Float64Array,
  co: number,
  delta: Float64Array,
  dd: Float64Array,
): void {
  acc[L.n]! += 1;
  let p = L.s2;
  for (let i = 0; i < d; i++) {
    const ci = c[co + i]!;
    acc[L.s1 + i]! += ci;
    for (let j = i; j < d; j++) acc[p++]! += ci * c[co + j]!;
    const di = delta[co + i]!;
    acc[L.d1 + i]! += di;
    acc[L.d2 + i]! += di * di;
    const ai = dd[i]!;
    acc[L.a1 + i]! += ai;
    acc[L.a2 + i]! += ai * ai;
  }
}

/**
 * The statistics vector of summed frame statistics:
 * [mean (d), std (d), correlations i<j (d(d−1)/2), std Δ (d), std ΔΔ (d)].
 */
export function statsVector(s: Float64Array, d: number): Float64Array {
  const L = statsLayout(d);
  const n = s[L.n]!;
  const out = new Float64Array(4 * d + (d * (d - 1)) / 2);
  const mean = new Float64Array(d);
  const cov = new Float64Array(d * d);
  for (let i = 0; i < d; i++) mean[i] = s[L.s1 + i]! / n;
  let p = L.s2;
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const v = s[p++]! / n - mean[i]! * mean[j]!;
      cov[i * d + j] = v;
      cov[j * d + i] = v;
    }
  }
  const sd = (i: number): number => Math.sqrt(Math.max(cov[i * d + i]!, 1e-12));
  let o = 0;
  for (let i = 0; i < d; i++) out[o++] = mean[i]!;
  for (let i = 0; i < d; i++) out[o++] = sd(i);
  for (let i = 0; i < d; i++) for (let j = i + 1; j < d; j++) out[o++] = cov[i * d + j]! / (sd(i) * sd(j));
  const std = (sum: number, sq: number): number => {
    const m = sum / n;
    return Math.sqrt(Math.max(sq / n - m * m, 1e-12));
  };
  for (let i = 0; i < d; i++) out[o++] = std(s[L.d1 + i]!, s[L.d2 + i]!);
  for (let i = 0; i < d; i++) out[o++] = std(s[L.a1 + i]!, s[L.a2 + i]!);
  mean.fill(0);
  cov.fill(0);
  return out;
}

/**
 * MFCC frames c1..c(C−1) (c0, the level, left out) with their regression deltas Δ and ΔΔ (±2
 * frames, edges clamped), finalised in order once their right context has arrived, each handed to
 * `onFrame` with the frame's log energy in dB. The views passed are reused: copy what you keep.
 */
export class CepstralFrames {
  readonly d: number;
  readonly numCeps: number;
  /** Ring buffers by absolute frame index mod RING. */
  private readonly ceps: Float64Array;
  private readonly delta: Float64Array;
  private readonly energy = new Float64Array(RING);
  private readonly dd: Float64Array;
  private frames = 0;
  private deltasDone = 0;
  private finalised = 0;

  constructor(
    numCeps: number,
    private readonly onFrame: (
      index: number,
      energyDb: number,
      ceps: Float64Array,
      offset: number,
      delta: Float64Array,
      dd: Float64Array,
    ) => void,
  ) {
    if (!Number.isInteger(numCeps) || numCeps < 3) {
      throw new VaultError("INVALID_ARGUMENT", "dsp embedder: numCeps must be an integer >= 3");
    }
    this.numCeps = numCeps;
    this.d = numCeps - 1;
    this.ceps = new Float64Array(RING * this.d);
    this.delta = new Float64Array(RING * this.d);
    this.dd = new Float64Array(this.d);
  }

  get frameCount(): number {
    return this.frames;
  }

  accept(f: FeatureFrames): void {
    if (f.mfcc === null || f.numCeps !== this.numCeps) {
      throw new VaultError(
        "INVALID_ARGUMENT",
        `dsp embedder: needs MFCC frames with numCeps = ${this.numCeps} (pass embedder.features to the FeaturePipeline)`,
      );
    }
    if (f.firstFrame !== this.frames) {
      throw new VaultError("INVALID_ARGUMENT", "dsp embedder: frames out of order or missing");
    }
    const d = this.d;
    const bins = f.numMelBins;
    for (let t = 0; t < f.numFrames; t++) {
      // Log of the summed mel energies, in float64 with the max factored out.
      const row = t * bins;
      let max = -Infinity;
      for (let j = 0; j < bins; j++) max = Math.max(max, f.fbank[row + j]!);
      let sum = 0;
      for (let j = 0; j < bins; j++) sum += Math.exp(f.fbank[row + j]! - max);
      const k = this.frames;
      const slot = k % RING;
      this.energy[slot] = (max + Math.log(sum)) * DB_PER_NEPER;
      const src = t * f.numCeps;
      for (let i = 0; i < d; i++) this.ceps[slot * d + i] = f.mfcc[src + 1 + i]!;
      this.frames++;
      // Δ(k − N) now has its right context; ΔΔ(k − 2N) too.
      this.advance(this.frames - 1 - DELTA_N, this.frames - 1 - 2 * DELTA_N, Infinity);
    }
  }

  /** Finalises the last frames (right context clamped to the end). */
  finish(): void {
    const last = this.frames - 1;
    if (this.frames > 0) this.advance(last, last, last);
  }

  /** Computes Δ up to frame `deltaUpTo` and finalises frames up to `finalUpTo`. */
  private advance(deltaUpTo: number, finalUpTo: number, last: number): void {
    const d = this.d;
    const clamp = (i: number): number => (i < 0 ? 0 : i > last ? last : i) % RING;
    for (; this.deltasDone <= deltaUpTo; this.deltasDone++) {
      const t = this.deltasDone;
      const o = (t % RING) * d;
      for (let i = 0; i < d; i++) {
        let acc = 0;
        for (let n = 1; n <= DELTA_N; n++)
          acc += n * (this.ceps[clamp(t + n) * d + i]! - this.ceps[clamp(t - n) * d + i]!);
        this.delta[o + i] = acc / DELTA_DEN;
      }
    }
    // ΔΔ(t) = delta of the Δ sequence, Δ indices clamped to [0, last].
    const lastDelta = Math.min(last, this.deltasDone - 1);
    const clampD = (i: number): number => (i < 0 ? 0 : i > lastDelta ? lastDelta : i) % RING;
    for (; this.finalised <= finalUpTo; this.finalised++) {
      const t = this.finalised;
      for (let i = 0; i < d; i++) {
        let acc = 0;
        for (let n = 1; n <= DELTA_N; n++)
          acc += n * (this.delta[clampD(t + n) * d + i]! - this.delta[clampD(t - n) * d + i]!);
        this.dd[i] = acc / DELTA_DEN;
      }
      const slot = t % RING;
      this.onFrame(t, this.energy[slot]!, this.ceps, slot * d, this.delta, this.dd);
    }
  }

  wipe(): void {
    this.ceps.fill(0);
    this.delta.fill(0);
    this.dd.fill(0);
    this.energy.fill(0);
  }
}

export class UtteranceStats {
  readonly options: UtteranceStatsOptions;
  readonly dim: number;
  private readonly d: number;
  private readonly lay: Layout;
  private readonly bins = new Map<number, Float64Array>();
  private readonly frames: CepstralFrames;
  private closed = false;

  constructor(options: UtteranceStatsOptions) {
    this.frames = new CepstralFrames(options.numCeps, (_t, energyDb, ceps, offset, delta, dd) => {
      const key = Math.floor(energyDb / BIN_DB);
      let acc = this.bins.get(key);
      if (acc === undefined) {
        acc = new Float64Array(this.lay.size);
        this.bins.set(key, acc);
      }
      accumulateFrame(acc, this.lay, this.d, ceps, offset, delta, dd);
    });
    this.options = options;
    this.d = options.numCeps - 1;
    this.dim = statsDim(options.numCeps);
    this.lay = statsLayout(this.d);
  }

  get frameCount(): number {
    return this.frames.frameCount;
  }

  /** Occupied energy bins (the only part of the state that grows, with the level range). */
  get binCount(): number {
    return this.bins.size;
  }

  accept(f: FeatureFrames): void {
    if (this.closed) throw new VaultError("INVALID_ARGUMENT", "dsp embedder: session already finished");
    this.frames.accept(f);
  }

  /**
   * Ends the stream and returns the statistics vector of the selected frames:
   * [mean (d), std (d), correlations i<j (d(d−1)/2), std Δ (d), std ΔΔ (d)], d = C − 1.
   */
  finish(speechSec: number): Float64Array {
    if (this.closed) throw new VaultError("INVALID_ARGUMENT", "dsp embedder: session already finished");
    this.closed = true;
    this.frames.finish();
    const count = this.frames.frameCount;
    const { keepFraction, minFrames } = this.options;
    const want = Math.min(count, Math.max(minFrames, Math.round(keepFraction * speechSec * 100)));
    if (!(speechSec > 0) || want < minFrames) {
      this.wipe();
      throw new VaultError("NO_SPEECH", "Too little speech for a speaker embedding.", {
        details: { speechSec: Math.round(speechSec * 100) / 100, frames: count },
      });
    }
    const L = this.lay;
    const total = new Float64Array(L.size);
    let need = want;
    for (const key of [...this.bins.keys()].sort((a, b) => b - a)) {
      if (need <= 0) break;
      const acc = this.bins.get(key)!;
      const n = acc[L.n]!;
      const w = n <= need ? 1 : need / n;
      for (let i = 0; i < L.size; i++) total[i]! += w * acc[i]!;
      need -= n;
    }
    this.wipe();
    const out = statsVector(total, this.d);
    total.fill(0);
    return out;
  }

  /** Zeroes every statistic (called by finish and on abort). */
  wipe(): void {
    this.closed = true;
    for (const acc of this.bins.values()) acc.fill(0);
    this.bins.clear();
    this.frames.wipe();
  }
}
