/**
 * Kaldi MFCC from log-mel energies (feature-mfcc.cc; torchaudio.compliance.kaldi.mfcc with
 * use_energy = false): orthonormal DCT-II with the c0 row scaled by √(1/N), truncated to
 * numCeps, then the sinusoidal cepstral lifter 1 + (Q/2)·sin(πi/Q) (Juang et al. 1987).
 */

import { VaultError } from "../../errors.js";
import { ensureMemory, wasmLoader, type WasmMemory } from "../wasm/runtime.js";
import { MFCC_WASM_BASE64 } from "./mfcc-wasm.js";

/** mfcc.wat: offsets in bytes, counts in values. */
interface MfccKernel {
  readonly memory: WasmMemory;
  apply(mat: number, N: number, C: number, x: number, out: number, frames: number): void;
}
const loadKernel = wasmLoader(MFCC_WASM_BASE64) as () => MfccKernel | null;

export interface MfccOptions {
  /** Default 13. */
  readonly numCeps?: number;
  /** Lifter coefficient Q; 0 disables. Default 22 (Kaldi). */
  readonly cepstralLifter?: number;
  /**
   * "wasm" (default): {@link MfccTransform.applyAll} runs in the WebAssembly SIMD kernel
   * (mfcc.wat) where the runtime has it, else in TypeScript; "js": always TypeScript. Both give
   * identical results.
   */
  readonly kernel?: "wasm" | "js";
}

export class MfccTransform {
  readonly numMelBins: number;
  readonly numCeps: number;
  /** Which kernel runs applyAll. */
  readonly kernel: "wasm" | "js";
  /** numCeps × numMelBins, lifter folded in. */
  private readonly matrix: Float64Array;
  private readonly k: MfccKernel | null;
  /** Frames the kernel's input and output buffers hold, and where they start. */
  private kFrames = 0;
  private kIn = 0;
  private kOut = 0;

  constructor(numMelBins: number, options: MfccOptions = {}) {
    const numCeps = options.numCeps ?? 13;
    const lifter = options.cepstralLifter ?? 22;
    if (!Number.isInteger(numCeps) || numCeps < 1 || numCeps > numMelBins) {
      throw new VaultError("INVALID_ARGUMENT", `mfcc: numCeps must be in 1..${numMelBins}`);
    }
    this.numMelBins = numMelBins;
    this.numCeps = numCeps;
    this.matrix = new Float64Array(numCeps * numMelBins);
    const N = numMelBins;
    for (let k = 0; k < numCeps; k++) {
      const norm = k === 0 ? Math.sqrt(1 / N) : Math.sqrt(2 / N);
      const lift = lifter !== 0 ? 1 + 0.5 * lifter * Math.sin((Math.PI * k) / lifter) : 1;
      for (let n = 0; n < N; n++) {
        this.matrix[k * N + n] = lift * norm * Math.cos((Math.PI / N) * (n + 0.5) * k);
      }
    }
    this.k = options.kernel === "js" ? null : loadKernel();
    this.kernel = this.k === null ? "js" : "wasm";
    if (this.k !== null) {
      // The matrix with its rows interleaved in pairs (mfcc.wat), at offset 0.
      const pairs = Math.ceil(numCeps / 2);
      ensureMemory(this.k.memory, pairs * N * 16);
      const m = new Float64Array(this.k.memory.buffer, 0, pairs * N * 2);
      for (let r = 0; r < numCeps; r++) {
        const p = r >> 1;
        for (let n = 0; n < N; n++) m[(p * N + n) * 2 + (r & 1)] = this.matrix[r * N + n]!;
      }
    }
  }

  /** Room in the kernel's memory for `frames` frames in and out (16-byte aligned). */
  private reserve(k: MfccKernel, frames: number): void {
    if (frames <= this.kFrames) return;
    const matBytes = Math.ceil(this.numCeps / 2) * this.numMelBins * 16;
    this.kIn = matBytes;
    this.kOut = this.kIn + Math.ceil((frames * this.numMelBins * 4) / 16) * 16;
    ensureMemory(k.memory, this.kOut + frames * this.numCeps * 4);
    this.kFrames = frames;
  }

  /** logMel[inOffset …] (numMelBins) → out[outOffset …] (numCeps). */
  apply(logMel: ArrayLike<number>, inOffset: number, out: Float32Array, outOffset: number): void {
    const N = this.numMelBins;
    const m = this.matrix;
    for (let k = 0; k < this.numCeps; k++) {
      let acc = 0;
      const row = k * N;
      for (let n = 0; n < N; n++) acc += m[row + n]! * logMel[inOffset + n]!;
      out[outOffset + k] = acc;
    }
  }

  /**
   * All frames of a row-major log-mel matrix: the same sums in the same order as {@link apply}
   * (identical results), in the SIMD kernel (two rows per f64x2) or in one monomorphic loop over
   * float32 input (`apply`'s ArrayLike parameter is slower where other callers make that access
   * site polymorphic).
   */
  applyAll(logMel: Float32Array, numFrames: number): Float32Array {
    const k = this.k;
    if (k !== null && numFrames > 0) {
      this.reserve(k, numFrames);
      const N = this.numMelBins;
      new Float32Array(k.memory.buffer, this.kIn, numFrames * N).set(logMel.subarray(0, numFrames * N));
      k.apply(0, N, this.numCeps, this.kIn, this.kOut, numFrames);
      return new Float32Array(k.memory.buffer, this.kOut, numFrames * this.numCeps).slice();
    }
    const N = this.numMelBins;
    const C = this.numCeps;
    const m = this.matrix;
    const out = new Float32Array(numFrames * C);
    for (let t = 0; t < numFrames; t++) {
      const x0 = t * N;
      for (let k = 0; k < C; k++) {
        let acc = 0;
        const row = k * N;
        for (let n = 0; n < N; n++) acc += m[row + n]! * logMel[x0 + n]!;
        out[t * C + k] = acc;
      }
    }
    return out;
  }
}
