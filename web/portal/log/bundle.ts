/**
 * Checks a contractor's log bundle (POST /v1/me/audit; docs/tlog.md "Subject view") in the browser:
 * every event shown is committed to by its leaf (HMAC commitments of docs/tlog.md §10), the leaf
 * names this subject, the leaf is included in a checkpoint signed by a log key the reader trusts,
 * and that checkpoint extends the one the reader verified last time. The same checks as
 * src/audit/subject-view.ts, written again on Web Crypto so that the page does not have to trust the
 * server's own verdict; test/access/portal-log-verifier.test.ts runs both on the same bundles.
 */
import { fromB64, hmac, ProofError, same, utf8 } from "./bytes.js";
import { leafHash, verifyConsistency, verifyInclusion } from "./merkle.js";
import { openCheckpoint, type Checkpoint, type VerifierKey } from "./note.js";

export interface SubjectBundle {
  readonly format: string;
  readonly subjectId: string;
  readonly origin: string;
  readonly checkpoint: string;
  readonly subjectKey: string;
  readonly events: readonly {
    readonly index: number;
    readonly record: string;
    readonly opening: string;
    readonly leaf: string;
    readonly inclusion: readonly string[];
  }[];
  readonly consistency?: { readonly from: number; readonly proof: readonly string[] } | undefined;
}

export interface CheckedEvent {
  readonly index: number;
  readonly id: string;
  readonly at: string;
  readonly type: string;
  readonly actor: unknown;
  readonly payload: Record<string, unknown>;
}

export interface CheckedLog {
  readonly checkpoint: Checkpoint;
  readonly checkpointNote: string;
  readonly events: readonly CheckedEvent[];
  readonly witnesses: readonly string[];
  readonly consistentWith?: number;
}

const LEAF_FORMAT = "voxvault/audit-leaf/v1";
const LEAF_MEMBERS = new Set(["at", "event", "format", "id", "subject", "type"]);

/** RFC 8785 (JCS) for the JSON the log uses: sorted keys, ECMAScript string and number forms. */
export function jcs(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(jcs).join(",")}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${jcs(o[k])}`)
    .join(",")}}`;
}

/** Parses canonical JSON only: anything else (duplicate keys, other spacing or order) is refused. */
function canonical(text: string, what: string): unknown {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ProofError(`${what} is not JSON`);
  }
  if (jcs(v) !== text) throw new ProofError(`${what} is not canonical JSON`);
  return v;
}

export async function verifyBundle(
  bundle: SubjectBundle,
  logKeys: readonly VerifierKey[],
  witnessKeys: readonly VerifierKey[],
  previous?: string,
): Promise<CheckedLog> {
  if (bundle.format !== "voxvault-subject-log/1") throw new ProofError("not a voxvault subject log");
  const opened = await openCheckpoint(bundle.checkpoint, bundle.origin, logKeys, witnessKeys);
  const cp = opened.checkpoint;
  const subjectKey = fromB64(bundle.subjectKey, "subject key");
  const events: CheckedEvent[] = [];
  for (const e of bundle.events) {
    const leafBytes = fromB64(e.leaf, `leaf ${e.index}`);
    const leaf = canonical(
      new TextDecoder("utf-8", { fatal: true }).decode(leafBytes),
      `leaf ${e.index}`,
    ) as Record<string, unknown>;
    if (
      typeof leaf !== "object" ||
      Object.keys(leaf).some((k) => !LEAF_MEMBERS.has(k)) ||
      leaf.format !== LEAF_FORMAT
    )
      throw new ProofError(`leaf ${e.index} is not a voxvault audit leaf`);
    const record = canonical(e.record, `event ${e.index}`) as {
      id?: unknown;
      at?: unknown;
      type?: unknown;
      actor?: unknown;
      payload?: Record<string, unknown>;
    };
    if (record.id !== leaf.id || record.at !== leaf.at || record.type !== leaf.type)
      throw new ProofError(`leaf ${e.index}: id, time or type differ from the event shown`);
    if (record.payload?.subjectId !== bundle.subjectId)
      throw new ProofError(`leaf ${e.index}: the event shown is about another subject`);
    const id = String(leaf.id);
    if (
      typeof leaf.subject !== "string" ||
      !same(fromB64(leaf.subject, "subject"), await hmac(subjectKey, utf8(id)))
    )
      throw new ProofError(`leaf ${e.index}: the leaf is not committed to you`);
    const opening = fromB64(e.opening, "opening");
    if (
      typeof leaf.event !== "string" ||
      !same(fromB64(leaf.event, "event"), await hmac(opening, utf8(e.record)))
    )
      throw new ProofError(`leaf ${e.index}: the event shown is not the one the leaf commits to`);
    await verifyInclusion(
      await leafHash(leafBytes),
      e.index,
      cp.size,
      e.inclusion.map((h) => fromB64(h, "proof hash")),
      cp.root,
    );
    events.push({
      index: e.index,
      id,
      at: String(leaf.at),
      type: String(leaf.type),
      actor: record.actor,
      payload: record.payload,
    });
  }
  const out = { checkpoint: cp, checkpointNote: bundle.checkpoint, events, witnesses: opened.witnesses };
  if (previous === undefined) return out;
  const prev = (await openCheckpoint(previous, bundle.origin, logKeys, witnessKeys)).checkpoint;
  if (prev.size > 0 && bundle.consistency?.from !== prev.size)
    throw new ProofError(`no proof that the log extends the checkpoint of size ${prev.size} you saw`);
  await verifyConsistency(
    prev.size,
    cp.size,
    (bundle.consistency?.proof ?? []).map((h) => fromB64(h, "proof hash")),
    prev.root,
    cp.root,
  );
  return { ...out, consistentWith: prev.size };
}
