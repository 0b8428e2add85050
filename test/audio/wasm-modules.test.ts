import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FFT_WASM_BASE64 } from "../../src/audio/features/fft-wasm.js";
import { FIR_WASM_BASE64 } from "../../src/audio/pcm/fir-wasm.js";
import { MFCC_WASM_BASE64 } from "../../src/audio/features/mfcc-wasm.js";

/** The WebAssembly JS API as far as used here (this project's TypeScript libs have no DOM). */
interface WasmApi {
  readonly Module: {
    new (bytes: Uint8Array): object;
    exports(m: object): { name: string; kind: string }[];
    imports(m: object): unknown[];
  };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface BuildScript {
  WASM_MODULES: Record<string, { src: string; out: string; constant: string }>;
  buildWasm: (name: string) => Promise<string>;
}

/** A variable, so TypeScript does not look for the script's type declarations. */
const BUILD_SCRIPT = "../../scripts/wasm/build.mjs";

const MODULES = [
  { name: "fir", base64: FIR_WASM_BASE64, exports: ["function:run", "memory:memory"] },
  { name: "mfcc", base64: MFCC_WASM_BASE64, exports: ["function:apply", "memory:memory"] },
  {
    name: "fft",
    base64: FFT_WASM_BASE64,
    exports: [
      "function:butterflies",
      "function:cross",
      "function:permute",
      "function:split",
      "function:unpack",
      "function:unsplit",
      "memory:memory",
    ],
  },
];

describe("WebAssembly SIMD kernels (generated artifacts)", () => {
  it("the build script knows exactly these modules", async () => {
    const script = (await import(BUILD_SCRIPT)) as BuildScript;
    expect(Object.keys(script.WASM_MODULES).sort()).toEqual(MODULES.map((m) => m.name).sort());
  });

  for (const m of MODULES) {
    it(`${m.name}: the committed file is exactly what scripts/wasm/build.mjs makes from the .wat`, async () => {
      const script = (await import(BUILD_SCRIPT)) as BuildScript;
      expect(readFileSync(script.WASM_MODULES[m.name]!.out, "utf8")).toBe(await script.buildWasm(m.name));
    });

    it(`${m.name}: small enough to compile synchronously in a browser, no imports, expected exports`, () => {
      const bytes = Buffer.from(m.base64, "base64");
      // Browsers compile synchronously on the main thread only below 4 KiB.
      expect(bytes.length).toBeLessThan(4096);
      const mod = new wasm.Module(bytes);
      expect(
        wasm.Module.exports(mod)
          .map((e) => `${e.kind}:${e.name}`)
          .sort(),
      ).toEqual(m.exports);
      expect(wasm.Module.imports(mod)).toEqual([]);
    });
  }
});
