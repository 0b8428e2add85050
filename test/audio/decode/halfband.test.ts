import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import {
  halfbandDesign,
  HalfbandDecimator,
  halfbandPairs,
  kaiserBeta,
} from "../../../src/audio/pcm/halfband.js";

const BETA = kaiserBeta(100);

function decimate(x: Float64Array, sizes: readonly number[], J = 13): Float64Array {
  const h = new HalfbandDecimator(halfbandDesign(J, BETA));
  const parts: Float64Array[] = [];
  let pos = 0;
  for (let i = 0; pos < x.length; i++) {
    const n = Math.min(x.length - pos, sizes[i % sizes.length]!);
    parts.push(h.process(x.subarray(pos, pos + n)));
    pos += n;
  }
  parts.push(h.flush());
  const out = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Amplitude of a tone at `f` (cycles per output sample) over the middle of y. */
function toneAmp(y: Float64Array, f: number): number {
  let re = 0;
  let im = 0;
  const a = 200;
  const b = y.length - 200;
  for (let i = a; i < b; i++) {
    re += y[i]! * Math.cos(2 * Math.PI * f * i);
    im += y[i]! * Math.sin(2 * Math.PI * f * i);
  }
  return (2 * Math.hypot(re, im)) / (b - a);
}

describe("HalfbandDecimator", () => {
  it("has the halfband structure: centre 1/2 (before normalisation) and unit DC gain", () => {
    const d = halfbandDesign(13, BETA);
    expect(d.pairs.length).toBe(13);
    expect(d.centre + 2 * d.pairs.reduce((a, v) => a + v, 0)).toBeCloseTo(1, 14);
    expect(halfbandPairs(100, (22050 - 16000) / 44100)).toBe(13);
  });

  it("passes the band below the transition flat and rejects its image band by 100 dB", () => {
    // Input rate 1: passband to 8/44.1 ≈ 0.181, stopband from 0.319 (the 44.1 kHz design).
    const n = 40000;
    for (const f of [0.01, 0.1, 0.18]) {
      const x = Float64Array.from({ length: n }, (_, i) => 0.5 * Math.sin(2 * Math.PI * f * i));
      const y = decimate(x, [n]);
      expect(Math.abs(20 * Math.log10(toneAmp(y, 2 * f) / 0.5)), `pass ${f}`).toBeLessThan(0.001);
    }
    for (const f of [0.32, 0.4, 0.49]) {
      const x = Float64Array.from({ length: n }, (_, i) => 0.5 * Math.sin(2 * Math.PI * f * i));
      const y = decimate(x, [n]);
      // After decimation the tone aliases to 1 − 2f cycles per output sample.
      expect(20 * Math.log10(toneAmp(y, 1 - 2 * f) / 0.5), `stop ${f}`).toBeLessThan(-95);
    }
  });

  fcTest.prop(
    [
      fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 0, maxLength: 600 }),
      fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 5 }),
    ],
    { numRuns: 50 },
  )("output is ceil(n/2) samples, identical under any chunking, and zero-phase", (xs, sizes) => {
    const x = Float64Array.from(xs);
    const whole = decimate(x, [Math.max(1, x.length)]);
    expect(whole.length).toBe(Math.ceil(x.length / 2));
    expect(decimate(x, sizes)).toEqual(whole);
    // An impulse at input 2m comes out centred on output m.
    const imp = new Float64Array(200);
    imp[100] = 1;
    const y = decimate(imp, sizes);
    let best = 0;
    for (let i = 1; i < y.length; i++) if (Math.abs(y[i]!) > Math.abs(y[best]!)) best = i;
    expect(best).toBe(50);
  });
});
