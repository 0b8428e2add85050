/**
 * The resampler's WebAssembly SIMD kernel (fir.wat): compiled once, synchronously (the module is
 * a few hundred bytes, under every browser's limit for synchronous compilation), one instance
 * and memory per resampler. Where WebAssembly or its SIMD extension is unavailable, or compiling
 * fails for any reason, callers get null and keep the scalar JavaScript loop.
 */
import { FIR_WASM_BASE64 } from "./fir-wasm.js";

/** The parts of the WebAssembly JS API used here (this project's TypeScript libs have no DOM). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object, imports: object) => { readonly exports: unknown };
}
const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

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

let compiled: object | null | undefined;

function firModule(): object | null {
  if (compiled !== undefined) return compiled;
  if (wasm === undefined) return (compiled = null);
  try {
    const bin = atob(FIR_WASM_BASE64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    compiled = new wasm.Module(bytes);
  } catch {
    compiled = null;
  }
  return compiled;
}

export function firKernelAvailable(): boolean {
  return firModule() !== null;
}

export function createFirKernel(): FirKernel | null {
  const m = firModule();
  if (m === null) return null;
  try {
    return new wasm!.Instance(m, {}).exports as FirKernel;
  } catch {
    return null;
  }
}
