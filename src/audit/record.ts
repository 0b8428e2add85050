import { canonicalJson } from "../crypto/jcs.js";
import { newId } from "../ids.js";
import type { Selectable } from "kysely";
import type { MetaDb } from "../store/meta/index.js";
import type { AuditEventsTable } from "../store/meta/schema.js";
import type { Actor, AuditEvent } from "./events.js";
import { sessionFor } from "./session.js";

export interface RecordedEvent {
  readonly seq: number;
  readonly id: string;
  readonly at: string;
  readonly actor: Actor;
  readonly event: AuditEvent;
  /** The event's leaf in the transparency log (null only for rows older than the log). */
  readonly leafIndex: number | null;
}

export function actorId(actor: Actor): string {
  return `${actor.type}:${actor.id}`;
}

/**
 * Appends an event inside the caller's write transaction. Takes a transaction handle, not the
 * database, so that a record can only be made together with the change it describes. The event
 * becomes a leaf of the transparency log in the same transaction (session.ts): its row carries
 * the leaf index, and the leaf is appended before COMMIT.
 */
export async function recordEvent(
  trx: MetaDb,
  actor: Actor,
  event: AuditEvent,
  at = new Date(),
): Promise<RecordedEvent> {
  const session = sessionFor(trx);
  const id = newId("evt");
  const { type, ...rest } = event;
  const subjectId = "subjectId" in event ? event.subjectId : null;
  const leafIndex = await session.nextIndex();
  const row = {
    id,
    at: at.toISOString(),
    type,
    actor: canonicalJson(actor),
    subject_id: subjectId,
    payload: canonicalJson(rest),
    leaf_index: leafIndex,
    actor_id: actorId(actor),
  };
  const inserted = await trx
    .insertInto("audit_events")
    .values(row)
    .returning("seq")
    .executeTakeFirstOrThrow();
  await session.push(row);
  return { seq: inserted.seq, id, at: row.at, actor, event, leafIndex };
}

export interface EventQuery {
  readonly subjectId?: string | undefined;
  readonly type?: string | undefined;
  readonly afterSeq?: number | undefined;
  readonly limit?: number | undefined;
  /** Events at or after this time (ISO 8601, compared as text: the stored form is UTC "…Z"). */
  readonly from?: string | undefined;
  /** Events before this time. */
  readonly to?: string | undefined;
  /** "<actor type>:<actor id>", e.g. "principal:prn_…" or "cli:uid:1000". */
  readonly actorId?: string | undefined;
  /** Only events whose leaf index is at least this. */
  readonly fromLeaf?: number | undefined;
}

export function toRecordedEvent(r: Selectable<AuditEventsTable>): RecordedEvent {
  return {
    seq: r.seq,
    id: r.id,
    at: r.at,
    actor: JSON.parse(r.actor) as Actor,
    event: { type: r.type, ...(JSON.parse(r.payload) as object) } as AuditEvent,
    leafIndex: r.leaf_index === null ? null : r.leaf_index,
  };
}

export async function listEvents(db: MetaDb, q: EventQuery = {}): Promise<RecordedEvent[]> {
  let query = db.selectFrom("audit_events").selectAll().orderBy("seq", "asc");
  if (q.subjectId !== undefined) query = query.where("subject_id", "=", q.subjectId);
  if (q.type !== undefined) query = query.where("type", "=", q.type);
  if (q.afterSeq !== undefined) query = query.where("seq", ">", q.afterSeq);
  if (q.from !== undefined) query = query.where("at", ">=", q.from);
  if (q.to !== undefined) query = query.where("at", "<", q.to);
  if (q.actorId !== undefined) query = query.where("actor_id", "=", q.actorId);
  if (q.fromLeaf !== undefined) query = query.where("leaf_index", ">=", q.fromLeaf);
  const rows = await query.limit(Math.min(q.limit ?? 1000, 100_000)).execute();
  return rows.map(toRecordedEvent);
}
