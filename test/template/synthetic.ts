/** Deterministic synthetic "speaker embeddings" for tests: speaker centres plus session noise. */

import { ChaChaWordStream } from "../../src/template/index.js";

export class Rng {
  readonly #s: ChaChaWordStream;
  constructor(seed: number) {
    const key = new Uint8Array(32);
    new DataView(key.buffer).setUint32(0, seed);
    key[31] = 0x5a;
    this.#s = new ChaChaWordStream(key);
  }
  unit(): number {
    return (this.#s.nextU32() + 0.5) / 0x100000000;
  }
  normal(): number {
    return Math.sqrt(-2 * Math.log(this.unit())) * Math.cos(2 * Math.PI * this.unit());
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.#s.nextU32() & 0xff);
  }
}

export interface SyntheticSet {
  /** [speaker][session] embeddings */
  readonly emb: Float64Array[][];
  readonly dim: number;
}

/**
 * Each speaker: centre ~ N(offset, I); each session: centre + noise·N(0, I). A common offset makes
 * the raw space uncentred (as real embeddings are), to exercise the profile's mean.
 */
export function syntheticSpeakers(
  seed: number,
  speakers: number,
  sessions: number,
  dim: number,
  noise: number,
  offset = 0,
): SyntheticSet {
  const r = new Rng(seed);
  const emb: Float64Array[][] = [];
  for (let s = 0; s < speakers; s++) {
    const c = Float64Array.from({ length: dim }, () => offset + r.normal());
    const row: Float64Array[] = [];
    for (let k = 0; k < sessions; k++) row.push(Float64Array.from(c, (v) => v + noise * r.normal()));
    emb.push(row);
  }
  return { emb, dim };
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

/** Mated: session 0 vs sessions 1..; non-mated: session 0 of s vs sessions 1.. of t ≠ s. */
export function trialScores<T>(
  items: T[][],
  score: (a: T, b: T) => number,
): { mated: number[]; nonMated: number[] } {
  const mated: number[] = [];
  const nonMated: number[] = [];
  for (let s = 0; s < items.length; s++) {
    for (let t = 0; t < items.length; t++) {
      for (let k = 1; k < items[t]!.length; k++) {
        const v = score(items[s]![0]!, items[t]![k]!);
        (s === t ? mated : nonMated).push(v);
      }
    }
  }
  return { mated, nonMated };
}
