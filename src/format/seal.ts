/** Streaming encryption into the blob format (docs/format.md). */
import { randomBytes } from "../crypto/bytes.js";
import { VaultError } from "../errors.js";
import { encodeBlobContext, type BlobContext } from "./context.js";
import { createHeader, DEFAULT_SEGMENT_LOG2 } from "./header.js";
import { ByteQueue } from "./queue.js";
import { sealSegment } from "./segment.js";
import { collect, toAsync } from "./io.js";

export interface SealOptions {
  /** log2 of the plaintext segment size (12..24); default 16 = 64 KiB. */
  readonly segmentLog2?: number;
}

/**
 * Encrypts a byte stream. Every call draws a fresh salt and nonce prefix, so a caller cannot
 * reuse a nonce. Source chunks must not be mutated after they are yielded.
 */
export function sealStream(
  dek: Uint8Array,
  context: BlobContext,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: SealOptions = {},
): AsyncGenerator<Uint8Array, void, undefined> {
  return sealWithRandom(dek, context, source, options.segmentLog2 ?? DEFAULT_SEGMENT_LOG2, randomBytes);
}

/**
 * Internal: sealing with an injected random source, used only to regenerate the published test
 * vectors (docs/format.md §8). Not exported from the package; a fixed source reuses nonces.
 */
export async function* sealWithRandom(
  dek: Uint8Array,
  context: BlobContext,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  segmentLog2: number,
  random: (n: number) => Uint8Array,
): AsyncGenerator<Uint8Array, void, undefined> {
  const keys = createHeader(dek, encodeBlobContext(context), segmentLog2, random);
  const segmentSize = 2 ** keys.segmentLog2;
  yield keys.header;
  const queue = new ByteQueue();
  let index = 0;
  for await (const chunk of toAsync(source)) {
    if (!(chunk instanceof Uint8Array))
      throw new VaultError("INVALID_ARGUMENT", "blob source must yield bytes");
    queue.push(chunk);
    // Keep at least one byte back: only EOF tells us which segment is the last one.
    while (queue.length > segmentSize) {
      // Explicit yields: measurably cheaper than delegating to the array's iterator (bench/vault).
      for (const piece of sealSegment(keys, index, false, queue.take(segmentSize))) yield piece;
      index++;
    }
  }
  for (const piece of sealSegment(keys, index, true, queue.take(queue.length))) yield piece;
}

export function sealBuffer(
  dek: Uint8Array,
  context: BlobContext,
  plaintext: Uint8Array,
  options: SealOptions = {},
): Promise<Uint8Array> {
  return collect(sealStream(dek, context, [plaintext], options));
}
