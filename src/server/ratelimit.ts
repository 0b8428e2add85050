/**
 * Token-bucket rate limiting per key: a class and a token id, or a class and the client address
 * for unauthenticated routes. One bucket per (class, key): a bucket is only ever refilled at its
 * own class's rate, so cheap requests cannot top up an expensive class. In-memory: one server
 * instance enforces its own limits; several instances behind a balancer each enforce theirs
 * (docs/operations.md).
 */
import type { RateLimit } from "../access/http-config.js";

export type { RateLimit } from "../access/http-config.js";

export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #now: () => number;
  readonly #max: number;

  constructor(now: () => number = Date.now, maxKeys = 100_000) {
    this.#now = now;
    this.#max = maxKeys;
  }

  /** Takes one request from the bucket; returns 0 if allowed, else seconds until one is. */
  take(key: string, limit: RateLimit): number {
    const now = this.#now();
    const rate = limit.perMinute / 60_000;
    let b = this.#buckets.get(key);
    if (!b) {
      // Evict the least recently used tenth rather than clearing: a flood of fresh keys must not
      // reset everyone else's limits.
      if (this.#buckets.size >= this.#max) {
        let n = Math.ceil(this.#max / 10);
        for (const k of this.#buckets.keys()) {
          if (n-- <= 0) break;
          this.#buckets.delete(k);
        }
      }
      b = { tokens: limit.burst, at: now };
      this.#buckets.set(key, b);
    }
    b.tokens = Math.min(limit.burst, b.tokens + (now - b.at) * rate);
    b.at = now;
    this.#buckets.delete(key);
    this.#buckets.set(key, b); // most recently used last
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / rate / 1000));
  }
}
