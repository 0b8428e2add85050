/**
 * Halfband low-pass filters for decimation by 2 (browser-safe).
 *
 * A halfband filter (cutoff at a quarter of the input rate) has every even-offset tap zero except
 * the centre (1/2), so a zero-phase decimator by 2 costs one multiply per symmetric pair of odd
 * taps: J multiplies per output for 4J − 1 taps (e.g. Vaidyanathan, Multirate Systems and Filter
 * Banks, §4.6). Taps are the ideal half-band sinc under a Kaiser window, normalised to unit DC
 * gain.
 */

import { VaultError } from "../../errors.js";

/** Zeroth-order modified Bessel function of the first kind (power series). */
export function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 200; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

/** Kaiser β for a stopband attenuation in dB (Kaiser's empirical formula). */
export function kaiserBeta(att: number): number {
  return att > 50 ? 0.1102 * (att - 8.7) : att > 21 ? 0.5842 * (att - 21) ** 0.4 + 0.07886 * (att - 21) : 0;
}

/**
 * Number of odd-offset tap pairs J a halfband needs for `att` dB with a transition band of
 * `width` (fraction of the input rate, centred on a quarter of it); Kaiser's length estimate.
 */
export function halfbandPairs(att: number, width: number): number {
  if (!(width > 0 && width < 0.5)) throw new VaultError("INVALID_ARGUMENT", "halfband: bad transition width");
  const taps = Math.ceil((att - 7.95) / (14.36 * width)) + 1;
  return Math.max(1, Math.ceil((taps + 1) / 4));
}

/** Taps at offsets ±1, ±3, …, ±(2J − 1) (index j ↔ offset 2j + 1); the centre tap is 0.5·g. */
export interface HalfbandDesign {
  readonly pairs: Float64Array;
  readonly centre: number;
}

export function halfbandDesign(J: number, beta: number): HalfbandDesign {
  const span = 2 * J; // window half-length: offsets up to 2J − 1 are inside
  const i0b = besselI0(beta);
  const pairs = new Float64Array(J);
  let sum = 0.5;
  for (let j = 0; j < J; j++) {
    const k = 2 * j + 1;
    const sinc = Math.sin((Math.PI * k) / 2) / (Math.PI * k);
    const r = k / span;
    pairs[j] = (sinc * besselI0(beta * Math.sqrt(1 - r * r))) / i0b;
    sum += 2 * pairs[j]!;
  }
  const g = 1 / sum;
  for (let j = 0; j < J; j++) pairs[j] = pairs[j]! * g;
  return { pairs, centre: 0.5 * g };
}

/**
 * Streaming zero-phase decimator by 2: output m is the filter centred on input 2m (inputs before
 * 0 and after the end are zero). Output is identical however the input is chunked.
 */
export class HalfbandDecimator {
  readonly #pairs: Float64Array;
  readonly #centre: number;
  readonly #reach: number;
  #buf: Float64Array;
  /** Absolute input index of buf[0]. */
  #start = 0;
  #len = 0;
  #next = 0;
  #consumed = 0;
  #flushed = false;

  constructor(design: HalfbandDesign) {
    this.#pairs = design.pairs;
    this.#centre = design.centre;
    this.#reach = 2 * design.pairs.length - 1;
    this.#buf = new Float64Array(Math.max(4096, 4 * this.#reach + 4));
  }

  /** Input samples consumed so far. */
  get consumed(): number {
    return this.#consumed;
  }

  process(input: ArrayLike<number>): Float64Array {
    if (this.#flushed) throw new VaultError("INVALID_ARGUMENT", "halfband decimator already flushed");
    this.#consumed += input.length;
    this.#append(input);
    const end = this.#start + this.#len;
    // Output m needs inputs up to 2m + reach.
    const avail = Math.max(0, Math.floor((end - 1 - this.#reach) / 2) + 1);
    return this.#run(avail);
  }

  /** Ends the stream: the remaining outputs up to ceil(n / 2), zeros past the end. */
  flush(): Float64Array {
    if (this.#flushed) return new Float64Array(0);
    this.#flushed = true;
    const total = Math.ceil(this.#consumed / 2);
    this.#append(new Float64Array(this.#reach + 1));
    return this.#run(total);
  }

  #append(input: ArrayLike<number>): void {
    // Keep from the first input the next output reads (2·next − reach; negative = zero history).
    const keepAbs = 2 * this.#next - this.#reach;
    const keepFrom = keepAbs - this.#start;
    if (keepFrom > 0 && this.#len + input.length > this.#buf.length) {
      this.#buf.copyWithin(0, keepFrom, this.#len);
      this.#len -= keepFrom;
      this.#start += keepFrom;
    }
    if (this.#len + input.length > this.#buf.length) {
      const grown = new Float64Array(Math.max(this.#buf.length * 2, this.#len + input.length));
      grown.set(this.#buf.subarray(0, this.#len));
      this.#buf = grown;
    }
    this.#buf.set(input, this.#len);
    this.#len += input.length;
  }

  #run(until: number): Float64Array {
    const n = Math.max(0, until - this.#next);
    const out = new Float64Array(n);
    const buf = this.#buf;
    const pairs = this.#pairs;
    const J = pairs.length;
    const start = this.#start;
    const len = this.#len;
    for (let o = 0; o < n; o++) {
      const c = 2 * (this.#next + o) - start;
      let acc = this.#centre * buf[c]!;
      if (c - this.#reach >= 0 && c + this.#reach < len) {
        for (let j = 0; j < J; j++) acc += pairs[j]! * (buf[c - 2 * j - 1]! + buf[c + 2 * j + 1]!);
      } else {
        // Near time 0 the history is implicit zeros.
        for (let j = 0; j < J; j++) {
          const a = c - 2 * j - 1 >= 0 ? buf[c - 2 * j - 1]! : 0;
          const b = c + 2 * j + 1 < len ? buf[c + 2 * j + 1]! : 0;
          acc += pairs[j]! * (a + b);
        }
      }
      out[o] = acc;
    }
    this.#next += n;
    return out;
  }
}
