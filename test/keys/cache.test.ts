import { afterEach, describe, expect, it, vi } from "vitest";
import { KeyCache } from "../../src/keys/cache.js";

describe("key cache", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("wipes expired keys by time, not only when they are read again", () => {
    vi.useFakeTimers();
    let now = 0;
    const cache = new KeyCache({ maxEntries: 10, ttlMs: 60_000, now: () => now });
    const key = new Uint8Array(32).fill(7);
    cache.set("s:a", key);
    cache.set("s:b", key);
    expect(cache.size).toBe(2);
    // nobody reads them again; time passes beyond the TTL and one sweep period (ttl / 2)
    now = 61_000;
    vi.advanceTimersByTime(30_000);
    expect(cache.size).toBe(0);
    cache.close();
  });

  it("zeroes what it evicts and hands out copies", () => {
    const cache = new KeyCache({ maxEntries: 1, ttlMs: 60_000, sweepIntervalMs: 0 });
    const key = new Uint8Array(32).fill(9);
    cache.set("a", key);
    const copy = cache.get("a")!;
    copy.fill(0); // the caller wiping its copy does not touch the cached key
    expect(cache.get("a")![0]).toBe(9);
    cache.set("b", key); // evicts "a"
    expect(cache.get("a")).toBeUndefined();
    cache.close();
    expect(cache.size).toBe(0);
  });
});
