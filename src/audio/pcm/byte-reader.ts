import { VaultError } from "../../errors.js";

/**
 * Pull-based reader over a stream of byte chunks. Buffers only what a caller asked to look at,
 * so a header that declares gigabytes never causes an allocation; counts every byte pulled and
 * refuses the stream with TOO_LARGE as soon as it passes maxBytes.
 */
export class ByteReader {
  readonly #it: AsyncIterator<Uint8Array>;
  readonly #maxBytes: number;
  #queue: Uint8Array[] = [];
  #buffered = 0;
  #pulled = 0;
  #done = false;

  constructor(source: AsyncIterable<Uint8Array>, maxBytes: number) {
    this.#it = source[Symbol.asyncIterator]();
    this.#maxBytes = maxBytes;
  }

  /** Bytes consumed so far (pulled minus buffered). */
  get position(): number {
    return this.#pulled - this.#buffered;
  }

  /** Bytes pulled from the source so far. */
  get pulled(): number {
    return this.#pulled;
  }

  get buffered(): number {
    return this.#buffered;
  }

  async #pull(): Promise<boolean> {
    if (this.#done) return false;
    for (;;) {
      const r = await this.#it.next();
      if (r.done === true) {
        this.#done = true;
        return false;
      }
      const v: unknown = r.value;
      if (!(v instanceof Uint8Array)) {
        throw new VaultError("INVALID_ARGUMENT", "audio input must yield Uint8Array chunks");
      }
      if (v.length === 0) continue;
      this.#pulled += v.length;
      if (this.#pulled > this.#maxBytes) {
        throw new VaultError("TOO_LARGE", "input exceeds the size limit", {
          details: { maxBytes: this.#maxBytes },
        });
      }
      this.#queue.push(v);
      this.#buffered += v.length;
      return true;
    }
  }

  /** Buffers at least n bytes; false if the stream ended first (then fewer are buffered). */
  async fill(n: number): Promise<boolean> {
    while (this.#buffered < n) {
      if (!(await this.#pull())) return false;
    }
    return true;
  }

  /** Up to n buffered bytes without consuming them (copies only when they span chunks). */
  peek(n: number): Uint8Array {
    const want = Math.min(n, this.#buffered);
    const first = this.#queue[0];
    if (first === undefined) return new Uint8Array(0);
    if (first.length >= want) return first.subarray(0, want);
    const out = new Uint8Array(want);
    let off = 0;
    for (const c of this.#queue) {
      if (off >= want) break;
      const take = Math.min(c.length, want - off);
      out.set(c.subarray(0, take), off);
      off += take;
    }
    return out;
  }

  #drop(n: number): void {
    let left = n;
    while (left > 0) {
      const c = this.#queue[0]!;
      if (c.length <= left) {
        this.#queue.shift();
        left -= c.length;
      } else {
        this.#queue[0] = c.subarray(left);
        left = 0;
      }
    }
    this.#buffered -= n;
  }

  /** Exactly n bytes, or fewer if the stream ends first. */
  async read(n: number): Promise<Uint8Array> {
    await this.fill(n);
    const out = this.peek(n);
    this.#drop(out.length);
    return out;
  }

  /** The next 1..max bytes without concatenating chunks; null at end of stream. */
  async readSome(max: number): Promise<Uint8Array | null> {
    if (this.#buffered === 0 && !(await this.#pull())) return null;
    const first = this.#queue[0]!;
    const out = first.length <= max ? first : first.subarray(0, max);
    this.#drop(out.length);
    return out;
  }

  /** Skips n bytes without buffering them; returns how many were skipped. */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      if (this.#buffered === 0 && !(await this.#pull())) break;
      const take = Math.min(left, this.#buffered);
      this.#drop(take);
      left -= take;
    }
    return n - left;
  }

  /** True once the source is exhausted and nothing is buffered. */
  async atEnd(): Promise<boolean> {
    return !(await this.fill(1));
  }

  /** Stops the source early (e.g. on error); safe to call twice. */
  async close(): Promise<void> {
    this.#queue = [];
    this.#buffered = 0;
    if (!this.#done) {
      this.#done = true;
      await this.#it.return?.();
    }
  }
}
