/**
 * True-peak meter of ITU-R BS.1770-4 Annex 2: 4× oversampling with the Annex's 48-tap
 * polyphase interpolation FIR (4 phases × 12 taps), then the maximum absolute value. The
 * Annex's filter is specified for 48 kHz input; its coefficients are rate-independent (they
 * interpolate in normalised frequency), so we apply them at any rate, as libebur128 does
 * below 96 kHz. The sample peak is included, so the result is never below it.
 */

/** BS.1770-4 Annex 2, Table: phase p, tap k multiplies x[n − k]. */
export const TRUE_PEAK_PHASES: readonly Float64Array[] = [
  [
    0.001708984375, 0.010986328125, -0.0196533203125, 0.033203125, -0.0594482421875, 0.1373291015625,
    0.97216796875, -0.102294921875, 0.047607421875, -0.026611328125, 0.014892578125, -0.00830078125,
  ],
  [
    -0.0291748046875, 0.029296875, -0.0517578125, 0.089111328125, -0.16650390625, 0.465087890625,
    0.77978515625, -0.2003173828125, 0.1015625, -0.0582275390625, 0.0330810546875, -0.0189208984375,
  ],
  [
    -0.0189208984375, 0.0330810546875, -0.0582275390625, 0.1015625, -0.2003173828125, 0.77978515625,
    0.465087890625, -0.16650390625, 0.089111328125, -0.0517578125, 0.029296875, -0.0291748046875,
  ],
  [
    -0.00830078125, 0.014892578125, -0.026611328125, 0.047607421875, -0.102294921875, 0.97216796875,
    0.1373291015625, -0.0594482421875, 0.033203125, -0.0196533203125, 0.010986328125, 0.001708984375,
  ],
].map((p) => Float64Array.from(p));

const TAPS = 12;
/** Samples per pruning block (see processRange). */
const BLOCK = 256;
/** PHASES flattened, phase-major, for the hot loop. */
const COEFFS = Float64Array.from(TRUE_PEAK_PHASES.flatMap((p) => Array.from(p)));
/** max over phases of Σ|h|: no interpolated value exceeds GAIN × the window's largest |x|. */
const GAIN = Math.max(...TRUE_PEAK_PHASES.map((p) => p.reduce((a, v) => a + Math.abs(v), 0)));

/** One channel's true-peak state: the last 12 samples, duplicated so a window is contiguous. */
export class TruePeakChannel {
  private readonly hist = new Float64Array(2 * TAPS);
  private pos = 0;
  private peakAbs = 0;
  private readonly one = new Float64Array(1);

  get peak(): number {
    return this.peakAbs;
  }

  process(x: number): void {
    this.one[0] = x;
    this.processRange(this.one, 0, 1);
  }

  /**
   * Feeds x[start, end). Blocks whose every 12-sample window provably stays at or below the
   * running peak (block max |x| and history max |x|, times Σ|h|) only update the history: the
   * result is exactly that of the per-sample loop, at one compare per sample once the peak has
   * been found.
   */
  processRange(x: ArrayLike<number>, start: number, end: number): void {
    for (let b = start; b < end; b += BLOCK) {
      const e = Math.min(end, b + BLOCK);
      let w = 0;
      for (let i = b; i < e; i++) {
        const a = Math.abs(x[i]!);
        if (a > w) w = a;
      }
      const h = this.hist;
      const p = this.pos;
      for (let k = 0; k < TAPS; k++) {
        const a = Math.abs(h[p + k]!);
        if (a > w) w = a;
      }
      if (w * GAIN <= this.peakAbs) this.remember(x, b, e);
      else this.exact(x, b, e);
    }
  }

  /** Pushes x[start, end) into the history without interpolating (the peak cannot move). */
  private remember(x: ArrayLike<number>, start: number, end: number): void {
    const h = this.hist;
    let p = this.pos;
    for (let i = Math.max(start, end - TAPS); i < end; i++) {
      p = p === 0 ? TAPS - 1 : p - 1;
      h[p] = x[i]!;
      h[p + TAPS] = x[i]!;
    }
    this.pos = p;
  }

  private exact(x: ArrayLike<number>, start: number, end: number): void {
    const h = this.hist;
    const c = COEFFS;
    let p = this.pos;
    let peak = this.peakAbs;
    for (let i = start; i < end; i++) {
      const v = x[i]!;
      // hist[p] and hist[p + TAPS] both hold the newest sample; hist[p + k], k = 0..11, is
      // x[n − k] because p walks downwards.
      p = p === 0 ? TAPS - 1 : p - 1;
      h[p] = v;
      h[p + TAPS] = v;
      let m = Math.abs(v);
      if (m > peak) peak = m;
      // Skip the 48 multiply-adds when even the worst case cannot beat the current peak.
      let w = 0;
      for (let k = 0; k < TAPS; k++) {
        const a = Math.abs(h[p + k]!);
        if (a > w) w = a;
      }
      if (w * GAIN <= peak) continue;
      for (let o = 0; o < 4 * TAPS; o += TAPS) {
        const acc =
          c[o]! * h[p]! +
          c[o + 1]! * h[p + 1]! +
          c[o + 2]! * h[p + 2]! +
          c[o + 3]! * h[p + 3]! +
          c[o + 4]! * h[p + 4]! +
          c[o + 5]! * h[p + 5]! +
          c[o + 6]! * h[p + 6]! +
          c[o + 7]! * h[p + 7]! +
          c[o + 8]! * h[p + 8]! +
          c[o + 9]! * h[p + 9]! +
          c[o + 10]! * h[p + 10]! +
          c[o + 11]! * h[p + 11]!;
        const a = Math.abs(acc);
        if (a > m) m = a;
      }
      if (m > peak) peak = m;
    }
    this.pos = p;
    this.peakAbs = peak;
  }

  /** Pushes zeros through so the last samples are interpolated on both sides. */
  flush(): void {
    this.processRange(new Float64Array(TAPS), 0, TAPS);
  }
}
