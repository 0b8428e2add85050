/**
 * Two blind SNR estimators, both streaming with O(1) memory.
 *
 * 1. Noise-floor SNR (the one we report as `snrDb`): the signal is cut into 50 ms blocks whose
 *    powers go into a 0.05 dB histogram; the noise power N is the mean power of all blocks no
 *    louder than 3 dB above the 10th-percentile block (the pauses, which any spoken recording
 *    has; the 3 dB margin takes in the whole spread of noise-only blocks instead of only their
 *    quiet tail, which would underestimate N for low-frequency noise); the speech power is the
 *    mean block power minus N; a global DC offset is removed from both analytically. This is
 *    the energy-histogram family of noise estimators (Hirsch & Ehrlicher, "Noise estimation
 *    techniques for robust speech recognition", ICASSP 1995). It estimates the SNR over the
 *    whole file, 10·log10(Σs² / Σn²), which is how our validation mixes are built; it needs
 *    ≥ 10 % pauses and underestimates when there are none.
 * 2. WADA-SNR (Kim & Stern, "Robust signal-to-noise ratio estimation based on waveform
 *    amplitude distribution analysis", Interspeech 2008): fits the amplitude distribution
 *    to a Gamma(0.4) speech + Gaussian noise model; needs no pauses but is biased by 2–6 dB on
 *    synthetic speech whose amplitude statistics differ from the model (see docs/features.md).
 *    Reported as `wadaSnrDb` for comparison.
 */

const BLOCK = 800;
const HIST_MIN_DB = -160;
const HIST_STEP_DB = 0.05;
const HIST_BINS = Math.round((20 - HIST_MIN_DB) / HIST_STEP_DB);
/** Percentile of block power that anchors the noise floor, and the margin above it. */
const NOISE_QUANTILE = 0.1;
const NOISE_MARGIN_DB = 3;
/** Reported SNRs are clamped to this range. */
export const SNR_MIN_DB = -10;
export const SNR_MAX_DB = 100;

/**
 * G(SNR) = ln E|z| − E ln|z| for Gamma(0.4)-amplitude speech plus Gaussian noise, SNR −20 … +100
 * dB in 1 dB steps. Regenerate with scripts/dev/wada_table.py (Monte Carlo, 2·10⁷ samples).
 */
const WADA_G = Float64Array.from([
  0.410033, 0.410038, 0.410102, 0.41014, 0.410211, 0.410348, 0.410512, 0.410787, 0.411233, 0.411727, 0.412686,
  0.413881, 0.415435, 0.417656, 0.42047, 0.424092, 0.428889, 0.434944, 0.442374, 0.45143, 0.462164, 0.474727,
  0.489103, 0.505412, 0.523776, 0.544031, 0.565884, 0.589348, 0.614288, 0.640429, 0.667857, 0.695928,
  0.724715, 0.753842, 0.783145, 0.812661, 0.842089, 0.871152, 0.89981, 0.928226, 0.956109, 0.983429, 1.009805,
  1.035536, 1.060482, 1.084653, 1.108175, 1.130778, 1.152686, 1.173835, 1.194148, 1.213713, 1.232456,
  1.250517, 1.267793, 1.284355, 1.300282, 1.315563, 1.330135, 1.344079, 1.35741, 1.37021, 1.382449, 1.39421,
  1.405377, 1.416036, 1.426245, 1.436002, 1.445368, 1.454283, 1.462836, 1.47103, 1.47882, 1.486265, 1.493416,
  1.500219, 1.506702, 1.512875, 1.51885, 1.524546, 1.529962, 1.535086, 1.539993, 1.54471, 1.549241, 1.553526,
  1.557637, 1.561586, 1.565331, 1.568946, 1.572345, 1.575628, 1.578765, 1.581722, 1.584579, 1.587291,
  1.589863, 1.592338, 1.594706, 1.596967, 1.599115, 1.601174, 1.603161, 1.605049, 1.606849, 1.60855, 1.610182,
  1.611745, 1.613234, 1.61464, 1.616006, 1.617287, 1.618506, 1.619687, 1.620827, 1.62191, 1.62296, 1.623954,
  1.624903, 1.625799, 1.62667,
]);
const WADA_MIN_DB = -20;

/** Interpolates the WADA table; clamps to its range. */
export function wadaSnrFromG(g: number): number {
  const t = WADA_G;
  if (!(g > t[0]!)) return WADA_MIN_DB;
  const last = t.length - 1;
  if (g >= t[last]!) return WADA_MIN_DB + last;
  let lo = 0;
  let hi = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (t[mid]! <= g) lo = mid;
    else hi = mid;
  }
  return WADA_MIN_DB + lo + (g - t[lo]!) / (t[hi]! - t[lo]!);
}

