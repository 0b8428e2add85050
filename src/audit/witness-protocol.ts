/**
 * The c2sp.org/tlog-witness `add-checkpoint` exchange, as bytes, so that the file/stdin transport
 * of `voxvault audit witness` and a later HTTP transport carry exactly the same bodies.
 *
 * Request body (§add-checkpoint): "old <size>\n", zero to 63 lines of base64 consistency-proof
 * hashes, an empty line, then the signed checkpoint note.
 * Response: 200 with one or more note signature lines ("— <name> <base64>\n", cosignatures);
 * 409 with "<size>\n" (Content-Type text/x.tlog.size) when the old size is not the witness's.
 */
import { VaultError, type ErrorCode } from "../errors.js";
import { decodeBase64Strict, encodeBase64 } from "../tlog/encoding.js";
import { HASH_SIZE } from "../tlog/index.js";

export const MAX_PROOF_LINES = 63;
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;

export interface AddCheckpointRequest {
  readonly oldSize: number;
  readonly proof: readonly Uint8Array[];
  /** The signed checkpoint note, verbatim. */
  readonly checkpoint: string;
}

export function formatAddCheckpoint(req: AddCheckpointRequest): string {
  if (req.proof.length > MAX_PROOF_LINES) {
    throw new VaultError("INVALID_ARGUMENT", "a consistency proof has at most 63 hashes");
  }
  return `old ${req.oldSize}\n${req.proof.map((h) => `${encodeBase64(h)}\n`).join("")}\n${req.checkpoint}`;
}

/** HTTP status, content type and body of a witness's answer. */
export interface WitnessResponse {
  readonly status: 200 | 400 | 403 | 404 | 409 | 422;
  readonly contentType: string;
  readonly body: string;
}

/** The VaultError code a non-200 witness status maps to (for the CLI's error contract). */
export function witnessErrorCode(status: WitnessResponse["status"]): ErrorCode {
  switch (status) {
    case 400:
      return "INVALID_ARGUMENT";
    case 403:
    case 404:
      return "CHECKPOINT_INVALID";
    case 409:
      return "LOG_INCONSISTENT";
    case 422:
      return "PROOF_INVALID";
    default:
      return "INTERNAL";
  }
}

/** Parses a request body; throws INVALID_ARGUMENT (HTTP 400) on any deviation from the format. */
export function parseAddCheckpoint(body: string): AddCheckpointRequest {
  const bad = (why: string) =>
    new VaultError("INVALID_ARGUMENT", `malformed add-checkpoint request: ${why}`, {
      details: { status: 400 },
    });
  const nl = body.indexOf("\n");
  if (nl < 0) throw bad("no old size line");
  const first = body.slice(0, nl);
  if (!first.startsWith("old ") || !DECIMAL.test(first.slice(4))) throw bad("old size line");
  const oldSize = Number(first.slice(4));
  if (!Number.isSafeInteger(oldSize)) throw bad("old size out of range");
  const proof: Uint8Array[] = [];
  let at = nl + 1;
  for (;;) {
    const end = body.indexOf("\n", at);
    if (end < 0) throw bad("no empty line before the checkpoint");
    const line = body.slice(at, end);
    at = end + 1;
    if (line === "") break;
    const h = decodeBase64Strict(line);
    if (h?.length !== HASH_SIZE) throw bad("proof line is not base64 of a 32-byte hash");
    proof.push(h);
    if (proof.length > MAX_PROOF_LINES) throw bad("more than 63 proof lines");
  }
  const checkpoint = body.slice(at);
  if (checkpoint.length === 0) throw bad("no checkpoint");
  return { oldSize, proof, checkpoint };
}
