import fc from "fast-check";
import { combine as refCombine, split as refSplit } from "shamir-secret-sharing";
import { describe, expect, it } from "vitest";
import { combine, gfInv, gfMul, split } from "../../src/crypto/shamir.js";

/** Carry-less multiplication reduced by x^8+x^4+x^3+x+1, written the textbook way (FIPS 197 §4.2). */
function slowMul(a: number, b: number): number {
  let p = 0;
  for (let i = 0; i < 8; i++) if ((b >> i) & 1) p ^= a << i;
  for (let bit = 14; bit >= 8; bit--) if ((p >> bit) & 1) p ^= 0x11b << (bit - 8);
  return p;
}

describe("GF(2^8)", () => {
  it("multiplies as the textbook reduction does, for every pair", () => {
    for (let a = 0; a < 256; a++) for (let b = 0; b < 256; b++) expect(gfMul(a, b)).toBe(slowMul(a, b));
  });
  it("FIPS 197 §4.2 example: {57}·{83} = {c1}", () => {
    expect(gfMul(0x57, 0x83)).toBe(0xc1);
  });
  it("inverts every non-zero element", () => {
    for (let a = 1; a < 256; a++) expect(gfMul(a, gfInv(a))).toBe(1);
  });
});

describe("shamir", () => {
  it("any threshold-sized subset recovers the secret; fewer give something else", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 48 }),
        fc.integer({ min: 2, max: 8 }),
        fc.integer({ min: 0, max: 4 }),
        fc.integer(),
        (secret, t, extra, seed) => {
          const n = t + extra;
          const shares = split(secret, t, n);
          // a pseudo-random subset of size t, and one of size t-1
          const order = shares.map((s, i) => ({ s, k: Math.imul(i + 1, seed | 1) >>> 0 }));
          order.sort((a, b) => a.k - b.k);
          const subset = order.slice(0, t).map((o) => o.s);
          expect(combine(subset)).toEqual(secret);
          expect(combine(order.slice(0, Math.min(n, t + 1)).map((o) => o.s))).toEqual(secret);
          if (secret.length >= 16) expect(combine(subset.slice(0, t - 1))).not.toEqual(secret);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a share is uniformly distributed on its own (one byte's histogram over many splits)", () => {
    const counts = new Array<number>(256).fill(0);
    const runs = 25_600;
    for (let i = 0; i < runs; i++) counts[split(Uint8Array.of(0x42), 3, 3)[1]!.y[0]!]!++;
    // chi-square with 255 degrees of freedom: mean 255, sd ≈ 22.6; 400 is beyond 6 sd
    const expected = runs / 256;
    const chi2 = counts.reduce((acc, c) => acc + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(400);
  });

  it("agrees with an independent implementation (shamir-secret-sharing) in both directions", async () => {
    for (let run = 0; run < 20; run++) {
      const secret = crypto.getRandomValues(new Uint8Array(32));
      const t = 2 + (run % 4);
      const n = t + (run % 3);
      // ours → theirs: their format is y ‖ x
      const ours = split(secret, t, n);
      const asTheirs = ours.slice(0, t).map((s) => Uint8Array.from([...s.y, s.x]));
      expect(await refCombine(asTheirs)).toEqual(secret);
      // theirs → ours
      const theirs = await refSplit(secret, n, t);
      const asOurs = theirs
        .slice(n - t)
        .map((s) => ({ x: s[s.length - 1]!, y: s.subarray(0, s.length - 1) }));
      expect(combine(asOurs)).toEqual(secret);
    }
  });

  it("refuses malformed share sets instead of guessing", () => {
    const shares = split(new Uint8Array(32).fill(7), 2, 3);
    expect(() => combine([])).toThrow(/no shares/);
    expect(() => combine([shares[0]!, shares[0]!])).toThrow(/one x/);
    expect(() => combine([shares[0]!, { x: 0, y: shares[1]!.y }])).toThrow(/x outside/);
    expect(() => combine([shares[0]!, { x: 2, y: shares[1]!.y.subarray(1) }])).toThrow(/lengths/);
    expect(() => split(new Uint8Array(4), 3, 2)).toThrow(RangeError);
    expect(() => split(new Uint8Array(4), 2, 256)).toThrow(RangeError);
  });
});
