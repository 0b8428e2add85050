import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { TRUE_PEAK_PHASES, TruePeakChannel } from "../../../src/audio/features/truepeak.js";

/** Direct BS.1770-4 Annex 2 oversampling of the whole signal (zeros before and after). */
function naiveTruePeak(x: Float64Array): number {
  const taps = TRUE_PEAK_PHASES[0]!.length;
  const at = (n: number): number => (n >= 0 && n < x.length ? x[n]! : 0);
  let peak = 0;
  for (let n = 0; n < x.length + taps; n++) {
    peak = Math.max(peak, Math.abs(at(n)));
    for (const h of TRUE_PEAK_PHASES) {
      let acc = 0;
      for (let k = 0; k < taps; k++) acc += h[k]! * at(n - k);
      peak = Math.max(peak, Math.abs(acc));
    }
  }
  return peak;
}

function run(x: Float64Array, sizes: readonly number[]): number {
  const ch = new TruePeakChannel();
  let pos = 0;
  for (let i = 0; pos < x.length; i++) {
    const n = Math.min(x.length - pos, sizes[i % sizes.length]!);
    ch.processRange(x, pos, pos + n);
    pos += n;
  }
  ch.flush();
  return ch.peak;
}

describe("TruePeakChannel", () => {
  it("finds an inter-sample peak above the sample peak (fs/4 sine at 45° phase)", () => {
    const x = Float64Array.from({ length: 4000 }, (_, i) => 0.5 * Math.sin((Math.PI / 2) * i + Math.PI / 4));
    const tp = run(x, [4000]);
    // Samples sit at ±0.354; the waveform between them reaches 0.5.
    expect(Math.max(...x.map(Math.abs))).toBeCloseTo(0.3536, 3);
    expect(tp).toBeGreaterThan(0.49);
    expect(tp).toBe(naiveTruePeak(x));
  });

  fcTest.prop(
    [
      fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 0, maxLength: 1500 }),
      fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 0, max: 1499 }),
    ],
    { numRuns: 60 },
  )(
    "block pruning gives exactly the direct computation, however the input is chunked",
    (xs, sizes, spike) => {
      const x = Float64Array.from(xs);
      // A late alternating burst: the peak moves after many blocks were pruned.
      for (let i = spike; i < Math.min(x.length, spike + 5); i++) x[i] = i % 2 ? 0.99 : -0.99;
      expect(run(x, sizes)).toBe(naiveTruePeak(x));
    },
  );
});
