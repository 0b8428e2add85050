/**
 * Synchronous loading of the project's small WebAssembly SIMD modules (resampler FIR, FFT).
 * Each module is a few KiB, under every browser's limit for synchronous compilation on the main
 * thread (4 KiB), so Node and browsers run the same bytes with no async set-up. Where WebAssembly
 * or its SIMD extension is unavailable, or compiling fails for any reason, callers get null and
 * keep their JavaScript loops.
 */

/** The parts of the WebAssembly JS API used here (this project's TypeScript libs have no DOM). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object, imports: object) => { readonly exports: unknown };
}
const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

export const WASM_PAGE = 65536;

/**
 * Compiles base64 module bytes once per loader; each call returns a new instance's exports (the
 * caller states their shape), or null where WebAssembly SIMD is unavailable.
 */
export function wasmLoader(base64: string): () => unknown {
  let compiled: object | null | undefined;
  return () => {
    if (compiled === undefined) {
      compiled = null;
      if (wasm !== undefined) {
        try {
          const bin = atob(base64);
          const bytes = new Uint8Array(bin.length);
          for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
          compiled = new wasm.Module(bytes);
        } catch {
          compiled = null;
        }
      }
    }
    if (compiled === null) return null;
    try {
      return new wasm!.Instance(compiled, {}).exports;
    } catch {
      return null;
    }
  };
}

/** Grows an instance's memory to at least `bytes`. */
export function ensureMemory(memory: WasmMemory, bytes: number): void {
  const have = memory.buffer.byteLength;
  if (bytes > have) memory.grow(Math.ceil((bytes - have) / WASM_PAGE));
}
