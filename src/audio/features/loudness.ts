/**
 * Programme loudness per ITU-R BS.1770-4 and EBU R 128 / Tech 3341–3342, on the ORIGINAL
 * signal (any sample rate, any channel count), incremental with O(1) memory in duration.
 *
 * - K-weighting per channel ({@link kWeightingShelf}, {@link kWeightingHighPass}).
 * - Gating blocks of 400 ms every 100 ms (75 % overlap), block loudness
 *   l = −0.691 + 10·log10(Σ G_i·z_i) with channel weights G (1.0 for L/R/C, 1.41 for
 *   surrounds, 0 for LFE).
 * - Integrated loudness: absolute gate −70 LUFS, then relative gate −10 LU below the
 *   absolute-gated mean. Blocks are kept in a 0.01 LU histogram that stores each bin's exact
 *   energy sum (as libebur128's histogram mode, but without its bin-centre approximation), so
 *   the only approximation is which side of the relative gate the blocks in the gate's own
 *   0.01 LU bin fall.
 * - Loudness range (EBU Tech 3342): short-term (3 s) loudness every 100 ms, absolute gate
 *   −70 LUFS, relative gate −20 LU, LRA = p95 − p10.
 * - True peak: BS.1770-4 Annex 2 (see truepeak.ts).
 */

import { VaultError } from "../../errors.js";
import { kWeightingHighPass, kWeightingShelf } from "./kweighting.js";
import { TruePeakChannel } from "./truepeak.js";

export interface LoudnessOptions {
  /** Sample rate of the original signal, Hz (8000–384000). */
  readonly sampleRate: number;
  /** Channel count of the original signal (1–8). */
  readonly channels: number;
  /**
   * BS.1770 channel weights G_i; default by count: 1–3 ch → 1 each; 4 → L R Ls Rs;
   * 5 → L R C Ls Rs; 6 → L R C LFE Ls Rs (WAV/SMPTE order, LFE excluded); 7–8 → 1 each.
   */
  readonly channelWeights?: readonly number[];
  /** Compute true peak (4× oversampling, ~48 multiply-adds per sample and channel). Default true. */
  readonly truePeak?: boolean;
}

export interface LoudnessResult {
  /** Integrated loudness, LUFS; null when no 400 ms block passes the −70 LUFS gate. */
  readonly integratedLufs: number | null;
  /** Loudness range, LU (EBU Tech 3342); null when fewer than two short-term values pass the gates. */
  readonly loudnessRangeLu: number | null;
  /** Highest momentary (400 ms) loudness, LUFS; null if none. */
  readonly maxMomentaryLufs: number | null;
  /** Highest short-term (3 s) loudness, LUFS; null if the signal is shorter than 3 s. */
  readonly maxShortTermLufs: number | null;
  /** True peak over all channels, dBTP; null for digital silence or when truePeak is off. */
  readonly truePeakDbtp: number | null;
  /** Sample peak over all channels, dBFS; null for digital silence. */
  readonly samplePeakDbfs: number | null;
  readonly sampleRate: number;
  readonly channels: number;
  readonly durationSec: number;
}

export function defaultChannelWeights(channels: number): number[] {
  switch (channels) {
    case 4:
      return [1, 1, 1.41, 1.41];
    case 5:
      return [1, 1, 1, 1.41, 1.41];
    case 6:
      return [1, 1, 1, 0, 1.41, 1.41];
    default:
      return new Array<number>(channels).fill(1);
  }
}

const ABSOLUTE_GATE = -70;
const HIST_MIN = -70;
const HIST_MAX = 30;
const HIST_STEP = 0.01;
const HIST_BINS = Math.round((HIST_MAX - HIST_MIN) / HIST_STEP);

function energyToLufs(e: number): number {
  return -0.691 + 10 * Math.log10(e);
}

/** Histogram of block loudness with exact per-bin energy sums. */
class LoudnessHistogram {
  readonly count = new Float64Array(HIST_BINS);
  readonly energy = new Float64Array(HIST_BINS);
  total = 0;

  add(e: number): void {
    const l = energyToLufs(e);
    if (!(l > ABSOLUTE_GATE)) return;
    const i = Math.min(HIST_BINS - 1, Math.floor((l - HIST_MIN) / HIST_STEP));
    this.count[i] = this.count[i]! + 1;
    this.energy[i] = this.energy[i]! + e;
    this.total++;
  }

