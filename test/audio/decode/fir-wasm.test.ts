import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FIR_WASM_BASE64 } from "../../../src/audio/pcm/fir-wasm.js";

/** The WebAssembly JS API as far as used here (this project's TypeScript libs have no DOM). */
interface WasmApi {
  readonly Module: {
    new (bytes: Uint8Array): object;
    exports(m: object): { name: string; kind: string }[];
    imports(m: object): unknown[];
  };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

describe("resampler WASM kernel artifact", () => {
  it("fir-wasm.ts is exactly what scripts/wasm/build-fir.mjs makes from fir.wat", async () => {
    const script = "../../../scripts/wasm/build-fir.mjs";
    const { buildFir } = (await import(script)) as { buildFir: () => Promise<string> };
    expect(readFileSync("src/audio/pcm/fir-wasm.ts", "utf8")).toBe(await buildFir());
  });

  it("is a small SIMD module with no imports, exporting its memory and run()", () => {
    const bytes = Buffer.from(FIR_WASM_BASE64, "base64");
    // Browsers compile synchronously on the main thread only below 4 KiB.
    expect(bytes.length).toBeLessThan(4096);
    const m = new wasm.Module(bytes);
    expect(
      wasm.Module.exports(m)
        .map((e) => `${e.kind}:${e.name}`)
        .sort(),
    ).toEqual(["function:run", "memory:memory"]);
    expect(wasm.Module.imports(m)).toEqual([]);
  });
});
