/** A FIFO of byte chunks that hands out exact-length runs as pieces, copying only when asked. */
import { concatBytes } from "../crypto/bytes.js";

export class ByteQueue {
  #chunks: Uint8Array[] = [];
  #head = 0;
  #offset = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** Removes exactly n bytes (n <= length) and returns them as views into the queued chunks. */
  take(n: number): Uint8Array[] {
    if (n > this.#length) throw new RangeError("ByteQueue underflow");
    const out: Uint8Array[] = [];
    let need = n;
    while (need > 0) {
      const c = this.#chunks[this.#head]!;
      const avail = c.length - this.#offset;
      const k = Math.min(avail, need);
      out.push(c.subarray(this.#offset, this.#offset + k));
      need -= k;
      this.#offset += k;
      if (this.#offset === c.length) {
        this.#chunks[this.#head] = EMPTY;
        this.#head++;
        this.#offset = 0;
      }
    }
    this.#length -= n;
    if (this.#head > 64 && this.#head * 2 > this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#head);
      this.#head = 0;
    }
    return out;
  }

  /** Removes n bytes as one contiguous array (a copy when they span chunks). */
  takeContiguous(n: number): Uint8Array {
    const pieces = this.take(n);
    return pieces.length === 1 ? pieces[0]! : concatBytes(...pieces);
  }

  /** The first n bytes (n <= length) without removing them. */
  peek(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let o = 0;
    let i = this.#head;
    let off = this.#offset;
    while (o < n) {
      const c = this.#chunks[i]!;
      const k = Math.min(c.length - off, n - o);
      out.set(c.subarray(off, off + k), o);
      o += k;
      i++;
      off = 0;
    }
    return out;
  }
}

const EMPTY = new Uint8Array(0);
