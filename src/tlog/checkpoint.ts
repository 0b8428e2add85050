/**
 * C2SP tlog-checkpoint note text (c2sp.org/tlog-checkpoint §Note text):
 *
 *   <origin>\n<tree size, decimal, no leading zeros>\n<base64 root hash>\n[<extension line>\n ...]
 *
 * Parsing and formatting are exact inverses; anything else is CHECKPOINT_INVALID.
 */

import { VaultError } from "../errors.js";
import { decodeBase64Strict, encodeBase64, isNoteSafeText } from "./encoding.js";
import { type Hash, HASH_SIZE } from "./merkle.js";
import { type NoteSigner, signNote } from "./note.js";

export interface Checkpoint {
  /** Log identity, e.g. "example.com/log42". */
  readonly origin: string;
  /** Number of leaves. */
  readonly size: number;
  /** RFC 9162 Merkle Tree Hash at that size. */
  readonly rootHash: Hash;
  /** Optional opaque, non-empty lines after the root hash (NOT RECOMMENDED by the spec). */
  readonly extensions: readonly string[];
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

function invalid(reason: string): VaultError {
  return new VaultError("CHECKPOINT_INVALID", `checkpoint is malformed: ${reason}`, { details: { reason } });
}

/** Parses checkpoint note text (as returned by openNote, including the final newline). */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith("\n")) throw invalid("text must end with a newline");
  if (!isNoteSafeText(text)) throw invalid("text contains control characters");
  const lines = text.slice(0, -1).split("\n");
  const [origin, sizeLine, rootLine, ...extensions] = lines;
  if (origin === undefined || sizeLine === undefined || rootLine === undefined) {
    throw invalid("fewer than three lines");
  }
  if (lines.some((l) => l.length === 0)) throw invalid("empty line");
  if (!DECIMAL.test(sizeLine)) throw invalid("tree size is not a canonical decimal");
  const size = Number(sizeLine);
  if (!Number.isSafeInteger(size)) throw invalid("tree size exceeds 2^53 - 1");
  const rootHash = decodeBase64Strict(rootLine);
  if (rootHash?.length !== HASH_SIZE) throw invalid("root hash is not base64 of 32 bytes");
  return { origin, size, rootHash, extensions };
}

/** The note text of a checkpoint. Throws CHECKPOINT_INVALID for values the format cannot carry. */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  const { origin, size, rootHash, extensions } = checkpoint;
  for (const line of [origin, ...extensions]) {
    if (line.length === 0 || line.includes("\n") || !isNoteSafeText(line)) {
      throw invalid("origin and extension lines must be non-empty single lines without control characters");
    }
  }
  if (!Number.isSafeInteger(size) || size < 0) throw invalid("tree size must be a non-negative safe integer");
  if (rootHash.length !== HASH_SIZE) throw invalid("root hash must be 32 bytes");
  return [origin, String(size), encodeBase64(rootHash), ...extensions].map((l) => `${l}\n`).join("");
}

/** Formats and signs a checkpoint; the log's key name SHOULD equal the origin. */
export async function signCheckpoint(
  checkpoint: Checkpoint,
  signers: readonly NoteSigner[],
): Promise<string> {
  return signNote(formatCheckpoint(checkpoint), signers);
}
