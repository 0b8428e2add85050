/**
 * Migration 0002: the transparency log over the audit events (docs/tlog.md §8).
 *
 * - audit_events gains `leaf_index` (the event's leaf in the Merkle tree, unique) and `actor_id`
 *   (for auditor search). Rows written before this migration have NULL in both until the log is
 *   initialised (src/audit/log-init.ts); the append-only trigger is replaced by one that allows
 *   exactly that one-time assignment and nothing else.
 * - tlog_tile holds the tree's stored hashes per C2SP tile (docs/tlog.md §2-3); tlog_state the
 *   authoritative size and root, updated in the same transaction as the tiles and the events.
 * - tlog_checkpoints keeps every signed checkpoint, tlog_cosignatures every witness cosignature,
 *   tlog_keys every log signing key ever used (public part), tlog_witnesses the configured
 *   witness verifier keys.
 */
import { sql, type Kysely } from "kysely";
import type { Dialect } from "./types.js";

export async function m0002TransparencyLog(db: Kysely<unknown>, d: Dialect): Promise<void> {
  const big = d === "postgres" ? "bigint" : "integer";
  const bytes = d === "postgres" ? "bytea" : "blob";
  const len = d === "postgres" ? "octet_length" : "length";

  await db.schema.alterTable("audit_events").addColumn("leaf_index", big).execute();
  await db.schema.alterTable("audit_events").addColumn("actor_id", "text").execute();
  await db.schema.createIndex("audit_leaf").unique().on("audit_events").column("leaf_index").execute();
  await db.schema.createIndex("audit_actor").on("audit_events").columns(["actor_id", "seq"]).execute();
  await db.schema.createIndex("audit_at").on("audit_events").columns(["at", "seq"]).execute();

  // Still append-only: the only permitted UPDATE gives a pre-log row its leaf index (and actor
  // id) once, leaving every other column as it was.
  const unchanged = `NEW.seq = OLD.seq AND NEW.id = OLD.id AND NEW.at = OLD.at AND NEW.type = OLD.type
    AND NEW.actor = OLD.actor AND NEW.payload = OLD.payload`;
  if (d === "sqlite") {
    await sql`DROP TRIGGER audit_events_no_update`.execute(db);
    await sql
      .raw(
        `CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
         WHEN NOT (OLD.leaf_index IS NULL AND NEW.leaf_index IS NOT NULL AND ${unchanged}
           AND NEW.subject_id IS OLD.subject_id AND (OLD.actor_id IS NULL OR NEW.actor_id IS OLD.actor_id))
         BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END`,
      )
      .execute(db);
  } else {
    await sql
      .raw(
        `CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF TG_OP = 'UPDATE' AND OLD.leaf_index IS NULL AND NEW.leaf_index IS NOT NULL AND ${unchanged}
              AND NEW.subject_id IS NOT DISTINCT FROM OLD.subject_id
              AND (OLD.actor_id IS NULL OR NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id) THEN
             RETURN NEW;
           END IF;
           RAISE EXCEPTION 'audit_events is append-only';
         END $$`,
      )
      .execute(db);
  }

  await db.schema
    .createTable("tlog_tile")
    .addColumn("log_id", "integer", (c) => c.notNull())
    .addColumn("level", "integer", (c) => c.notNull().check(sql`level >= 0 AND level <= 63`))
    .addColumn("idx", big, (c) => c.notNull().check(sql`idx >= 0`))
    .addColumn("hashes", bytes, (c) =>
      c.notNull().check(sql.raw(`${len}(hashes) BETWEEN 32 AND 16352 AND ${len}(hashes) % 32 = 0`)),
    )
    .addPrimaryKeyConstraint("tlog_tile_pk", ["log_id", "level", "idx"])
    .$call((t) => (d === "sqlite" ? t.modifyEnd(sql`WITHOUT ROWID`) : t))
    .execute();
  if (d === "postgres") {
    // Hashes do not compress: skip the attempt, and let substring() read only the chunks it needs.
    await sql`ALTER TABLE tlog_tile ALTER COLUMN hashes SET STORAGE EXTERNAL`.execute(db);
  }

  await db.schema
    .createTable("tlog_state")
    .addColumn("log_id", "integer", (c) => c.primaryKey())
    .addColumn("origin", "text", (c) => c.notNull())
    .addColumn("size", big, (c) => c.notNull().check(sql`size >= 0`))
    .addColumn("root_hash", bytes, (c) => c.notNull())
    .addColumn("checkpoint_size", big, (c) => c.notNull())
    .addColumn("checkpoint_root", bytes, (c) => c.notNull())
    .addColumn("checkpoint_at", "text")
    .execute();

  await db.schema
    .createTable("tlog_checkpoints")
    .addColumn("log_id", "integer", (c) => c.notNull())
    .addColumn("size", big, (c) => c.notNull())
    .addColumn("root_hash", bytes, (c) => c.notNull())
    .addColumn("signed_at", "text", (c) => c.notNull())
    .addColumn("note", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("tlog_checkpoints_pk", ["log_id", "size"])
    .execute();

  await db.schema
    .createTable("tlog_cosignatures")
    .addColumn("log_id", "integer", (c) => c.notNull())
    .addColumn("size", big, (c) => c.notNull())
    .addColumn("witness", "text", (c) => c.notNull())
    .addColumn("timestamp", big, (c) => c.notNull())
    .addColumn("line", "text", (c) => c.notNull())
    .addColumn("received_at", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("tlog_cosignatures_pk", ["log_id", "size", "witness"])
    .execute();

  await db.schema
    .createTable("tlog_keys")
    .addColumn("key", "text", (c) => c.primaryKey()) // "<name>+<8 hex key id>"
    .addColumn("vkey", "text", (c) => c.notNull())
    .addColumn("secret", "text", (c) => c.notNull()) // vault secret holding the seed while active
    .addColumn("status", "text", (c) => c.notNull().check(sql`status IN ('active', 'retired')`))
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("retired_at", "text")
    .execute();

  await db.schema
    .createTable("tlog_witnesses")
    .addColumn("key", "text", (c) => c.primaryKey())
    .addColumn("vkey", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull().check(sql`status IN ('active', 'removed')`))
    .addColumn("added_at", "text", (c) => c.notNull())
    .addColumn("removed_at", "text")
    .execute();

  // Signed checkpoints and cosignatures are evidence: never rewritten (defence in depth; the
  // anchor files and witnesses are what catch an attacker who can bypass triggers).
  for (const table of ["tlog_checkpoints", "tlog_cosignatures"]) {
    if (d === "sqlite") {
      for (const op of ["UPDATE", "DELETE"]) {
        await sql
          .raw(
            `CREATE TRIGGER ${table}_no_${op.toLowerCase()} BEFORE ${op} ON ${table}
             BEGIN SELECT RAISE(ABORT, '${table} is append-only'); END`,
          )
          .execute(db);
      }
    } else {
      await sql
        .raw(
          `CREATE FUNCTION ${table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION '${table} is append-only'; END $$`,
        )
        .execute(db);
      await sql
        .raw(
          `CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON ${table}
           FOR EACH ROW EXECUTE FUNCTION ${table}_append_only()`,
        )
        .execute(db);
    }
  }
}