  /** Mean energy of the absolute-gated blocks, or 0. */
  meanEnergy(): number {
    let n = 0;
    let s = 0;
    for (let i = 0; i < HIST_BINS; i++) {
      n += this.count[i]!;
      s += this.energy[i]!;
    }
    return n > 0 ? s / n : 0;
  }

  /** First bin whose mean block loudness exceeds `gate`. */
  firstBinAbove(gate: number): number {
    const start = Math.max(0, Math.floor((gate - HIST_MIN) / HIST_STEP));
    for (let i = start; i < HIST_BINS; i++) {
      const c = this.count[i]!;
      if (c > 0 && energyToLufs(this.energy[i]! / c) > gate) return i;
    }
    return HIST_BINS;
  }
}

export class LoudnessMeter {
  readonly sampleRate: number;
  readonly channels: number;
  private readonly weights: Float64Array;
  /** K-filter coefficients [shelf b0 b1 b2 a1 a2, high-pass b0 b1 b2 a1 a2]. */
  private readonly coef: Float64Array;
  /** Per channel: shelf s1 s2, high-pass s1 s2 (transposed direct form II). */
  private readonly state: Float64Array;
  private readonly peaks: TruePeakChannel[] | null;
  private readonly subLength: number;
  /** Per-channel sums of squares of the current 100 ms sub-block (sequential per sample). */
  private readonly chanAcc: Float64Array;
  private subFill = 0;
  private deinterleaved: Float32Array[] = [];
  /** Last 30 sub-block energies (mean square, channel-weighted), ring. */
  private readonly subRing = new Float64Array(30);
  private subCount = 0;
  private readonly integrated = new LoudnessHistogram();
  private readonly shortTerm = new LoudnessHistogram();
  private maxMomentary = -Infinity;
  private maxShortTerm = -Infinity;
  private samplePeak = 0;
  private frames = 0;
  private finished = false;

  constructor(options: LoudnessOptions) {
    const { sampleRate, channels } = options;
    if (!Number.isFinite(sampleRate) || sampleRate < 8000 || sampleRate > 384000) {
      throw new VaultError("INVALID_ARGUMENT", `loudness: sampleRate ${sampleRate} outside 8000–384000`);
    }
    if (!Number.isInteger(channels) || channels < 1 || channels > 8) {
      throw new VaultError("INVALID_ARGUMENT", `loudness: channels ${channels} outside 1–8`);
    }
    const w = options.channelWeights ?? defaultChannelWeights(channels);
    if (w.length !== channels || w.some((g) => !(g >= 0))) {
      throw new VaultError("INVALID_ARGUMENT", "loudness: need one non-negative weight per channel");
    }
    this.sampleRate = sampleRate;
    this.channels = channels;
    this.weights = Float64Array.from(w);
    const sh = kWeightingShelf(sampleRate);
    const hp = kWeightingHighPass(sampleRate);
    this.coef = Float64Array.of(sh.b0, sh.b1, sh.b2, sh.a1, sh.a2, hp.b0, hp.b1, hp.b2, hp.a1, hp.a2);
    this.state = new Float64Array(4 * channels);
    this.chanAcc = new Float64Array(channels);
    this.peaks =
      options.truePeak === false ? null : Array.from({ length: channels }, () => new TruePeakChannel());
    // 100 ms step; the 400 ms block is four steps (rounded for rates not divisible by 10).
    this.subLength = Math.round(sampleRate / 10);
  }

  /** Planar input: one array per channel, equal lengths. */
  push(channelData: readonly Float32Array[]): void {
    if (this.finished) throw new VaultError("INVALID_ARGUMENT", "loudness: push after finish");
    if (channelData.length !== this.channels) {
      throw new VaultError("INVALID_ARGUMENT", `loudness: expected ${this.channels} channels`);
    }
    const n = channelData[0]!.length;
    if (channelData.some((c) => c.length !== n)) {
      throw new VaultError("INVALID_ARGUMENT", "loudness: channel lengths differ");
    }
    let pos = 0;
    while (pos < n) {
      const take = Math.min(n - pos, this.subLength - this.subFill);
      if (this.channels === 2) this.filterStereo(channelData[0]!, channelData[1]!, pos, pos + take);
      else for (let c = 0; c < this.channels; c++) this.filterChannel(c, channelData[c]!, pos, pos + take);
      pos += take;
      this.frames += take;
      this.subFill += take;
      if (this.subFill === this.subLength) this.endSubBlock();
    }
  }

