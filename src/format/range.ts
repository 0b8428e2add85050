/** Random-access decryption of a segment range (docs/format.md §6). */
import { VaultError } from "../errors.js";
import { encodeBlobContext, type BlobContext } from "./context.js";
import { HEADER_LENGTH, TAG_LENGTH, openHeader } from "./header.js";
import { openSegment } from "./segment.js";

export interface RandomAccessSource {
  /** Total ciphertext length in bytes. */
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

export interface BlobLayout {
  readonly segmentSize: number;
  readonly segments: number;
  readonly plaintextLength: number;
}

/** Segment count and plaintext length implied by a ciphertext length (throws if impossible). */
export function blobLayout(ciphertextLength: number, segmentLog2: number): BlobLayout {
  const segmentSize = 2 ** segmentLog2;
  const segmentCt = segmentSize + TAG_LENGTH;
  const body = ciphertextLength - HEADER_LENGTH;
  if (body < TAG_LENGTH) throw new VaultError("BLOB_TRUNCATED", "blob has no complete segment");
  const segments = Math.ceil(body / segmentCt);
  const lastCt = body - (segments - 1) * segmentCt;
  if (lastCt < TAG_LENGTH) throw new VaultError("BLOB_TRUNCATED", "blob ends inside a segment tag");
  if (lastCt === TAG_LENGTH && segments > 1) {
    throw new VaultError("BLOB_HEADER_INVALID", "non-canonical empty final segment");
  }
  return { segmentSize, segments, plaintextLength: (segments - 1) * segmentSize + lastCt - TAG_LENGTH };
}

/** Segments fetched per read when a range spans many of them (bounds memory to ~1 MiB at 64 KiB). */
const SEGMENTS_PER_READ = 16;

/**
 * Decrypts plaintext bytes [start, end) reading only the segments that hold them. Every segment
 * read is authenticated at its index, with the last-flag implied by the blob's length.
 */
export async function* openRange(
  dek: Uint8Array,
  context: BlobContext,
  source: RandomAccessSource,
  start: number,
  end?: number,
): AsyncGenerator<Uint8Array, void, undefined> {
  if (source.size < HEADER_LENGTH) {
    const head = await source.read(0, source.size);
    openHeader(dek, encodeBlobContext(context), head); // names the failure (magic or truncation)
  }
  const keys = openHeader(dek, encodeBlobContext(context), await source.read(0, HEADER_LENGTH));
  const layout = blobLayout(source.size, keys.segmentLog2);
  const stop = end ?? layout.plaintextLength;
  if (
    !Number.isSafeInteger(start) ||
    !Number.isSafeInteger(stop) ||
    start < 0 ||
    stop < start ||
    stop > layout.plaintextLength
  ) {
    throw new VaultError(
      "BLOB_RANGE_INVALID",
      `range ${start}..${stop} outside 0..${layout.plaintextLength}`,
    );
  }
  if (start === stop) return;
  const S = layout.segmentSize;
  const segCt = S + TAG_LENGTH;
  const first = Math.floor(start / S);
  const last = Math.floor((stop - 1) / S);
  for (let batch = first; batch <= last; batch += SEGMENTS_PER_READ) {
    const batchEnd = Math.min(last, batch + SEGMENTS_PER_READ - 1);
    const offset = HEADER_LENGTH + batch * segCt;
    const length = Math.min(source.size, HEADER_LENGTH + (batchEnd + 1) * segCt) - offset;
    const data = await source.read(offset, length);
    if (data.length !== length) throw new VaultError("BLOB_TRUNCATED", "short read from blob source");
    for (let i = batch; i <= batchEnd; i++) {
      const o = (i - batch) * segCt;
      const segLen = Math.min(segCt, data.length - o);
      const body = data.subarray(o, o + segLen - TAG_LENGTH);
      const tag = data.subarray(o + segLen - TAG_LENGTH, o + segLen);
      const plain = openSegment(keys, i, i === layout.segments - 1, [body], tag);
      const segStart = i * S;
      let pos = segStart;
      for (const p of plain) {
        const a = Math.max(start, pos) - pos;
        const b = Math.min(stop, pos + p.length) - pos;
        if (b > a) yield p.subarray(a, b);
        pos += p.length;
      }
    }
  }
}
