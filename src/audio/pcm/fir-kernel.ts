/**
 * The resampler's WebAssembly SIMD kernel (fir.wat), loaded through the shared runtime: one
 * instance and memory per resampler; null where WebAssembly SIMD is unavailable (callers keep the
 * scalar JavaScript loop).
 */
import { wasmLoader, type WasmMemory } from "../wasm/runtime.js";
import { FIR_WASM_BASE64 } from "./fir-wasm.js";

export interface FirKernel {
  readonly memory: WasmMemory;
  /** See fir.wat: offsets in bytes, counts in samples. */
  run(
    coef: number,
    K: number,
    buf: number,
    out: number,
    n: number,
    x: number,
    phase: number,
    L: number,
    stepBase: number,
    stepPhase: number,
  ): void;
}

const instantiate = wasmLoader(FIR_WASM_BASE64);
const load = (): FirKernel | null => instantiate() as FirKernel | null;
let available: boolean | undefined;

export function firKernelAvailable(): boolean {
  return (available ??= load() !== null);
}

export function createFirKernel(): FirKernel | null {
  return load();
}
