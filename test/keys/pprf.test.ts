import { createHmac } from "node:crypto";
import { fc, test as fcTest } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import { PuncturableKey } from "../../src/keys/pprf.js";
import { VaultError } from "../../src/errors.js";

/** Reference GGM walk from the root seed, written independently of the key's subtree bookkeeping. */
function reference(seed: Uint8Array, x: number): Buffer {
  let s = Buffer.from(seed);
  for (let i = 31; i >= 0; i--) {
    const bit = (x >>> i) & 1;
    s = createHmac("sha256", s).update("voxvault/ggm/v1").update(Uint8Array.of(bit)).digest();
  }
  return s;
}

const MAX = 2 ** 32 - 1;
const point = fc.integer({ min: 0, max: MAX });
const seedArb = fc.uint8Array({ minLength: 32, maxLength: 32 });

/** Every subtree (depth, prefix) the serialized key holds: what an attacker holding it has. */
function subtrees(key: PuncturableKey): { lo: number; hi: number; seed: Buffer }[] {
  const b = Buffer.from(key.serialize());
  const n = b.readUInt32BE(8);
  const out = [];
  for (let i = 0, o = 12; i < n; i++, o += 37) {
    const depth = b[o]!;
    const prefix = b.readUInt32BE(o + 1);
    const lo = prefix * 2 ** (32 - depth);
    out.push({ lo, hi: lo + 2 ** (32 - depth) - 1, seed: b.subarray(o + 5, o + 37) });
  }
  return out;
}

describe("puncturable PRF (GGM)", () => {
  it("matches the reference walk at the domain's edges", () => {
    const seed = new Uint8Array(32).fill(7);
    const k = PuncturableKey.fromSeed(seed);
    for (const x of [0, 1, 2 ** 28, 2 ** 31, MAX - 1, MAX]) {
      expect(Buffer.from(k.eval(x)).equals(reference(seed, x))).toBe(true);
    }
    // a fixed vector, so that a change of construction cannot pass unnoticed
    const zero = PuncturableKey.fromSeed(new Uint8Array(32));
    expect(Buffer.from(zero.eval(0)).toString("hex")).toBe(
      "ca1f2f0391caf7161f3a739670c033f33fc2318b26701962bc98c57ea0dd6c97",
    );
    expect(Buffer.from(zero.eval(2 ** 28)).toString("hex")).toBe(
      "f1d2a8df6a7d79639d4adc9f38199e9dc72290b5df2e1d363f1cb95513d0a22e",
    );
  });

  fcTest.prop(
    [seedArb, fc.uniqueArray(point, { minLength: 1, maxLength: 40 }), fc.array(point, { maxLength: 40 })],
    {
      numRuns: 60,
    },
  )("punctured points fail, every other point keeps its value", (seed, punctured, probes) => {
    const k = PuncturableKey.fromSeed(seed);
    for (const x of punctured) expect(k.puncture(x)).toBe(true);
    for (const x of punctured) {
      expect(k.isPunctured(x)).toBe(true);
      expect(() => k.eval(x)).toThrow(VaultError);
      expect(k.puncture(x)).toBe(false);
    }
    const set = new Set(punctured);
    for (const x of [
      ...probes,
      ...punctured.map((p) => (p + 1) % (MAX + 1)),
      ...punctured.map((p) => Math.max(0, p - 1)),
    ]) {
      if (set.has(x)) continue;
      expect(Buffer.from(k.eval(x)).equals(reference(seed, x))).toBe(true);
    }
    expect(k.size).toBeLessThanOrEqual(1 + 31 * punctured.length);
  });

  fcTest.prop([seedArb, fc.uniqueArray(point, { minLength: 1, maxLength: 20 })], { numRuns: 40 })(
    "after puncturing, no subtree held covers the point and no seed held equals F(x)",
    (seed, punctured) => {
      const k = PuncturableKey.fromSeed(seed);
      for (const x of punctured) k.puncture(x);
      const held = subtrees(k);
      for (const x of punctured) {
        const fx = reference(seed, x);
        for (const t of held) {
          expect(x >= t.lo && x <= t.hi).toBe(false);
          expect(t.seed.equals(fx)).toBe(false);
        }
      }
    },
  );

  fcTest.prop([seedArb, fc.uniqueArray(point, { maxLength: 30 }), fc.array(point, { maxLength: 10 })], {
    numRuns: 40,
  })("serialize and parse round-trip", (seed, punctured, probes) => {
    const k = PuncturableKey.fromSeed(seed);
    for (const x of punctured) k.puncture(x);
    const back = PuncturableKey.parse(k.serialize());
    expect(Buffer.from(back.serialize()).equals(Buffer.from(k.serialize()))).toBe(true);
    for (const x of probes) expect(back.isPunctured(x)).toBe(k.isPunctured(x));
  });

  it("parsing fails closed on damaged keys", () => {
    const k = PuncturableKey.generate();
    k.puncture(5);
    k.puncture(1000);
    const good = Buffer.from(k.serialize());
    const code = (b: Uint8Array) => {
      try {
        PuncturableKey.parse(b);
        return "parsed";
      } catch (e) {
        return (e as VaultError).code;
      }
    };
    expect(code(good)).toBe("parsed");
    expect(code(good.subarray(0, good.length - 1))).toBe("ROOT_KEY_INVALID");
    expect(code(Buffer.concat([good, Buffer.alloc(1)]))).toBe("ROOT_KEY_INVALID");
    const wrongHeader = Buffer.from(good);
    wrongHeader[0] = 0x58;
    expect(code(wrongHeader)).toBe("ROOT_KEY_INVALID");
    // swap the first two nodes: unsorted
    const swapped = Buffer.from(good);
    good.copy(swapped, 12, 49, 86);
    good.copy(swapped, 49, 12, 49);
    expect(code(swapped)).toBe("ROOT_KEY_INVALID");
    // a node claiming the whole domain on top of the others: overlap
    const overlap = Buffer.from(good);
    overlap[12 + 37] = 0;
    overlap.writeUInt32BE(0, 12 + 37 + 1);
    expect(code(overlap)).toBe("ROOT_KEY_INVALID");
    // depth 33
    const deep = Buffer.from(good);
    deep[12] = 33;
    expect(code(deep)).toBe("ROOT_KEY_INVALID");
    // a count claiming billions of nodes
    const huge = Buffer.from(good);
    huge.writeUInt32BE(0xffffffff, 8);
    expect(code(huge)).toBe("ROOT_KEY_INVALID");
  });

  it("refuses points outside the domain", () => {
    const k = PuncturableKey.generate();
    for (const x of [-1, 2 ** 32, 1.5, Number.NaN]) expect(() => k.eval(x)).toThrow(/outside/);
  });

  it("wiping empties the key", () => {
    const k = PuncturableKey.generate();
    k.wipe();
    expect(k.size).toBe(0);
    expect(() => k.eval(1)).toThrow(VaultError);
  });
});
