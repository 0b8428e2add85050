/**
 * Cuts a chunked sample stream into overlapping frames the way Kaldi does with
 * snip_edges = true: frame i covers samples [i·shift, i·shift + length), and a trailing partial
 * frame is dropped. Frames are identical whatever the chunking; memory is one frame.
 */

import { VaultError } from "../../errors.js";

export class Framer {
  readonly length: number;
  readonly shift: number;
  private readonly ring: Float64Array;
  private readonly frame: Float64Array;
  private written = 0;
  private nextEnd: number;
  private index = 0;

  constructor(length: number, shift: number) {
    if (!Number.isInteger(length) || !Number.isInteger(shift) || length < 1 || shift < 1) {
      throw new VaultError("INVALID_ARGUMENT", "frame length and shift must be positive integers");
    }
    this.length = length;
    this.shift = shift;
    this.ring = new Float64Array(length);
    this.frame = new Float64Array(length);
    this.nextEnd = length;
  }

  /** Samples pushed so far. */
  get samples(): number {
    return this.written;
  }

  /** Frames emitted so far. */
  get frames(): number {
    return this.index;
  }

  /**
   * Feeds samples; calls `onFrame` for each completed frame. The frame array is reused: copy it
   * if you keep it.
   */
  push(chunk: ArrayLike<number>, onFrame: (frame: Float64Array, index: number) => void): void {
    const L = this.length;
    const ring = this.ring;
    let pos = 0;
    const n = chunk.length;
    while (pos < n) {
      const take = Math.min(n - pos, this.nextEnd - this.written);
      let w = this.written % L;
      for (let i = 0; i < take; i++) {
        ring[w] = chunk[pos + i]!;
        w = w + 1 === L ? 0 : w + 1;
      }
      pos += take;
      this.written += take;
      if (this.written === this.nextEnd) {
        // The oldest sample sits where the next write would go.
        const head = this.written % L;
        const frame = this.frame;
        const tail = L - head;
        for (let i = 0; i < tail; i++) frame[i] = ring[head + i]!;
        for (let i = 0; i < head; i++) frame[tail + i] = ring[i]!;
        onFrame(frame, this.index++);
        this.nextEnd += this.shift;
      }
    }
  }
}
