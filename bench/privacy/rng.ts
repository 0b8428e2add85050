/** Seeded, reproducible randomness for corpus decisions: ChaCha20 keyed by SHA-256(label). */

import { createHash } from "node:crypto";
import { ChaChaWordStream } from "../../src/template/chacha20.js";

export class SeededRng {
  readonly #s: ChaChaWordStream;

  constructor(label: string) {
    this.#s = new ChaChaWordStream(createHash("sha256").update(label, "utf8").digest());
  }

  /** Uniform in [0, 1). */
  unit(): number {
    return this.#s.nextUnit();
  }

  /** Uniform in [lo, hi), rounded to `decimals` so that command lines stay short and stable. */
  uniform(lo: number, hi: number, decimals = 2): number {
    const f = 10 ** decimals;
    return Math.round((lo + (hi - lo) * this.unit()) * f) / f;
  }

  int(n: number): number {
    return this.#s.nextBelow(n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  chance(p: number): boolean {
    return this.unit() < p;
  }

  /** Fisher-Yates shuffle of a copy. */
  shuffle<T>(items: readonly T[]): T[] {
    const a = [...items];
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }

  normal(): number {
    const u = (this.#s.nextU32() + 0.5) / 0x100000000;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.unit());
  }
}