  /** Interleaved input (frames × channels). */
  pushInterleaved(data: Float32Array): void {
    if (this.finished) throw new VaultError("INVALID_ARGUMENT", "loudness: push after finish");
    const ch = this.channels;
    if (data.length % ch !== 0) {
      throw new VaultError("INVALID_ARGUMENT", "loudness: interleaved length is not a multiple of channels");
    }
    const n = data.length / ch;
    if ((this.deinterleaved[0]?.length ?? -1) < n) {
      this.deinterleaved = Array.from({ length: ch }, () => new Float32Array(n));
    }
    const planes = this.deinterleaved;
    for (let c = 0; c < ch; c++) {
      const plane = planes[c]!;
      for (let i = 0; i < n; i++) plane[i] = data[i * ch + c]!;
    }
    this.push(planes.map((p) => p.subarray(0, n)));
  }

  /** K-weights x[start, end) of channel c, accumulating Σy² and the peaks. */
  private filterChannel(c: number, x: Float32Array, start: number, end: number): void {
    const k = this.coef;
    const sb0 = k[0]!;
    const sb1 = k[1]!;
    const sb2 = k[2]!;
    const sa1 = k[3]!;
    const sa2 = k[4]!;
    const hb0 = k[5]!;
    const hb1 = k[6]!;
    const hb2 = k[7]!;
    const ha1 = k[8]!;
    const ha2 = k[9]!;
    const st = this.state;
    let s1 = st[4 * c]!;
    let s2 = st[4 * c + 1]!;
    let h1 = st[4 * c + 2]!;
    let h2 = st[4 * c + 3]!;
    let acc = this.chanAcc[c]!;
    let peak = this.samplePeak;
    for (let i = start; i < end; i++) {
      const v = x[i]!;
      const a = Math.abs(v);
      if (a > peak) peak = a;
      const y1 = sb0 * v + s1;
      s1 = sb1 * v - sa1 * y1 + s2;
      s2 = sb2 * v - sa2 * y1;
      const y = hb0 * y1 + h1;
      h1 = hb1 * y1 - ha1 * y + h2;
      h2 = hb2 * y1 - ha2 * y;
      acc += y * y;
    }
    st[4 * c] = s1;
    st[4 * c + 1] = s2;
    st[4 * c + 2] = h1;
    st[4 * c + 3] = h2;
    this.chanAcc[c] = acc;
    this.samplePeak = peak;
    if (this.peaks !== null) this.peaks[c]!.processRange(x, start, end);
  }

  /**
   * {@link filterChannel} for both channels of a stereo signal in one loop: the filters are
   * recursive, so one channel alone is a chain of dependent operations; two independent chains
   * keep the FP units busy. Per channel the arithmetic and its order are those of filterChannel.
   */
  private filterStereo(xl: Float32Array, xr: Float32Array, start: number, end: number): void {
    const k = this.coef;
    const sb0 = k[0]!;
    const sb1 = k[1]!;
    const sb2 = k[2]!;
    const sa1 = k[3]!;
    const sa2 = k[4]!;
    const hb0 = k[5]!;
    const hb1 = k[6]!;
    const hb2 = k[7]!;
    const ha1 = k[8]!;
    const ha2 = k[9]!;
    const st = this.state;
    let ls1 = st[0]!;
    let ls2 = st[1]!;
    let lh1 = st[2]!;
    let lh2 = st[3]!;
    let rs1 = st[4]!;
    let rs2 = st[5]!;
    let rh1 = st[6]!;
    let rh2 = st[7]!;
    let lacc = this.chanAcc[0]!;
    let racc = this.chanAcc[1]!;
    let peak = this.samplePeak;
    for (let i = start; i < end; i++) {
      const l = xl[i]!;
      const r = xr[i]!;
      const al = Math.abs(l);
      const ar = Math.abs(r);
      if (al > peak) peak = al;
      if (ar > peak) peak = ar;
      const ly1 = sb0 * l + ls1;
      const ry1 = sb0 * r + rs1;
      ls1 = sb1 * l - sa1 * ly1 + ls2;
      rs1 = sb1 * r - sa1 * ry1 + rs2;
      ls2 = sb2 * l - sa2 * ly1;
      rs2 = sb2 * r - sa2 * ry1;
      const ly = hb0 * ly1 + lh1;
      const ry = hb0 * ry1 + rh1;
      lh1 = hb1 * ly1 - ha1 * ly + lh2;
      rh1 = hb1 * ry1 - ha1 * ry + rh2;
      lh2 = hb2 * ly1 - ha2 * ly;
      rh2 = hb2 * ry1 - ha2 * ry;
      lacc += ly * ly;
      racc += ry * ry;
    }
    st[0] = ls1;
    st[1] = ls2;
    st[2] = lh1;
    st[3] = lh2;
    st[4] = rs1;
    st[5] = rs2;
    st[6] = rh1;
    st[7] = rh2;
    this.chanAcc[0] = lacc;
    this.chanAcc[1] = racc;
    this.samplePeak = peak;
    if (this.peaks !== null) {
      this.peaks[0]!.processRange(xl, start, end);
      this.peaks[1]!.processRange(xr, start, end);
    }
  }

