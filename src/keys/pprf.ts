/**
 * A puncturable pseudorandom function over 32-bit points: the GGM tree (Goldreich, Goldwasser,
 * Micali, "How to Construct Random Functions", JACM 1986) with puncturing as in constrained PRFs
 * (Boneh & Waters, ASIACRYPT 2013; Kiayias et al., CCS 2013; Sahai & Waters, STOC 2014 §3.1).
 *
 *   node(ε) = seed;  node(p‖b) = HMAC-SHA-256(node(p), LABEL ‖ b)   (b ∈ {0, 1}, length-doubling PRG)
 *   F(x)    = node(x) for the 32-bit big-endian path of x
 *
 * A key is a set of disjoint subtrees (depth, prefix, seed) covering every point not punctured.
 * Puncturing x replaces the subtree that covers x by the siblings along x's path (≤ 32 nodes),
 * so the key can still compute F everywhere except x, and F(x) follows from nothing it holds.
 * This is the erasable root of the vault (docs/architecture.md §Keys): a shred punctures the
 * subject's slot, and every copy of the metadata — backups included — loses that subject and
 * only that subject.
 */
import { createHmac } from "node:crypto";
import { VaultError } from "../errors.js";
import { asBuffer, randomBytes, wipe } from "../crypto/bytes.js";

export const PPRF_BITS = 32;
const SEED_LEN = 32;
const NODE_LEN = 1 + 4 + SEED_LEN;
const LABEL = Buffer.from("voxvault/ggm/v1", "utf8");
const HEADER = Buffer.from("VVPPRF1\n", "utf8");
/** More nodes than any real vault reaches (≈ 32 per puncture); bounds parsing of a hostile file. */
const MAX_NODES = 1 << 24;

interface Node {
  readonly depth: number;
  readonly prefix: number;
  readonly seed: Uint8Array;
}

function child(seed: Uint8Array, bit: number): Uint8Array {
  const h = createHmac("sha256", asBuffer(seed));
  h.update(LABEL);
  h.update(Uint8Array.of(bit));
  return new Uint8Array(h.digest());
}

/** First point a node covers. Numbers, not bit operators: prefixes reach 2^32 − 1. */
function start(n: Pick<Node, "depth" | "prefix">): number {
  return n.prefix * 2 ** (PPRF_BITS - n.depth);
}

function checkPoint(x: number): void {
  if (!Number.isSafeInteger(x) || x < 0 || x >= 2 ** PPRF_BITS) {
    throw new VaultError("INVALID_ARGUMENT", `PPRF point ${x} is outside 0..2^32-1`);
  }
}

function bitAt(x: number, depth: number): number {
  // bit of x below the top `depth` bits, counting from the most significant
  return Math.floor(x / 2 ** (PPRF_BITS - 1 - depth)) % 2;
}

export class PuncturableKey {
  /** Sorted by first covered point; disjoint. */
  #nodes: Node[];

  private constructor(nodes: Node[]) {
    this.#nodes = nodes;
  }

  static generate(): PuncturableKey {
    return new PuncturableKey([{ depth: 0, prefix: 0, seed: randomBytes(SEED_LEN) }]);
  }

  /** For test vectors: a key with a given root seed. */
  static fromSeed(seed: Uint8Array): PuncturableKey {
    if (seed.length !== SEED_LEN) throw new RangeError("PPRF seed must be 32 bytes");
    return new PuncturableKey([{ depth: 0, prefix: 0, seed: seed.slice() }]);
  }

  /** Number of subtrees held (the key's size is 37 bytes each). */
  get size(): number {
    return this.#nodes.length;
  }

