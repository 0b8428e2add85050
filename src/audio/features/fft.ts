/**
 * Radix-2 real FFT in double precision, allocation-free after construction.
 *
 * A real sequence of length N is packed into a complex sequence of length N/2 (even samples in
 * the real part, odd in the imaginary part), transformed with an iterative Cooley–Tukey FFT and
 * split into the N/2 + 1 non-redundant bins (the standard "two-for-one" trick, e.g. Oppenheim &
 * Schafer, Discrete-Time Signal Processing, §9). Pure TypeScript so it runs synchronously in the
 * browser without a WASM instantiation step; see bench/audio/features for its cost.
 */

import { VaultError } from "../../errors.js";

export class RealFft {
  readonly size: number;
  private readonly half: number;
  private readonly bitrev: Uint32Array;
  /**
   * Twiddles of the half-size complex FFT, per radix-2² pass of half-width h: for k < h,
   * (c2, s2) = W_{4h}^k and (c1, s1) = W_{2h}^k = (W_{4h}^k)², stored contiguously per pass.
   */
  private readonly passH: Int32Array;
  private readonly passOffset: Int32Array;
  private readonly tw: Float64Array;
  /** log2(half) is odd: one plain radix-2 pass (h = 1) runs first. */
  private readonly oddStage: boolean;
  /** cos/sin of -2πk/size, k ≤ half: twiddles of the real split. */
  private readonly splitCos: Float64Array;
  private readonly splitSin: Float64Array;
  private readonly zr: Float64Array;
  private readonly zi: Float64Array;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 4 || (size & (size - 1)) !== 0) {
      throw new VaultError("INVALID_ARGUMENT", `FFT size must be a power of two >= 4, got ${size}`);
    }
    this.size = size;
    const half = size >> 1;
    this.half = half;
    let bits = 0;
    while (1 << bits < half) bits++;
    this.bitrev = new Uint32Array(half);
    for (let i = 0; i < half; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.bitrev[i] = r;
    }
    this.oddStage = bits % 2 === 1;
    const hs: number[] = [];
    for (let h = this.oddStage ? 2 : 1; 4 * h <= half; h *= 4) hs.push(h);
    this.passH = Int32Array.from(hs);
    this.passOffset = new Int32Array(hs.length);
    let total = 0;
    hs.forEach((h, i) => {
      this.passOffset[i] = total;
      total += 4 * h;
    });
    this.tw = new Float64Array(Math.max(1, total));
    hs.forEach((h, i) => {
      const o = this.passOffset[i]!;
      for (let k = 0; k < h; k++) {
        const a2 = (-2 * Math.PI * k) / (4 * h);
        const a1 = 2 * a2;
        this.tw[o + 4 * k] = Math.cos(a1);
        this.tw[o + 4 * k + 1] = Math.sin(a1);
        this.tw[o + 4 * k + 2] = Math.cos(a2);
        this.tw[o + 4 * k + 3] = Math.sin(a2);
      }
    });
    this.splitCos = new Float64Array(half + 1);
    this.splitSin = new Float64Array(half + 1);
    for (let k = 0; k <= half; k++) {
      this.splitCos[k] = Math.cos((-2 * Math.PI * k) / size);
      this.splitSin[k] = Math.sin((-2 * Math.PI * k) / size);
    }
    this.zr = new Float64Array(half);
    this.zi = new Float64Array(half);
  }

  /**
   * Forward transform of `input` (length `size`, read only) into `re`/`im` (length size/2 + 1).
   * X[k] = Σ x[n]·e^{-2πikn/N}, unnormalised.
   */
  forward(input: ArrayLike<number>, re: Float64Array, im: Float64Array): void {
    const half = this.half;
    const zr = this.zr;
    const zi = this.zi;
    const bitrev = this.bitrev;
    for (let i = 0; i < half; i++) {
      const j = bitrev[i]!;
      zr[j] = input[2 * i]!;
      zi[j] = input[2 * i + 1]!;
    }
    this.butterflies(zr, zi);
    // Split: E[k] = (Z[k] + conj Z[M-k]) / 2, O[k] = (Z[k] - conj Z[M-k]) / 2i, X[k] = E + W^k O.
    re[0] = zr[0]! + zi[0]!;
    im[0] = 0;
    re[half] = zr[0]! - zi[0]!;
    im[half] = 0;
    const wc = this.splitCos;
    const ws = this.splitSin;
    for (let k = 1; k < half; k++) {
      const ar = zr[k]!;
      const ai = zi[k]!;
      const br = zr[half - k]!;
      const bi = -zi[half - k]!;
      const er = 0.5 * (ar + br);
      const ei = 0.5 * (ai + bi);
      // (a - b) / 2i = (ai - bi)/2 - i (ar - br)/2
      const or = 0.5 * (ai - bi);
      const oi = -0.5 * (ar - br);
      const c = wc[k]!;
      const s = ws[k]!;
      re[k] = er + c * or - s * oi;
      im[k] = ei + c * oi + s * or;
    }
  }

  /**
   * Inverse of {@link forward}: from N/2 + 1 bins to `out` (length `size`), including the 1/N
   * normalisation. `re`/`im` are read only.
   */
  inverse(re: Float64Array, im: Float64Array, out: Float64Array): void {
    const half = this.half;
    const zr = this.zr;
    const zi = this.zi;
    const wc = this.splitCos;
    const ws = this.splitSin;
    const bitrev = this.bitrev;
    for (let k = 0; k < half; k++) {
      const xr = re[k]!;
      const xi = im[k]!;
      const yr = re[half - k]!;
      const yi = -im[half - k]!;
      // E = (X[k] + conj X[M-k]) / 2, O = (X[k] - conj X[M-k]) / (2 W^k), Z = E + iO.
      const er = 0.5 * (xr + yr);
      const ei = 0.5 * (xi + yi);
      const dr = 0.5 * (xr - yr);
      const di = 0.5 * (xi - yi);
      const c = wc[k]!;
      const s = -ws[k]!; // 1/W^k = conj W^k
      const or = dr * c - di * s;
      const oi = dr * s + di * c;
      // Conjugate before a forward FFT to get the inverse FFT.
      const j = bitrev[k]!;
      zr[j] = er - oi;
      zi[j] = -(ei + or);
    }
    this.butterflies(zr, zi);
    const scale = 1 / half;
    for (let n = 0; n < half; n++) {
      out[2 * n] = zr[n]! * scale;
      out[2 * n + 1] = -zi[n]! * scale;
    }
  }

  /**
   * In-place iterative DIT on bit-reversed input, two radix-2 stages (half-widths h and 2h)
   * fused per pass ("radix-2²"): half the passes over memory of plain radix-2.
   */
  private butterflies(zr: Float64Array, zi: Float64Array): void {
    const n = this.half;
    if (this.oddStage) {
      for (let a = 0; a < n; a += 2) {
        const br = zr[a + 1]!;
        const bi = zi[a + 1]!;
        const ar = zr[a]!;
        const ai = zi[a]!;
        zr[a] = ar + br;
        zi[a] = ai + bi;
        zr[a + 1] = ar - br;
        zi[a + 1] = ai - bi;
      }
    }
    const tw = this.tw;
    for (let p = 0; p < this.passH.length; p++) {
      const h = this.passH[p]!;
      const off = this.passOffset[p]!;
      const len = 4 * h;
      for (let k = 0; k < h; k++) {
        const c1 = tw[off + 4 * k]!;
        const s1 = tw[off + 4 * k + 1]!;
        const c2 = tw[off + 4 * k + 2]!;
        const s2 = tw[off + 4 * k + 3]!;
        for (let a = k; a < n; a += len) {
          const b = a + h;
          const c = b + h;
          const d = c + h;
          // Stage 1 (half-width h, twiddle w1) on (a, b) and (c, d).
          const x1r = zr[b]! * c1 - zi[b]! * s1;
          const x1i = zr[b]! * s1 + zi[b]! * c1;
          const x3r = zr[d]! * c1 - zi[d]! * s1;
          const x3i = zr[d]! * s1 + zi[d]! * c1;
          const t0r = zr[a]! + x1r;
          const t0i = zi[a]! + x1i;
          const t1r = zr[a]! - x1r;
          const t1i = zi[a]! - x1i;
          const t2r = zr[c]! + x3r;
          const t2i = zi[c]! + x3i;
          const t3r = zr[c]! - x3r;
          const t3i = zi[c]! - x3i;
          // Stage 2 (half-width 2h): twiddle w2 on (a, c), −i·w2 on (b, d).
          const u2r = t2r * c2 - t2i * s2;
          const u2i = t2r * s2 + t2i * c2;
          const u3r = t3r * s2 + t3i * c2; // (−i·w2)·t3, real part
          const u3i = t3i * s2 - t3r * c2; // (−i·w2)·t3, imaginary part
          zr[a] = t0r + u2r;
          zi[a] = t0i + u2i;
          zr[c] = t0r - u2r;
          zi[c] = t0i - u2i;
          zr[b] = t1r + u3r;
          zi[b] = t1i + u3i;
          zr[d] = t1r - u3r;
          zi[d] = t1i - u3i;
        }
      }
    }
  }
}
