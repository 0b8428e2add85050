/**
 * ChaCha20 keystream (RFC 8439, section 2.3), used only as a deterministic pseudo-random generator
 * for expanding a template key into projection parameters. Pure integer arithmetic, so the same key
 * yields the same words in every JavaScript engine (browser and Node alike).
 */

import { VaultError } from "../errors.js";

const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574] as const; // "expand 32-byte k"

function rotl(x: number, n: number): number {
  return (x << n) | (x >>> (32 - n));
}

function quarterRound(s: Uint32Array, a: number, b: number, c: number, d: number): void {
  let va = s[a]!;
  let vb = s[b]!;
  let vc = s[c]!;
  let vd = s[d]!;
  va = (va + vb) | 0;
  vd = rotl(vd ^ va, 16);
  vc = (vc + vd) | 0;
  vb = rotl(vb ^ vc, 12);
  va = (va + vb) | 0;
  vd = rotl(vd ^ va, 8);
  vc = (vc + vd) | 0;
  vb = rotl(vb ^ vc, 7);
  s[a] = va;
  s[b] = vb;
  s[c] = vc;
  s[d] = vd;
}

function readU32LE(bytes: Uint8Array, offset: number): number {
  return (
    (bytes[offset]! | (bytes[offset + 1]! << 8) | (bytes[offset + 2]! << 16) | (bytes[offset + 3]! << 24)) >>>
    0
  );
}

/** One 64-byte ChaCha20 block as 16 little-endian words (RFC 8439 §2.3). */
export function chacha20Block(key: Uint8Array, counter: number, nonce: Uint8Array): Uint32Array {
  if (key.length !== 32) throw new VaultError("INVALID_ARGUMENT", "ChaCha20 key must be 32 bytes.");
  if (nonce.length !== 12) throw new VaultError("INVALID_ARGUMENT", "ChaCha20 nonce must be 12 bytes.");
  if (!Number.isInteger(counter) || counter < 0 || counter > 0xffffffff) {
    throw new VaultError("INVALID_ARGUMENT", "ChaCha20 block counter out of range.");
  }
  const init = new Uint32Array(16);
  init.set(SIGMA, 0);
  for (let i = 0; i < 8; i++) init[4 + i] = readU32LE(key, 4 * i);
  init[12] = counter;
  for (let i = 0; i < 3; i++) init[13 + i] = readU32LE(nonce, 4 * i);
  const s = init.slice();
  for (let round = 0; round < 10; round++) {
    quarterRound(s, 0, 4, 8, 12);
    quarterRound(s, 1, 5, 9, 13);
    quarterRound(s, 2, 6, 10, 14);
    quarterRound(s, 3, 7, 11, 15);
    quarterRound(s, 0, 5, 10, 15);
    quarterRound(s, 1, 6, 11, 12);
    quarterRound(s, 2, 7, 8, 13);
    quarterRound(s, 3, 4, 9, 14);
  }
  for (let i = 0; i < 16; i++) s[i] = (s[i]! + init[i]!) >>> 0;
  return s;
}

/** Serialises a block's words as the 64 keystream bytes (little-endian, RFC 8439 §2.3.2). */
export function blockBytes(words: Uint32Array): Uint8Array {
  const out = new Uint8Array(64);
  for (let i = 0; i < 16; i++) {
    const w = words[i]!;
    out[4 * i] = w & 0xff;
    out[4 * i + 1] = (w >>> 8) & 0xff;
    out[4 * i + 2] = (w >>> 16) & 0xff;
    out[4 * i + 3] = (w >>> 24) & 0xff;
  }
  return out;
}

/**
 * A stream of 32-bit words from ChaCha20(key, nonce) starting at block counter 0. Limited to 2^32
 * blocks (256 GiB), far beyond any parameter set accepted here.
 */
export class ChaChaWordStream {
  readonly #key: Uint8Array;
  readonly #nonce: Uint8Array;
  #counter = 0;
  #block: Uint32Array = new Uint32Array(16);
  #pos = 16;
  #wiped = false;

  constructor(key: Uint8Array, nonce: Uint8Array = new Uint8Array(12)) {
    if (key.length !== 32) throw new VaultError("INVALID_ARGUMENT", "ChaCha20 key must be 32 bytes.");
    if (nonce.length !== 12) throw new VaultError("INVALID_ARGUMENT", "ChaCha20 nonce must be 12 bytes.");
    this.#key = key.slice();
    this.#nonce = nonce.slice();
  }

  nextU32(): number {
    if (this.#wiped) throw new VaultError("INTERNAL", "ChaCha20 stream used after wipe().");
    if (this.#pos === 16) {
      this.#block = chacha20Block(this.#key, this.#counter, this.#nonce);
      this.#counter++;
      this.#pos = 0;
    }
    return this.#block[this.#pos++]!;
  }

  /** Uniform integer in [0, n) without modulo bias (rejection sampling), n <= 2^32. */
  nextBelow(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0x100000000) {
      throw new VaultError("INVALID_ARGUMENT", "nextBelow bound out of range.");
    }
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Uniform double in [0, 1) with 32 bits of resolution (exact, engine-independent). */
  nextUnit(): number {
    return this.nextU32() / 0x100000000;
  }

  /** Overwrites the copied key; the stream is unusable afterwards. */
  wipe(): void {
    this.#key.fill(0);
    this.#block.fill(0);
    this.#pos = 16;
    this.#wiped = true;
  }
}
