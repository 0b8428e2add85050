/**
 * The bytes of a transparency-log leaf (docs/tlog.md §10). One leaf per audit event; the leaf
 * hash is RFC 9162 §2.1.1 SHA-256(0x00 || leaf).
 *
 *   record  = JCS({"actor", "at", "id", "payload", "type"})        the event row (RFC 8785)
 *   opening = HMAC-SHA-256(K, "voxvault/audit-leaf/opening/v1\n" || event id)
 *   skey    = HMAC-SHA-256(K, "voxvault/audit-leaf/subject-key/v1\n" || subject id)
 *   leaf    = JCS({"at", "event": b64(HMAC-SHA-256(opening, record)),
 *                 "format": "voxvault/audit-leaf/v1", "id",
 *                 ["subject": b64(HMAC-SHA-256(skey, event id))], "type"})
 *
 * K is the vault secret "audit-log-commitment". A leaf shows an event's id, time and type and
 * nothing else in clear: the actor, the payload and the subject are behind keyed commitments.
 * Handing out `opening` opens one event (HMAC is a PRF under a secret key and binding once the
 * key is known); handing a contractor `skey` lets them recognise every leaf about them, and only
 * those, without learning anything about other leaves (the per-event HMAC makes their leaves
 * unlinkable to everyone else).
 */
import { parseStrictJson } from "../crypto/strict-json.js";
import { createHmac } from "node:crypto";
import { fromBase64, toBase64 } from "../crypto/bytes.js";
import { canonicalJson, type CanonicalValue } from "../crypto/jcs.js";
import { VaultError } from "../errors.js";

export const LEAF_FORMAT = "voxvault/audit-leaf/v1";
export const COMMIT_SECRET = "audit-log-commitment";

const OPENING_LABEL = "voxvault/audit-leaf/opening/v1\n";
const SUBJECT_KEY_LABEL = "voxvault/audit-leaf/subject-key/v1\n";

/** An audit event as stored: the actor and payload as their canonical JSON texts. */
export interface EventRow {
  readonly id: string;
  readonly at: string;
  readonly type: string;
  /** JCS text of the actor object. */
  readonly actor: string;
  /** JCS text of the event without its "type" member. */
  readonly payload: string;
}

/** A parsed leaf. */
export interface Leaf {
  readonly id: string;
  readonly at: string;
  readonly type: string;
  /** HMAC-SHA-256(opening, record). */
  readonly event: Uint8Array;
  /** HMAC-SHA-256(subject key, id), when the event is about a subject. */
  readonly subject?: Uint8Array;
}

function hmac(key: Uint8Array, text: string): Uint8Array {
  return new Uint8Array(createHmac("sha256", key).update(text, "utf8").digest());
}

/** The canonical record the event commitment covers (string concatenation is JCS here: keys sorted). */
export function eventRecord(row: EventRow): string {
  return (
    `{"actor":${row.actor},"at":${JSON.stringify(row.at)},"id":${JSON.stringify(row.id)},` +
    `"payload":${row.payload},"type":${JSON.stringify(row.type)}}`
  );
}

export function eventOpening(commitSecret: Uint8Array, eventId: string): Uint8Array {
  return hmac(commitSecret, OPENING_LABEL + eventId);
}

export function subjectCommitmentKey(commitSecret: Uint8Array, subjectId: string): Uint8Array {
  return hmac(commitSecret, SUBJECT_KEY_LABEL + subjectId);
}

export function eventCommitment(opening: Uint8Array, record: string): Uint8Array {
  return hmac(opening, record);
}

export function subjectCommitment(subjectKey: Uint8Array, eventId: string): Uint8Array {
  return hmac(subjectKey, eventId);
}

/** The subject an event row is about (its payload's "subjectId"), if any. */
export function payloadSubject(payload: string): string | undefined {
  const parsed = JSON.parse(payload) as { subjectId?: unknown };
  return typeof parsed.subjectId === "string" ? parsed.subjectId : undefined;
}

/** The leaf bytes of an event row. */
export function leafBytes(commitSecret: Uint8Array, row: EventRow, subjectId?: string): Uint8Array {
  const event = eventCommitment(eventOpening(commitSecret, row.id), eventRecord(row));
  const leaf: Record<string, CanonicalValue> = {
    at: row.at,
    event: toBase64(event),
    format: LEAF_FORMAT,
    id: row.id,
    type: row.type,
  };
  if (subjectId !== undefined) {
    leaf.subject = toBase64(subjectCommitment(subjectCommitmentKey(commitSecret, subjectId), row.id));
  }
  return new TextEncoder().encode(canonicalJson(leaf));
}

function bad(reason: string): VaultError {
  return new VaultError("PROOF_INVALID", `not a voxvault audit leaf: ${reason}`, { details: { reason } });
}

function hash32(v: unknown, what: string): Uint8Array {
  if (typeof v !== "string") throw bad(`${what} missing`);
  let b: Uint8Array;
  try {
    b = fromBase64(v);
  } catch {
    throw bad(`${what} is not base64`);
  }
  if (b.length !== 32) throw bad(`${what} is not 32 bytes`);
  return b;
}

/** Parses leaf bytes strictly: canonical JSON with exactly the v1 members. */
export function parseLeaf(bytes: Uint8Array): Leaf {
  let obj: unknown;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    obj = parseStrictJson(text);
  } catch {
    throw bad("not UTF-8 JSON");
  }
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) throw bad("not an object");
  const o = obj as Record<string, unknown>;
  if (o.format !== LEAF_FORMAT) throw bad("unknown format");
  const allowed = new Set(["at", "event", "format", "id", "subject", "type"]);
  if (Object.keys(o).some((k) => !allowed.has(k))) throw bad("unknown member");
  if (typeof o.id !== "string" || typeof o.at !== "string" || typeof o.type !== "string") {
    throw bad("id, at or type missing");
  }
  if (canonicalJson(o as Record<string, CanonicalValue>) !== text) throw bad("not canonical JSON");
  const leaf = { id: o.id, at: o.at, type: o.type, event: hash32(o.event, "event") };
  return o.subject === undefined ? leaf : { ...leaf, subject: hash32(o.subject, "subject") };
}
