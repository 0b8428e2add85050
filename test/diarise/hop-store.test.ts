import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HopStore } from "../../src/diarise/hop-store.js";

describe("hop store (bounded per-hop statistics)", () => {
  it("keeps every hop's own statistics until it fills, then halves its grain; nothing is lost", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(2, 4, 8, 16),
        fc.array(
          fc.record({
            speech: fc.integer({ min: 0, max: 50 }),
            stats: fc.array(fc.integer({ min: -1000, max: 1000 }), { minLength: 3, maxLength: 3 }),
          }),
          { maxLength: 300 },
        ),
        (maxSlots, hops) => {
          const store = new HopStore(3, maxSlots);
          for (const h of hops) store.push(h.speech, Float64Array.from(h.stats));
          expect(store.hops).toBe(hops.length);
          // the grain is the smallest power of two that fits the hops into maxSlots slots
          let hps = 1;
          while (Math.ceil(hops.length / hps) > maxSlots) hps *= 2;
          expect(store.hopsPerSlot).toBe(hps);
          expect(store.slots).toBeLessThanOrEqual(maxSlots);
          for (let s = 0; s < store.slots; s++) {
            const mine = hops.slice(s * hps, (s + 1) * hps);
            expect(store.slotStart(s)).toBe(s * hps);
            expect(store.slotSpeech(s)).toBe(mine.reduce((n, h) => n + h.speech, 0));
            // small integers add exactly in float32: the slot holds exactly its hops' sum
            const want = [0, 1, 2].map((i) => mine.reduce((n, h) => n + (h.speech > 0 ? h.stats[i]! : 0), 0));
            const got = new Float64Array(3);
            store.addSlot(got, s);
            expect([...got]).toEqual(want);
          }
          hops.forEach((h, i) => {
            expect(store.hopSpeech(i)).toBe(h.speech);
          });
        },
      ),
      { numRuns: 200, seed: 20261207 },
    );
  });

  it("a hop's statistics round to float32 exactly as they were stored before the bound", () => {
    const store = new HopStore(2, 8);
    store.push(10, Float64Array.of(0.1, 1 / 3));
    const got = new Float64Array(2);
    store.addSlot(got, 0);
    expect([...got]).toEqual([...Float32Array.of(0.1, 1 / 3)]);
  });

  it("wipe zeroes the statistics; bad sizes and counts are refused", () => {
    const store = new HopStore(2, 4);
    store.push(5, Float64Array.of(3, 4));
    store.wipe();
    const got = new Float64Array(2);
    store.addSlot(got, 0);
    expect([...got]).toEqual([0, 0]);
    expect(() => {
      store.push(5, new Float64Array(3));
    }).toThrow(/size/);
    expect(() => {
      store.push(256, new Float64Array(2));
    }).toThrow(/0\.\.255/);
    expect(() => new HopStore(2, 3)).toThrow(/even/);
  });
});