  #find(x: number): number {
    let lo = 0;
    let hi = this.#nodes.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (start(this.#nodes[mid]!) <= x) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return -1;
    const n = this.#nodes[found]!;
    return x < start(n) + 2 ** (PPRF_BITS - n.depth) ? found : -1;
  }

  isPunctured(x: number): boolean {
    checkPoint(x);
    return this.#find(x) < 0;
  }

  /** F(x); KEY_UNAVAILABLE where the key was punctured. The caller wipes the result. */
  eval(x: number): Uint8Array {
    checkPoint(x);
    const i = this.#find(x);
    if (i < 0)
      throw new VaultError("KEY_UNAVAILABLE", "the root key was punctured at this point (destroyed)");
    const n = this.#nodes[i]!;
    let seed = n.seed;
    for (let d = n.depth; d < PPRF_BITS; d++) {
      const next = child(seed, bitAt(x, d));
      if (seed !== n.seed) wipe(seed);
      seed = next;
    }
    return seed === n.seed ? seed.slice() : seed;
  }

  /** Removes x from the key's domain for good. Returns false if it was already punctured. */
  puncture(x: number): boolean {
    checkPoint(x);
    const i = this.#find(x);
    if (i < 0) return false;
    const n = this.#nodes[i]!;
    const siblings: Node[] = [];
    let seed = n.seed;
    let prefix = n.prefix;
    for (let d = n.depth; d < PPRF_BITS; d++) {
      const b = bitAt(x, d);
      const left = child(seed, 0);
      const right = child(seed, 1);
      if (seed !== n.seed) wipe(seed);
      siblings.push({ depth: d + 1, prefix: prefix * 2 + (1 - b), seed: b === 0 ? right : left });
      seed = b === 0 ? left : right;
      prefix = prefix * 2 + b;
    }
    wipe(seed, n.seed); // seed is now F(x)
    siblings.sort((a, b) => start(a) - start(b));
    this.#nodes.splice(i, 1, ...siblings);
    return true;
  }

  /** Points no subtree covers (the punctured ones), ascending; at most `limit`. */
  gaps(limit: number): number[] {
    const out: number[] = [];
    let next = 0;
    const end = 2 ** PPRF_BITS;
    const take = (lo: number, hi: number) => {
      for (let x = lo; x < hi && out.length < limit; x++) out.push(x);
    };
    for (const n of this.#nodes) {
      take(next, start(n));
      next = start(n) + 2 ** (PPRF_BITS - n.depth);
      if (out.length >= limit) return out;
    }
    take(next, end);
    return out;
  }

  /** Binary form: "VVPPRF1\n" ‖ u32 count ‖ count × (u8 depth ‖ u32 prefix ‖ seed[32]). */
  serialize(): Uint8Array {
    const out = Buffer.alloc(HEADER.length + 4 + this.#nodes.length * NODE_LEN);
    HEADER.copy(out, 0);
    out.writeUInt32BE(this.#nodes.length, HEADER.length);
    let o = HEADER.length + 4;
    for (const n of this.#nodes) {
      out[o] = n.depth;
      out.writeUInt32BE(n.prefix, o + 1);
      out.set(n.seed, o + 5);
      o += NODE_LEN;
    }
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  }

  /** Strict: sorted, disjoint, in range, exact length. A damaged key never evaluates silently. */
  static parse(bytes: Uint8Array): PuncturableKey {
    const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const bad = (why: string) => new VaultError("ROOT_KEY_INVALID", `puncturable root key: ${why}`);
    if (b.length < HEADER.length + 4 || !b.subarray(0, HEADER.length).equals(HEADER)) throw bad("bad header");
    const count = b.readUInt32BE(HEADER.length);
    if (count > MAX_NODES || b.length !== HEADER.length + 4 + count * NODE_LEN) throw bad("bad length");
    const nodes: Node[] = [];
    let o = HEADER.length + 4;
    let nextFree = 0;
    for (let i = 0; i < count; i++) {
      const depth = b[o]!;
      const prefix = b.readUInt32BE(o + 1);
      if (depth > PPRF_BITS || prefix >= 2 ** depth) throw bad("node out of range");
      const n = { depth, prefix, seed: new Uint8Array(b.subarray(o + 5, o + NODE_LEN)) };
      if (start(n) < nextFree) throw bad("nodes overlap or are unsorted");
      nextFree = start(n) + 2 ** (PPRF_BITS - depth);
      nodes.push(n);
      o += NODE_LEN;
    }
    return new PuncturableKey(nodes);
  }

  clone(): PuncturableKey {
    return new PuncturableKey(this.#nodes.map((n) => ({ ...n, seed: n.seed.slice() })));
  }

  wipe(): void {
    for (const n of this.#nodes) wipe(n.seed);
    this.#nodes = [];
  }
}
