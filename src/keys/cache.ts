/**
 * A small LRU of unwrapped keys with a time-to-live. Keys live only here, never on disk; evicted
 * or expired entries are zeroed. Expiry is enforced by time, not only on access: a timer wipes
 * expired entries at least every `ttl / 2` (at most every 30 s), so an idle process does not keep
 * keys longer than its TTL plus that period. The bound keeps memory flat whatever the number of
 * subjects.
 */
import { wipe } from "../crypto/bytes.js";

export interface KeyCacheOptions {
  readonly maxEntries: number;
  readonly ttlMs: number;
  readonly now?: () => number;
  /** Period of the expiry sweep; default min(ttl / 2, 30 s); 0 disables the timer (tests). */
  readonly sweepIntervalMs?: number;
}

const MAX_SWEEP_MS = 30_000;

export class KeyCache {
  readonly #entries = new Map<string, { key: Uint8Array; expires: number }>();
  readonly #max: number;
  readonly #ttl: number;
  readonly #now: () => number;

  #timer: NodeJS.Timeout | undefined;

  constructor(options: KeyCacheOptions) {
    this.#max = Math.max(1, options.maxEntries);
    this.#ttl = options.ttlMs;
    this.#now = options.now ?? Date.now;
    const period = options.sweepIntervalMs ?? Math.min(Math.max(1000, this.#ttl / 2), MAX_SWEEP_MS);
    if (this.#ttl > 0 && period > 0) {
      this.#timer = setInterval(() => this.sweepExpired(), period);
      this.#timer.unref(); // never keeps a process alive
    }
  }

  /** Wipes every expired entry; returns how many. */
  sweepExpired(): number {
    const now = this.#now();
    let n = 0;
    for (const [id, e] of [...this.#entries]) {
      if (e.expires <= now) {
        this.delete(id);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** A copy of the cached key (callers may wipe their copy freely), or undefined. */
  get(id: string): Uint8Array | undefined {
    const e = this.#entries.get(id);
    if (!e) return undefined;
    if (e.expires <= this.#now()) {
      this.delete(id);
      return undefined;
    }
    this.#entries.delete(id);
    this.#entries.set(id, e); // most recently used goes last
    return e.key.slice();
  }

  /** Stores a copy of key. */
  set(id: string, key: Uint8Array): void {
    if (this.#ttl <= 0) return;
    this.delete(id);
    this.#entries.set(id, { key: key.slice(), expires: this.#now() + this.#ttl });
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.delete(oldest);
    }
  }

  delete(id: string): void {
    const e = this.#entries.get(id);
    if (e) {
      wipe(e.key);
      this.#entries.delete(id);
    }
  }

  deletePrefix(prefix: string): void {
    for (const id of [...this.#entries.keys()]) if (id.startsWith(prefix)) this.delete(id);
  }

  clear(): void {
    for (const id of [...this.#entries.keys()]) this.delete(id);
  }

  /** Wipes everything and stops the expiry timer. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.clear();
  }
}
