import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { MfccTransform } from "../../../src/audio/features/mfcc.js";

/** Log-mel-like values from a seed (float32, negative and positive, a few exact zeros). */
function logMel(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, (_, i) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return i % 97 === 0 ? 0 : ((s >>> 0) / 2 ** 32) * 40 - 25;
  });
}

describe("MfccTransform WebAssembly SIMD kernel", () => {
  it("is used by default where the runtime has WebAssembly SIMD (Node 20 has)", () => {
    expect(new MfccTransform(80, { numCeps: 20 }).kernel).toBe("wasm");
    expect(new MfccTransform(80, { numCeps: 20, kernel: "js" }).kernel).toBe("js");
  });

  fcTest.prop(
    [
      fc.integer({ min: 1, max: 80 }),
      fc.integer({ min: 0, max: 200 }),
      fc.integer({ min: 1, max: 2 ** 31 }),
      fc.constantFrom(0, 22),
    ],
    { numRuns: 60 },
  )(
    "gives the scalar loop's results bit for bit, odd and even numCeps, any frame count",
    (ceps, frames, seed, lifter) => {
      const bins = Math.max(ceps, 23 + (seed % 58));
      const x = logMel(frames * bins, seed);
      const wasm = new MfccTransform(bins, { numCeps: ceps, cepstralLifter: lifter });
      const js = new MfccTransform(bins, { numCeps: ceps, cepstralLifter: lifter, kernel: "js" });
      const a = wasm.applyAll(x, frames);
      const b = js.applyAll(x, frames);
      const one = new Float32Array(frames * ceps);
      for (let t = 0; t < frames; t++) js.apply(x, t * bins, one, t * ceps);
      expect(a).toEqual(b);
      expect(b).toEqual(one);
    },
  );

  it("keeps its matrix when its memory grows for a longer batch, and returns fresh arrays", () => {
    const t = new MfccTransform(80, { numCeps: 13 });
    const small = logMel(80 * 3, 5);
    const first = t.applyAll(small, 3);
    const big = logMel(80 * 5000, 6);
    const ref = new MfccTransform(80, { numCeps: 13, kernel: "js" });
    expect(t.applyAll(big, 5000)).toEqual(ref.applyAll(big, 5000));
    expect(t.applyAll(small, 3)).toEqual(first);
    expect(first).toEqual(ref.applyAll(small, 3));
  });
});
