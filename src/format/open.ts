/** Streaming decryption of the blob format (docs/format.md §5). */
import { VaultError } from "../errors.js";
import { encodeBlobContext, type BlobContext } from "./context.js";
import { HEADER_LENGTH, MAGIC, TAG_LENGTH, openHeader, parseHeaderFields, type BlobKeys } from "./header.js";
import { ByteQueue } from "./queue.js";
import { openSegment } from "./segment.js";
import { collect, toAsync } from "./io.js";

export interface OpenOptions {
  /**
   * The ciphertext length recorded when the blob was stored. With it, truncation inside a
   * segment is reported as BLOB_TRUNCATED rather than BLOB_SEGMENT_CORRUPT.
   */
  readonly expectedLength?: number;
}

/**
 * Decrypts a blob stream. Each segment's plaintext is yielded only after its tag verified; an
 * error after some output means the blob is incomplete or damaged and the whole read failed.
 */
export async function* openStream(
  dek: Uint8Array,
  context: BlobContext,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: OpenOptions = {},
): AsyncGenerator<Uint8Array, void, undefined> {
  const contextBytes = encodeBlobContext(context);
  const expected = options.expectedLength;
  const queue = new ByteQueue();
  let keys: BlobKeys | undefined;
  let segmentCt = 0;
  let index = 0;
  let total = 0;
  for await (const chunk of toAsync(source)) {
    if (!(chunk instanceof Uint8Array))
      throw new VaultError("INVALID_ARGUMENT", "blob source must yield bytes");
    total += chunk.length;
    if (expected !== undefined && total > expected) {
      throw new VaultError("BLOB_TRAILING_DATA", "blob is longer than its recorded length");
    }
    queue.push(chunk);
    if (!keys) {
      checkMagicPrefix(queue);
      if (queue.length < HEADER_LENGTH) continue;
      keys = openHeader(dek, contextBytes, queue.takeContiguous(HEADER_LENGTH));
      segmentCt = 2 ** keys.segmentLog2 + TAG_LENGTH;
    }
    // A full-size segment is non-final only if at least one more byte follows it.
    while (queue.length > segmentCt) {
      const body = queue.take(segmentCt - TAG_LENGTH);
      const tag = queue.takeContiguous(TAG_LENGTH);
      for (const piece of openSegment(keys, index, false, body, tag)) yield piece;
      index++;
    }
  }
  if (!keys) {
    if (queue.length === 0) throw new VaultError("BLOB_TRUNCATED", "blob is empty");
    parseHeaderFields(queue.peek(queue.length)); // throws BAD_MAGIC or TRUNCATED
    throw new VaultError("BLOB_TRUNCATED", "blob ends inside its header");
  }
  if (expected !== undefined && total < expected) {
    throw new VaultError("BLOB_TRUNCATED", "blob is shorter than its recorded length");
  }
  const rest = queue.length;
  if (rest < TAG_LENGTH) {
    throw new VaultError("BLOB_TRUNCATED", `blob ends inside segment ${index}`, {
      details: { segment: index },
    });
  }
  const body = queue.take(rest - TAG_LENGTH);
  const tag = queue.takeContiguous(TAG_LENGTH);
  const plain = openSegment(keys, index, true, body, tag);
  if (rest === TAG_LENGTH && index > 0) {
    // Writers never emit an empty final segment after a full one; accepting it would give one
    // plaintext two encodings.
    throw new VaultError("BLOB_HEADER_INVALID", "non-canonical empty final segment");
  }
  for (const piece of plain) yield piece;
}

function checkMagicPrefix(queue: ByteQueue): void {
  const n = Math.min(queue.length, MAGIC.length);
  const head = queue.peek(n);
  for (let i = 0; i < n; i++) {
    if (head[i] !== MAGIC[i]) throw new VaultError("BLOB_BAD_MAGIC", "not a voxvault blob");
  }
}

export function openBuffer(
  dek: Uint8Array,
  context: BlobContext,
  ciphertext: Uint8Array,
  options: OpenOptions = {},
): Promise<Uint8Array> {
  return collect(openStream(dek, context, [ciphertext], options));
}
