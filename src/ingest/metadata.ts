/**
 * What a platform says about a recording when it uploads or imports it, so consumers can tie
 * results to an interview: an external id (the platform's own), a kind, and when it was recorded.
 * Stored in the clear next to the recording (it is not voice), so it is kept short and strict:
 * nothing else is accepted, and a platform should not put names or e-mail addresses in it.
 */
import { VaultError } from "../errors.js";

export interface RecordingMetadata {
  readonly externalId?: string;
  /** A lower-case word such as `interview` or `assessment`. */
  readonly kind?: string;
  /** An RFC 3339 timestamp. */
  readonly recordedAt?: string;
}

const EXTERNAL_ID = /^[\x21-\x7e]{1,128}$/; // printable ASCII, no spaces
const KIND = /^[a-z][a-z0-9-]{0,31}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** Validates metadata from any entry point; unknown fields and malformed values are refused. */
export function parseRecordingMetadata(value: unknown): RecordingMetadata | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Array.isArray(value))
    throw new VaultError("INVALID_ARGUMENT", "recording metadata must be an object");
  const out: { externalId?: string; kind?: string; recordedAt?: string } = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined) continue;
    if (typeof v !== "string") throw new VaultError("INVALID_ARGUMENT", `metadata ${k} must be a string`);
    if (k === "externalId") {
      if (!EXTERNAL_ID.test(v))
        throw new VaultError(
          "INVALID_ARGUMENT",
          "externalId: 1 to 128 printable ASCII characters, no spaces",
        );
      out.externalId = v;
    } else if (k === "kind") {
      if (!KIND.test(v))
        throw new VaultError("INVALID_ARGUMENT", "kind: a lower-case word of up to 32 characters");
      out.kind = v;
    } else if (k === "recordedAt") {
      if (!RFC3339.test(v) || Number.isNaN(Date.parse(v)))
        throw new VaultError("INVALID_ARGUMENT", "recordedAt: an RFC 3339 timestamp");
      out.recordedAt = new Date(v).toISOString();
    } else {
      throw new VaultError("INVALID_ARGUMENT", `unknown recording metadata field ${k}`);
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

export function encodeMetadata(m: RecordingMetadata | undefined): string | null {
  return m ? JSON.stringify(m) : null;
}

export function decodeMetadata(s: string | null): RecordingMetadata | undefined {
  return s === null ? undefined : (JSON.parse(s) as RecordingMetadata);
}
