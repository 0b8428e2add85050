/**
 * Shamir secret sharing over GF(2^8) (A. Shamir, "How to share a secret", CACM 22(11), 1979),
 * byte by byte: each byte of the secret is the constant term of its own random polynomial of
 * degree threshold−1, and share i holds every polynomial evaluated at x = i (1..255).
 *
 * The field is GF(2^8) with the AES reduction polynomial x^8+x^4+x^3+x+1 (FIPS 197 §4.2).
 * Multiplication and inversion use no tables indexed by secret bytes (no cache-timing leak).
 *
 * Fewer than `threshold` shares give a uniformly random value, not an error: this layer cannot
 * know. Callers bind shares to commitments and the secret to a commitment
 * (src/keys/quorum.ts), so a short or wrong set is refused, never silently wrong.
 */
import { randomBytes, wipe } from "./bytes.js";

/** a·b in GF(2^8): shift-and-add with masks instead of branches on secret bits. */
export function gfMul(a: number, b: number): number {
  let p = 0;
  for (let i = 0; i < 8; i++) {
    p ^= -(b & 1) & a;
    const carry = -((a >> 7) & 1) & 0x1b;
    a = ((a << 1) ^ carry) & 0xff;
    b >>= 1;
  }
  return p & 0xff;
}

/** a^-1 = a^254 in GF(2^8) (a ≠ 0; 0 maps to 0). */
export function gfInv(a: number): number {
  let result = 1;
  let base = a;
  // 254 = 0b11111110
  for (let e = 254; e > 0; e >>= 1) {
    if (e & 1) result = gfMul(result, base);
    base = gfMul(base, base);
  }
  return result;
}

export interface Share {
  /** The x coordinate, 1..255. */
  readonly x: number;
  /** The polynomials at x, one byte per secret byte. */
  readonly y: Uint8Array;
}

/** Splits `secret` into `count` shares of which any `threshold` recover it (x = 1..count). */
export function split(secret: Uint8Array, threshold: number, count: number): Share[] {
  if (
    !Number.isInteger(threshold) ||
    !Number.isInteger(count) ||
    threshold < 1 ||
    count < threshold ||
    count > 255
  )
    throw new RangeError("shamir: need 1 ≤ threshold ≤ count ≤ 255");
  if (secret.length === 0) throw new RangeError("shamir: empty secret");
  const shares = Array.from({ length: count }, (_, i) => ({ x: i + 1, y: new Uint8Array(secret.length) }));
  const coeffs = randomBytes(threshold - 1);
  try {
    for (let b = 0; b < secret.length; b++) {
      crypto.getRandomValues(coeffs);
      for (const s of shares) {
        // Horner: a_{t-1}·x^{t-1} + … + a_1·x + secret
        let acc = 0;
        for (let k = coeffs.length - 1; k >= 0; k--) acc = gfMul(acc, s.x) ^ coeffs[k]!;
        s.y[b] = gfMul(acc, s.x) ^ secret[b]!;
      }
    }
  } finally {
    wipe(coeffs);
  }
  return shares;
}

/**
 * The polynomial's value at 0 by Lagrange interpolation over the given shares. Their x must be
 * distinct and non-zero and their y of one length; it is the caller's business that there are
 * at least `threshold` of them.
 */
export function combine(shares: readonly Share[]): Uint8Array {
  if (shares.length === 0) throw new RangeError("shamir: no shares");
  const len = shares[0]!.y.length;
  const xs = new Set<number>();
  for (const s of shares) {
    if (!Number.isInteger(s.x) || s.x < 1 || s.x > 255) throw new RangeError("shamir: x outside 1..255");
    if (xs.has(s.x)) throw new RangeError("shamir: two shares with one x");
    if (s.y.length !== len) throw new RangeError("shamir: shares of different lengths");
    xs.add(s.x);
  }
  // l_i(0) = Π_{j≠i} x_j / (x_j − x_i); subtraction is XOR in characteristic 2.
  const basis = shares.map((si) => {
    let num = 1;
    let den = 1;
    for (const sj of shares) {
      if (sj === si) continue;
      num = gfMul(num, sj.x);
      den = gfMul(den, sj.x ^ si.x);
    }
    return gfMul(num, gfInv(den));
  });
  const out = new Uint8Array(len);
  for (let b = 0; b < len; b++) {
    let acc = 0;
    for (let i = 0; i < shares.length; i++) acc ^= gfMul(shares[i]!.y[b]!, basis[i]!);
    out[b] = acc;
  }
  return out;
}
