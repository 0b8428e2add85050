import { VaultError } from "../errors.js";

/**
 * Per-hop speech statistics in bounded memory. Each 0.5 s hop's summed statistics go into a slot;
 * there are at most `maxSlots` slots. When they are all used, adjacent slots merge pairwise and
 * every slot from then on covers twice as many hops. A recording of any length thus keeps at most
 * maxSlots × size float32 values (8,192 × 286 values, 9.4 MB, by default); up to maxSlots hops
 * (68 minutes) each hop keeps its own slot, beyond that the statistics (never the speaker labels,
 * which stay per hop) have a coarser time grain: 1 s up to 2.3 hours, 2 s up to 4.6 hours, ...
 *
 * The speech frames of every hop are kept too (one byte per hop, 7 KB an hour), for the labels.
 */

/** Slots kept by default: 8,192 hops of 0.5 s, 68 minutes, before the grain coarsens. */
export const DEFAULT_MAX_SLOTS = 8192;

export class HopStore {
  /** Values per slot (the statistics layout's size). */
  readonly size: number;
  readonly #maxSlots: number;
  #data: Float32Array;
  /** Speech frames per slot. */
  #slotSpeech: Float64Array;
  #hopSpeech = new Uint8Array(1024);
  #hops = 0;
  #hopsPerSlot = 1;

  constructor(size: number, maxSlots = DEFAULT_MAX_SLOTS) {
    if (!Number.isInteger(maxSlots) || maxSlots < 2 || maxSlots % 2 !== 0) {
      throw new VaultError("INVALID_ARGUMENT", "diarisation: maxSlots must be an even integer ≥ 2");
    }
    this.size = size;
    this.#maxSlots = maxSlots;
    const initial = Math.min(maxSlots, 256);
    this.#data = new Float32Array(initial * size);
    this.#slotSpeech = new Float64Array(initial);
  }

  /** Hops stored so far. */
  get hops(): number {
    return this.#hops;
  }

  /** Hops each slot covers (1 until the store first fills, then 2, 4, ...). */
  get hopsPerSlot(): number {
    return this.#hopsPerSlot;
  }

  /** Slots in use. */
  get slots(): number {
    return Math.ceil(this.#hops / this.#hopsPerSlot);
  }

  /** Speech frames of hop h. */
  hopSpeech(h: number): number {
    return this.#hopSpeech[h] ?? 0;
  }

  /** Speech frames behind slot s. */
  slotSpeech(s: number): number {
    return this.#slotSpeech[s] ?? 0;
  }

  /** First hop of slot s. */
  slotStart(s: number): number {
    return s * this.#hopsPerSlot;
  }

  /** Appends one hop: its speech frames and summed statistics (read, not kept). */
  push(speech: number, stats: Float64Array): void {
    if (stats.length !== this.size) throw new VaultError("INTERNAL", "diarisation: statistics size differs");
    if (!(Number.isInteger(speech) && speech >= 0 && speech <= 255)) {
      throw new VaultError("INTERNAL", "diarisation: a hop's speech frames must be in 0..255");
    }
    if (this.#hops === this.#hopSpeech.length) {
      const grown = new Uint8Array(this.#hopSpeech.length * 2);
      grown.set(this.#hopSpeech);
      this.#hopSpeech = grown;
    }
    this.#hopSpeech[this.#hops] = speech;
    if (this.#hops % this.#hopsPerSlot === 0 && this.#hops / this.#hopsPerSlot === this.#maxSlots)
      this.#halve();
    const slot = Math.floor(this.#hops / this.#hopsPerSlot);
    if (slot >= this.#slotSpeech.length) this.#grow();
    this.#hops++;
    if (speech === 0) return;
    this.#slotSpeech[slot]! += speech;
    const o = slot * this.size;
    for (let i = 0; i < this.size; i++) this.#data[o + i]! += stats[i]!;
  }

  /** Adds slot s's statistics to acc. */
  addSlot(acc: Float32Array | Float64Array, s: number): void {
    const o = s * this.size;
    for (let i = 0; i < this.size; i++) acc[i]! += this.#data[o + i]!;
  }

  /** Zeroes every statistic (the speech counts stay: they are not speech content). */
  wipe(): void {
    this.#data.fill(0);
    this.#slotSpeech.fill(0);
  }

  #grow(): void {
    const slots = Math.min(this.#maxSlots, this.#slotSpeech.length * 2);
    const data = new Float32Array(slots * this.size);
    data.set(this.#data);
    this.#data.fill(0);
    this.#data = data;
    const speech = new Float64Array(slots);
    speech.set(this.#slotSpeech);
    this.#slotSpeech = speech;
  }

  /** Merges slots 2i and 2i + 1 into slot i; the upper half is zeroed for the hops to come. */
  #halve(): void {
    const n = this.#maxSlots;
    const size = this.size;
    const d = this.#data;
    for (let s = 0; s < n / 2; s++) {
      const a = 2 * s * size;
      const b = a + size;
      const o = s * size;
      for (let i = 0; i < size; i++) d[o + i] = d[a + i]! + d[b + i]!;
      this.#slotSpeech[s] = this.#slotSpeech[2 * s]! + this.#slotSpeech[2 * s + 1]!;
    }
    d.fill(0, (n / 2) * size);
    this.#slotSpeech.fill(0, n / 2);
    this.#hopsPerSlot *= 2;
  }
}
