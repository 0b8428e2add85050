/**
 * The per-subject view of the log (docs/tlog.md §15): what a contractor is given about
 * themselves, and the client-side check of it. The check uses nothing but the bundle, the log's
 * verifier key(s) and (optionally) the checkpoint the contractor saw last time — no database,
 * no vault secret.
 *
 * Bundle (JSON):
 *   { "format": "voxvault-subject-log/1", "subjectId", "origin", "checkpoint": <note as served>,
 *     "subjectKey": b64,                       HMAC key for this subject's leaf commitments (leaf.ts)
 *     "events": [{ "index", "record": <JCS text>, "opening": b64, "leaf": b64,
 *                  "inclusion": [b64 …] }],    RFC 9162 §2.1.3 proof against the checkpoint
 *     "consistency"?: { "from": size, "proof": [b64 …] } }   §2.1.4 proof from the earlier checkpoint
 */
import { parseStrictJson } from "../crypto/strict-json.js";
import { z } from "zod";
import { fromBase64, toBase64 } from "../crypto/bytes.js";
import { VaultError } from "../errors.js";
import {
  type Checkpoint,
  leafHash,
  openCheckpoint,
  parseVerifierKey,
  verifyConsistency,
  verifyInclusion,
} from "../tlog/index.js";
import { eventCommitment, parseLeaf, subjectCommitment } from "./leaf.js";

export const SUBJECT_BUNDLE_FORMAT = "voxvault-subject-log/1";

export const SubjectBundleSchema = z.strictObject({
  format: z.literal(SUBJECT_BUNDLE_FORMAT),
  subjectId: z.string(),
  origin: z.string(),
  checkpoint: z.string(),
  subjectKey: z.string(),
  events: z.array(
    z.strictObject({
      index: z.number().int().min(0),
      record: z.string(),
      opening: z.string(),
      leaf: z.string(),
      inclusion: z.array(z.string()),
    }),
  ),
  consistency: z.strictObject({ from: z.number().int().min(0), proof: z.array(z.string()) }).optional(),
});
export type SubjectBundle = z.infer<typeof SubjectBundleSchema>;

export interface VerifiedSubjectEvent {
  readonly index: number;
  readonly id: string;
  readonly at: string;
  readonly type: string;
  readonly actor: unknown;
  readonly payload: Record<string, unknown>;
}

export interface VerifiedSubjectLog {
  readonly checkpoint: Checkpoint;
  readonly events: readonly VerifiedSubjectEvent[];
  /** Size of the earlier checkpoint the current one was proven to extend, if one was given. */
  readonly consistentWith?: number;
}

function b64(s: string, what: string): Uint8Array {
  try {
    return fromBase64(s);
  } catch {
    throw new VaultError("PROOF_INVALID", `${what} is not base64`);
  }
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Verifies a subject bundle client-side. `logKeys` are the log's vkeys the client trusts (from
 * `audit key`, pinned); `previous` is a checkpoint note the client verified before.
 * Throws PROOF_INVALID / CHECKPOINT_INVALID naming the first thing that does not hold.
 */
export function verifySubjectBundle(
  input: unknown,
  logKeys: readonly string[],
  previous?: string,
): VerifiedSubjectLog {
  const parsed = SubjectBundleSchema.safeParse(input);
  if (!parsed.success) throw new VaultError("INVALID_ARGUMENT", "not a voxvault subject log bundle");
  const bundle = parsed.data;
  const policy = { origin: bundle.origin, logVerifiers: logKeys.map((k) => parseVerifierKey(k)) };
  const cp = openCheckpoint(bundle.checkpoint, policy).checkpoint;
  const subjectKey = b64(bundle.subjectKey, "subject key");
  const events: VerifiedSubjectEvent[] = [];
  for (const e of bundle.events) {
    const leafData = b64(e.leaf, `leaf ${e.index}`);
    const leaf = parseLeaf(leafData);
    let record: { actor?: unknown; at?: unknown; id?: unknown; payload?: unknown; type?: unknown };
    try {
      record = parseStrictJson(e.record) as typeof record;
    } catch {
      throw new VaultError("PROOF_INVALID", `event ${e.index}: record is not JSON`);
    }
    const payload = record.payload as Record<string, unknown> | undefined;
    if (record.id !== leaf.id || record.at !== leaf.at || record.type !== leaf.type) {
      throw new VaultError("PROOF_INVALID", `leaf ${e.index}: id, time or type differ from the event shown`);
    }
    if (payload?.subjectId !== bundle.subjectId) {
      throw new VaultError("PROOF_INVALID", `leaf ${e.index}: the event shown is about another subject`);
    }
    if (!leaf.subject || !same(leaf.subject, subjectCommitment(subjectKey, leaf.id))) {
      throw new VaultError("PROOF_INVALID", `leaf ${e.index}: the leaf is not committed to this subject`);
    }
    if (!same(leaf.event, eventCommitment(b64(e.opening, "opening"), e.record))) {
      throw new VaultError(
        "PROOF_INVALID",
        `leaf ${e.index}: the event shown is not the one the leaf commits to`,
      );
    }
    if (e.index >= cp.size) {
      throw new VaultError(
        "PROOF_INVALID",
        `leaf ${e.index} is not covered by the checkpoint of size ${cp.size}`,
      );
    }
    verifyInclusion(
      leafHash(leafData),
      e.index,
      cp.size,
      e.inclusion.map((h) => b64(h, "proof hash")),
      cp.rootHash,
    );
    events.push({ index: e.index, id: leaf.id, at: leaf.at, type: leaf.type, actor: record.actor, payload });
  }
  if (previous === undefined) return { checkpoint: cp, events };
  const prev = openCheckpoint(previous, policy).checkpoint;
  if (prev.size === 0) return { checkpoint: cp, events, consistentWith: 0 };
  if (bundle.consistency?.from !== prev.size) {
    throw new VaultError("PROOF_INVALID", `the bundle has no consistency proof from size ${prev.size}`);
  }
  verifyConsistency(
    prev.size,
    cp.size,
    bundle.consistency.proof.map((h) => b64(h, "proof hash")),
    prev.rootHash,
    cp.rootHash,
  );
  return { checkpoint: cp, events, consistentWith: prev.size };
}

export function encodeHashes(hashes: readonly Uint8Array[]): string[] {
  return hashes.map((h) => toBase64(h));
}
