/**
 * Radix-2 real FFT in double precision, allocation-free after construction.
 *
 * A real sequence of length N is packed into a complex sequence of length N/2 (even samples in
 * the real part, odd in the imaginary part), transformed with an iterative Cooley–Tukey FFT and
 * split into the N/2 + 1 non-redundant bins (the standard "two-for-one" trick, e.g. Oppenheim &
 * Schafer, Discrete-Time Signal Processing, §9).
 *
 * Two interchangeable kernels: a WebAssembly SIMD module (fft.wat, synchronous to load, two
 * butterflies per instruction) and this file's TypeScript loops. The module performs the same
 * IEEE-754 double operations in the same order as the loops, so both give bit-identical results:
 * a template never depends on which one ran (Node, a browser with or without WebAssembly SIMD).
 */

import { VaultError } from "../../errors.js";
import { ensureMemory, wasmLoader, type WasmMemory } from "../wasm/runtime.js";
import { FFT_WASM_BASE64 } from "./fft-wasm.js";

/** fft.wat's exports; offsets in bytes into its memory. */
interface FftKernel {
  readonly memory: WasmMemory;
  permute(input: number, rev: number, zr: number, zi: number, half: number): void;
  butterflies(zr: number, zi: number, n: number, odd: number, plan: number, passes: number): void;
  split(zr: number, zi: number, re: number, im: number, half: number, cos: number, sin: number): void;
  unsplit(
    re: number,
    im: number,
    zr: number,
    zi: number,
    half: number,
    cos: number,
    sin: number,
    rev: number,
  ): void;
  unpack(zr: number, zi: number, out: number, half: number, scale: number): void;
  cross(xr: number, xi: number, yr: number, yi: number, count: number): void;
}

const instantiate = wasmLoader(FFT_WASM_BASE64);
const loadKernel = (): FftKernel | null => instantiate() as FftKernel | null;

export interface RealFftOptions {
  /**
   * "wasm" (default): the WebAssembly SIMD kernel where the runtime has it, else the TypeScript
   * loops; "js": always the loops. Results are identical either way.
   */
  readonly kernel?: "wasm" | "js";
}

