/** Deterministic speech-like test signals (no tools): syllable-rate harmonic bursts in noise. */

import { ChaChaWordStream } from "../../src/template/index.js";

export class TestRng {
  readonly #s: ChaChaWordStream;
  constructor(seed: number) {
    const key = new Uint8Array(32);
    new DataView(key.buffer).setUint32(0, seed);
    key[31] = 0xe7;
    this.#s = new ChaChaWordStream(key);
  }
  unit(): number {
    return (this.#s.nextU32() + 0.5) / 0x100000000;
  }
  normal(): number {
    return Math.sqrt(-2 * Math.log(this.unit())) * Math.cos(2 * Math.PI * this.unit());
  }
}

/**
 * `seconds` of a voiced-like signal: 4 Hz bursts (60 % duty) of a harmonic complex at `f0` with a
 * spectral tilt and two resonance-like emphasised harmonics, with pauses, in white noise 30 dB
 * down. Different (f0, formant) pairs act as different "voices".
 */
export function speechLike(
  seconds: number,
  opts: { f0?: number; formants?: readonly [number, number]; seed?: number; level?: number } = {},
): Float32Array {
  const sr = 16000;
  const n = Math.round(seconds * sr);
  const f0 = opts.f0 ?? 140;
  const [fa, fb] = opts.formants ?? [600, 1700];
  const rng = new TestRng(opts.seed ?? 1);
  const out = new Float32Array(n);
  const level = opts.level ?? 0.3;
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / sr;
    const f = f0 * (1 + 0.08 * Math.sin(2 * Math.PI * 0.7 * t));
    phase += (2 * Math.PI * f) / sr;
    const syll = (t * 4) % 1;
    const inPause = Math.floor(t / 1.5) % 4 === 3; // a pause every 6 s
    const env = !inPause && syll < 0.6 ? Math.sin((Math.PI * syll) / 0.6) : 0;
    let v = 0;
    for (let h = 1; h * f < 7000; h++) {
      const fh = h * f;
      const gain = 1 / h + 1.5 * Math.exp(-(((fh - fa) / 150) ** 2)) + Math.exp(-(((fh - fb) / 200) ** 2));
      v += gain * Math.sin(h * phase);
    }
    out[i] = level * 0.2 * env * v + level * 0.01 * rng.normal();
  }
  return out;
}

export function* chunks(pcm: Float32Array, sizes: readonly number[]): Generator<Float32Array> {
  let pos = 0;
  for (let i = 0; pos < pcm.length; i++) {
    const size = sizes[i % sizes.length]!;
    yield pcm.subarray(pos, Math.min(pcm.length, pos + size));
    pos += size;
  }
}
