import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { RealFft } from "../../../src/audio/features/fft.js";

/** Element-wise bit equality (Object.is distinguishes −0 and compares NaN to itself). */
function firstDifference(a: Float64Array, b: Float64Array): number {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

function noise(n: number, seed: number): Float64Array {
  let s = seed >>> 0 || 1;
  return Float64Array.from({ length: n }, () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 31 - 1;
  });
}

describe("RealFft WebAssembly SIMD kernel", () => {
  it("is used by default where the runtime has WebAssembly SIMD (Node 20 has)", () => {
    expect(new RealFft(512).kernel).toBe("wasm");
    expect(new RealFft(512, { kernel: "js" }).kernel).toBe("js");
  });

  it("gives bit-identical forward, inverse and correlation to the TypeScript loops, every size", () => {
    for (let lg = 2; lg <= 13; lg++) {
      const n = 1 << lg;
      const w = new RealFft(n);
      const j = new RealFft(n, { kernel: "js" });
      for (let seed = 1; seed <= 3; seed++) {
        const x = noise(n, seed * 7919 + n);
        const y = noise(n, seed * 104729 + n);
        const [r1, i1, r2, i2] = [0, 1, 2, 3].map(() => new Float64Array(n / 2 + 1)) as [
          Float64Array,
          Float64Array,
          Float64Array,
          Float64Array,
        ];
        w.forward(x, r1, i1);
        j.forward(x, r2, i2);
        expect(firstDifference(r1, r2), `forward re, n=${n}`).toBe(-1);
        expect(firstDifference(i1, i2), `forward im, n=${n}`).toBe(-1);
        const o1 = new Float64Array(n);
        const o2 = new Float64Array(n);
        w.inverse(r1, i1, o1);
        j.inverse(r2, i2, o2);
        expect(firstDifference(o1, o2), `inverse, n=${n}`).toBe(-1);
        w.correlate(x, y, o1);
        j.correlate(x, y, o2);
        expect(firstDifference(o1, o2), `correlate, n=${n}`).toBe(-1);
      }
    }
  });

  fcTest.prop([
    fc.integer({ min: 2, max: 11 }),
    fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 2048 }),
  ])("stays bit-identical on arbitrary inputs, including ±0 and wide ranges", (lg, values) => {
    const n = 1 << lg;
    const x = Float64Array.from({ length: n }, (_, i) => values[i % values.length]!);
    const w = new RealFft(n);
    const j = new RealFft(n, { kernel: "js" });
    const a = [new Float64Array(n / 2 + 1), new Float64Array(n / 2 + 1)] as const;
    const b = [new Float64Array(n / 2 + 1), new Float64Array(n / 2 + 1)] as const;
    w.forward(x, a[0], a[1]);
    j.forward(x, b[0], b[1]);
    expect(firstDifference(a[0], b[0])).toBe(-1);
    expect(firstDifference(a[1], b[1])).toBe(-1);
  });

  it("correlate is the linear cross-correlation for lags that do not wrap", () => {
    const n = 64;
    const a = new Float64Array(n);
    const b = new Float64Array(n);
    a.set(noise(40, 3));
    b.set(a.subarray(0, 20));
    for (const kernel of ["wasm", "js"] as const) {
      const r = new Float64Array(n);
      new RealFft(n, { kernel }).correlate(a, b, r);
      for (let tau = 0; tau <= 20; tau++) {
        let direct = 0;
        for (let j = 0; j < 20; j++) direct += b[j]! * a[j + tau]!;
        expect(r[tau]).toBeCloseTo(direct, 10);
      }
    }
  });

  it("keeps separate transforms independent (each has its own memory)", () => {
    const f1 = new RealFft(256);
    const f2 = new RealFft(256);
    const x = noise(256, 5);
    const re = new Float64Array(129);
    const im = new Float64Array(129);
    f1.forward(x, re, im);
    const r2 = new Float64Array(129);
    f2.forward(noise(256, 6), r2, new Float64Array(129));
    const again = new Float64Array(129);
    f1.forward(x, again, new Float64Array(129));
    expect(firstDifference(re, again)).toBe(-1);
  });
});