/** Byte offsets of one transform's buffers in its kernel's memory (16-byte aligned). */
interface KernelLayout {
  readonly input: number;
  readonly zr: number;
  readonly zi: number;
  readonly re: number;
  readonly im: number;
  readonly re2: number;
  readonly im2: number;
  readonly cos: number;
  readonly sin: number;
  readonly rev: number;
  readonly plan: number;
}

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
  /** Which kernel runs: see {@link RealFftOptions.kernel}. */
  readonly kernel: "wasm" | "js";
  private readonly k: FftKernel | null;
  private readonly at: KernelLayout | null;
  /** Views of the kernel's memory (empty without a kernel). */
  private readonly inView: Float64Array;
  private readonly reView: Float64Array;
  private readonly imView: Float64Array;
  /** Scratch spectra of the JavaScript {@link correlate}. */
  private scratch: Float64Array[] | null = null;

  constructor(size: number, options: RealFftOptions = {}) {
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
    this.k = options.kernel === "js" ? null : loadKernel();
    this.kernel = this.k === null ? "js" : "wasm";
    this.at = this.k === null ? null : this.placeInKernel(hs);
    const buf = this.k?.memory.buffer ?? new ArrayBuffer(0);
    this.inView = this.at === null ? new Float64Array(0) : new Float64Array(buf, this.at.input, size);
    this.reView = this.at === null ? new Float64Array(0) : new Float64Array(buf, this.at.re, half + 1);
    this.imView = this.at === null ? new Float64Array(0) : new Float64Array(buf, this.at.im, half + 1);
  }

  /** Lays out buffers and tables in the kernel's memory (grown first, so views stay valid). */
  private placeInKernel(hs: readonly number[]): KernelLayout {
    const k = this.k!;
    const size = this.size;
    const half = this.half;
    let top = 0;
    const take = (bytes: number): number => {
      const at = top;
      top += (bytes + 15) & ~15;
      return at;
    };
    const spectrum = (half + 2) * 8; // one pad bin: cross() works on pairs
    const at = {
      input: take(size * 8),
      zr: take(half * 8),
      zi: take(half * 8),
      re: take(spectrum),
      im: take(spectrum),
      re2: take(spectrum),
      im2: take(spectrum),
      cos: take((half + 1) * 8),
      sin: take((half + 1) * 8),
      rev: take(half * 4),
      plan: take(hs.length * 20),
    };
    const twiddles = hs.map((h) => [take(h * 8), take(h * 8), take(h * 8), take(h * 8)] as const);
    ensureMemory(k.memory, top);
    const buf = k.memory.buffer;
    new Float64Array(buf, at.cos, half + 1).set(this.splitCos);
    new Float64Array(buf, at.sin, half + 1).set(this.splitSin);
    const rev = new Int32Array(buf, at.rev, half);
    for (let i = 0; i < half; i++) rev[i] = this.bitrev[i]! * 8;
    const plan = new Int32Array(buf, at.plan, hs.length * 5);
    hs.forEach((h, p) => {
      const [c1, s1, c2, s2] = twiddles[p]!;
      plan.set([h, c1, s1, c2, s2], p * 5);
      const o = this.passOffset[p]!;
      const views = [c1, s1, c2, s2].map((off) => new Float64Array(buf, off, h));
      for (let i = 0; i < h; i++) {
        for (let j = 0; j < 4; j++) views[j]![i] = this.tw[o + 4 * i + j]!;
      }
    });
    return at;
  }

  /** Copies a real input sequence into the kernel's input buffer. */
  private load(input: ArrayLike<number>): void {
    const v = this.inView;
    if (ArrayBuffer.isView(input) && input.length === this.size) {
      v.set(input);
    } else {
      for (let i = 0; i < this.size; i++) v[i] = input[i]!;
    }
  }

  /** Kernel forward transform of the input buffer into the re/im (or re2/im2) buffers. */
  private kernelForward(second: boolean): void {
    const k = this.k!;
    const at = this.at!;
    k.permute(at.input, at.rev, at.zr, at.zi, this.half);
    k.butterflies(at.zr, at.zi, this.half, this.oddStage ? 1 : 0, at.plan, this.passH.length);
    k.split(at.zr, at.zi, second ? at.re2 : at.re, second ? at.im2 : at.im, this.half, at.cos, at.sin);
  }

  /** Kernel inverse transform of the re/im buffers into the input buffer. */
  private kernelInverse(): void {
    const k = this.k!;
    const at = this.at!;
    k.unsplit(at.re, at.im, at.zr, at.zi, this.half, at.cos, at.sin, at.rev);
    k.butterflies(at.zr, at.zi, this.half, this.oddStage ? 1 : 0, at.plan, this.passH.length);
    k.unpack(at.zr, at.zi, at.input, this.half, 1 / this.half);
  }

  /**
   * Forward transform of `input` (length `size`, read only) into `re`/`im` (length size/2 + 1).
   * X[k] = Σ x[n]·e^{-2πikn/N}, unnormalised.
   */
  forward(input: ArrayLike<number>, re: Float64Array, im: Float64Array): void {
    if (this.k !== null) {
      this.load(input);
      this.kernelForward(false);
      re.set(this.reView);
      im.set(this.imView);
      return;
    }
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
    if (this.k !== null) {
      this.reView.set(re.subarray(0, this.half + 1));
      this.imView.set(im.subarray(0, this.half + 1));
      this.kernelInverse();
      out.set(this.inView);
      return;
    }
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
   * Circular cross-correlation out[τ] = Σ_j b[j]·a[(j + τ) mod N] = IFFT(A · conj(B)) of two
   * real sequences of length `size` (read only) into `out` (length `size`). Zero-pad the inputs
   * to get the linear correlation for the lags that do not wrap.
   */
  correlate(a: ArrayLike<number>, b: ArrayLike<number>, out: Float64Array): void {
    const half = this.half;
    if (this.k !== null) {
      const at = this.at!;
      this.load(a);
      this.kernelForward(false);
      this.load(b);
      this.kernelForward(true);
      this.k.cross(at.re, at.im, at.re2, at.im2, half + 1);
      this.kernelInverse();
      out.set(this.inView);
      return;
    }
    this.scratch ??= [0, 1, 2, 3].map(() => new Float64Array(half + 1));
    const [xr, xi, yr, yi] = this.scratch as [Float64Array, Float64Array, Float64Array, Float64Array];
    this.forward(a, xr, xi);
    this.forward(b, yr, yi);
    for (let k = 0; k <= half; k++) {
      const ar = xr[k]!;
      const ai = xi[k]!;
      const br = yr[k]!;
      const bi = yi[k]!;
      xr[k] = ar * br + ai * bi;
      xi[k] = ai * br - ar * bi;
    }
    this.inverse(xr, xi, out);
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