export class SnrEstimator {
  // Noise-floor estimator state.
  private blockAcc = 0;
  private blockFill = 0;
  private blocks = 0;
  private powerSum = 0;
  private readonly histCount = new Float64Array(HIST_BINS);
  private readonly histPower = new Float64Array(HIST_BINS);
  private sampleSum = 0;
  private samples = 0;
  // WADA state: Σ|x|, Σ ln|x| over non-zero samples, count of exact zeros, peak.
  private absSum = 0;
  private logSum = 0;
  private zeros = 0;
  private peak = 0;

  push(chunk: Float32Array): void {
    // Block by block with the running sums in locals (same additions in the same order as one
    // sample at a time, so the result does not depend on chunking).
    let sampleSum = this.sampleSum;
    let absSum = this.absSum;
    let logSum = this.logSum;
    let zeros = this.zeros;
    let peak = this.peak;
    const n = chunk.length;
    for (let pos = 0; pos < n;) {
      const end = Math.min(n, pos + (BLOCK - this.blockFill));
      let acc = this.blockAcc;
      for (let i = pos; i < end; i++) {
        const x = chunk[i]!;
        sampleSum += x;
        const a = Math.abs(x);
        absSum += a;
        if (a > 0) logSum += Math.log(a);
        else zeros++;
        if (a > peak) peak = a;
        acc += x * x;
      }
      this.blockAcc = acc;
      this.blockFill += end - pos;
      pos = end;
      if (this.blockFill === BLOCK) this.endBlock();
    }
    this.sampleSum = sampleSum;
    this.absSum = absSum;
    this.logSum = logSum;
    this.zeros = zeros;
    this.peak = peak;
    this.samples += n;
  }

  private endBlock(): void {
    const p = this.blockAcc / BLOCK;
    this.blockAcc = 0;
    this.blockFill = 0;
    this.blocks++;
    this.powerSum += p;
    const db = p > 0 ? 10 * Math.log10(p) : HIST_MIN_DB;
    const i = Math.max(0, Math.min(HIST_BINS - 1, Math.floor((db - HIST_MIN_DB) / HIST_STEP_DB)));
    this.histCount[i] = this.histCount[i]! + 1;
    this.histPower[i] = this.histPower[i]! + p;
  }

  /** Noise-floor estimate: { snrDb, noiseDbfs } or nulls when shorter than 10 blocks (0.5 s) or silent. */
  noiseFloor(): { snrDb: number | null; noiseDbfs: number | null } {
    if (this.blocks < 10 || this.powerSum === 0) return { snrDb: null, noiseDbfs: null };
    const k = Math.max(1, Math.floor(this.blocks * NOISE_QUANTILE));
    let anchor = 0;
    for (let cum = 0; anchor < HIST_BINS; anchor++) {
      cum += this.histCount[anchor]!;
      if (cum >= k) break;
    }
    const last = Math.min(HIST_BINS - 1, anchor + Math.round(NOISE_MARGIN_DB / HIST_STEP_DB));
    let n = 0;
    let s = 0;
    for (let i = 0; i <= last; i++) {
      n += this.histCount[i]!;
      s += this.histPower[i]!;
    }
    const dc = this.samples > 0 ? this.sampleSum / this.samples : 0;
    const dc2 = dc * dc;
    const noise = Math.max(s / n - dc2, 0);
    const total = this.powerSum / this.blocks - dc2;
    const speech = total - noise;
    const noiseDbfs = noise > 0 ? 10 * Math.log10(noise) : null;
    let snr: number;
    if (noise <= 0) snr = SNR_MAX_DB;
    else if (speech <= 0) snr = SNR_MIN_DB;
    else snr = 10 * Math.log10(speech / noise);
    return { snrDb: Math.max(SNR_MIN_DB, Math.min(SNR_MAX_DB, snr)), noiseDbfs };
  }

  /**
   * WADA-SNR as in the reference implementation: amplitudes normalised by the peak and floored
   * at 1e−10 (we apply that floor to exact zeros only). Null when silent.
   */
  wada(): number | null {
    if (this.samples === 0 || this.peak === 0) return null;
    const n = this.samples;
    const eps = 1e-10;
    // ln of peak-normalised amplitudes: Σ ln(|x|/peak) = Σ ln|x| − n'·ln(peak).
    const nonZero = n - this.zeros;
    const meanLog = (this.logSum - nonZero * Math.log(this.peak) + this.zeros * Math.log(eps)) / n;
    const meanAbs = Math.max(eps, this.absSum / this.peak / n);
    const g = Math.log(meanAbs) - meanLog;
    return Math.max(SNR_MIN_DB, wadaSnrFromG(g));
  }
}