  private endSubBlock(): void {
    let sum = 0;
    for (let c = 0; c < this.channels; c++) {
      sum += this.weights[c]! * this.chanAcc[c]!;
      this.chanAcc[c] = 0;
    }
    const e = sum / this.subLength;
    this.subFill = 0;
    this.subRing[this.subCount % 30] = e;
    this.subCount++;
    if (this.subCount >= 4) {
      let s = 0;
      for (let k = 1; k <= 4; k++) s += this.subRing[(this.subCount - k) % 30]!;
      const block = s / 4;
      this.integrated.add(block);
      if (block > 0) this.maxMomentary = Math.max(this.maxMomentary, energyToLufs(block));
    }
    if (this.subCount >= 30) {
      let s = 0;
      for (let k = 0; k < 30; k++) s += this.subRing[k]!;
      const st = s / 30;
      this.shortTerm.add(st);
      if (st > 0) this.maxShortTerm = Math.max(this.maxShortTerm, energyToLufs(st));
    }
  }

  finish(): LoudnessResult {
    if (!this.finished) {
      this.finished = true;
      if (this.peaks !== null) for (const p of this.peaks) p.flush();
    }
    let truePeak = 0;
    if (this.peaks !== null) for (const p of this.peaks) truePeak = Math.max(truePeak, p.peak);
    const db = (a: number): number | null => (a > 0 ? 20 * Math.log10(a) : null);
    const finite = (v: number): number | null => (Number.isFinite(v) ? v : null);
    return {
      integratedLufs: this.integratedLoudness(),
      loudnessRangeLu: this.loudnessRange(),
      maxMomentaryLufs: finite(this.maxMomentary),
      maxShortTermLufs: finite(this.maxShortTerm),
      truePeakDbtp: this.peaks === null ? null : db(truePeak),
      samplePeakDbfs: db(this.samplePeak),
      sampleRate: this.sampleRate,
      channels: this.channels,
      durationSec: this.frames / this.sampleRate,
    };
  }

  private integratedLoudness(): number | null {
    const h = this.integrated;
    if (h.total === 0) return null;
    const gate = energyToLufs(h.meanEnergy()) - 10;
    let n = 0;
    let s = 0;
    for (let i = h.firstBinAbove(gate); i < HIST_BINS; i++) {
      n += h.count[i]!;
      s += h.energy[i]!;
    }
    return n > 0 ? energyToLufs(s / n) : null;
  }

  private loudnessRange(): number | null {
    const h = this.shortTerm;
    if (h.total < 2) return null;
    const gate = energyToLufs(h.meanEnergy()) - 20;
    const first = h.firstBinAbove(gate);
    let n = 0;
    for (let i = first; i < HIST_BINS; i++) n += h.count[i]!;
    if (n < 2) return null;
    // Percentiles of the gated short-term loudness, from the histogram (0.01 LU resolution).
    const quantile = (q: number): number => {
      const target = q * (n - 1);
      let cum = 0;
      for (let i = first; i < HIST_BINS; i++) {
        const c = h.count[i]!;
        if (c > 0 && cum + c > target) return energyToLufs(h.energy[i]! / c);
        cum += c;
      }
      return HIST_MAX;
    };
    return quantile(0.95) - quantile(0.1);
  }
}

/** Whole-signal convenience (planar channels). */
export function measureLoudness(
  channelData: readonly Float32Array[],
  sampleRate: number,
  options: Omit<LoudnessOptions, "sampleRate" | "channels"> = {},
): LoudnessResult {
  const m = new LoudnessMeter({ ...options, sampleRate, channels: channelData.length });
  m.push(channelData);
  return m.finish();
}
