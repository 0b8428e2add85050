/**
 * A bounded byte channel: a producer `write`s (waiting while the buffer is full), a consumer
 * iterates. It lets one streaming pass feed blob writers without holding whole derivations in
 * memory. A consumer failure is propagated to the producer through `fail`.
 */
export class ByteChannel implements AsyncIterable<Uint8Array> {
  readonly #highWater: number;
  #queue: Uint8Array[] = [];
  #bytes = 0;
  #closed = false;
  #error: unknown = undefined;
  #failed = false;
  #wakeReader: (() => void) | undefined;
  #wakeWriter: (() => void) | undefined;

  constructor(highWaterBytes = 1 << 20) {
    this.#highWater = highWaterBytes;
  }

  async write(chunk: Uint8Array): Promise<void> {
    while (this.#bytes >= this.#highWater && !this.#failed) {
      await new Promise<void>((r) => (this.#wakeWriter = r));
    }
    if (this.#failed) throw this.#error;
    if (this.#closed) throw new Error("write after end");
    if (chunk.length === 0) return;
    this.#queue.push(chunk);
    this.#bytes += chunk.length;
    this.#wake("reader");
  }

  end(): void {
    this.#closed = true;
    this.#wake("reader");
  }

  fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#error = error;
    this.#queue = [];
    this.#bytes = 0;
    this.#wake("reader");
    this.#wake("writer");
  }

  #wake(who: "reader" | "writer"): void {
    const w = who === "reader" ? this.#wakeReader : this.#wakeWriter;
    if (who === "reader") this.#wakeReader = undefined;
    else this.#wakeWriter = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    for (;;) {
      const c = this.#queue.shift();
      if (c) {
        this.#bytes -= c.length;
        this.#wake("writer");
        yield c;
        continue;
      }
      if (this.#failed) throw this.#error;
      if (this.#closed) return;
      await new Promise<void>((r) => (this.#wakeReader = r));
    }
  }
}
