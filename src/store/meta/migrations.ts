/**
 * Schema migrations, written once for both dialects. Kysely's Migrator records applied ones in
 * `kysely_migration`; `vault_meta.schema_version` lets an older build refuse a newer vault.
 */
import { sql, type Kysely, type Migration, type MigrationProvider } from "kysely";
import { m0002TransparencyLog } from "./m0002-transparency-log.js";
import { m0003Recordings } from "./m0003-recordings.js";
import { m0004Access } from "./m0004-access.js";
import { m0005RootGenerations } from "./m0005-root-generations.js";
import { m0006BudgetStrikes } from "./m0006-budget-strikes.js";
import { m0007IngestQueue } from "./m0007-ingest-queue.js";
import { m0008Imports } from "./m0008-imports.js";
import { m0009RateLimits } from "./m0009-rate-limits.js";
import { m0010SubjectRoles } from "./m0010-subject-roles.js";
import { m0011ConsentTexts } from "./m0011-consent-texts.js";
import { m0012DeletionReceipts } from "./m0012-deletion-receipts.js";
import { m0013Passkeys } from "./m0013-passkeys.js";
import type { Dialect } from "./types.js";

type Up = (db: Kysely<unknown>, dialect: Dialect) => Promise<void>;

const blob = (d: Dialect) => (d === "postgres" ? "bytea" : "blob");
const bigint = (d: Dialect) => (d === "postgres" ? "bigint" : "integer");

const m0001: Up = async (db, d) => {
  await db.schema
    .createTable("vault_meta")
    .addColumn("key", "text", (c) => c.primaryKey())
    .addColumn("value", "text", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("key_nodes")
    .addColumn("level", "integer", (c) => c.notNull())
    .addColumn("prefix", bigint(d), (c) => c.notNull())
    .addColumn("generation", "integer", (c) => c.notNull())
    .addColumn("parent_generation", "integer", (c) => c.notNull())
    .addColumn("wrapped_key", blob(d), (c) => c.notNull())
    .addPrimaryKeyConstraint("key_nodes_pk", ["level", "prefix"])
    .execute();

  await db.schema
    .createTable("vault_secrets")
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("parent_generation", "integer", (c) => c.notNull())
    .addColumn("wrapped_key", blob(d), (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("vault_secrets_pk", ["name", "version"])
    .execute();

  await db.schema
    .createTable("subjects")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("tenant", "text", (c) => c.notNull())
    .addColumn("slot", bigint(d), (c) => c.notNull().unique())
    .addColumn("ref_hash", blob(d))
    .addColumn("ref_enc", blob(d))
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("shred_after", "text")
    .addColumn("shredded_at", "text")
    .addColumn("blob_count", bigint(d), (c) => c.notNull().defaultTo(0))
    .addColumn("blob_bytes", bigint(d), (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createIndex("subjects_ref")
    .unique()
    .on("subjects")
    .columns(["tenant", "ref_hash"])
    .execute();
  await db.schema.createIndex("subjects_status").on("subjects").columns(["status", "shred_after"]).execute();

  await db.schema
    .createTable("subject_keys")
    .addColumn("subject_id", "text", (c) => c.notNull().references("subjects.id"))
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("parent_generation", "integer", (c) => c.notNull())
    .addColumn("wrapped_key", blob(d), (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("subject_keys_pk", ["subject_id", "version"])
    .execute();

  await db.schema
    .createTable("blobs")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("subject_id", "text", (c) => c.notNull().references("subjects.id"))
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("size", bigint(d), (c) => c.notNull())
    .addColumn("plaintext_size", bigint(d), (c) => c.notNull())
    .addColumn("segment_log2", "integer", (c) => c.notNull())
    .addColumn("key_version", "integer", (c) => c.notNull())
    .addColumn("wrapped_dek", blob(d), (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("blobs_subject").on("blobs").columns(["subject_id", "created_at"]).execute();

  await db.schema
    .createTable("deletion_certificates")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("subject_id", "text", (c) => c.notNull())
    .addColumn("issued_at", "text", (c) => c.notNull())
    .addColumn("body", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("certificates_subject")
    .on("deletion_certificates")
    .column("subject_id")
    .execute();

  await db.schema
    .createTable("audit_events")
    .addColumn("seq", d === "postgres" ? "bigserial" : "integer", (c) =>
      d === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn("id", "text", (c) => c.notNull().unique())
    .addColumn("at", "text", (c) => c.notNull())
    .addColumn("type", "text", (c) => c.notNull())
    .addColumn("actor", "text", (c) => c.notNull())
    .addColumn("subject_id", "text")
    .addColumn("payload", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("audit_subject").on("audit_events").columns(["subject_id", "seq"]).execute();
  await db.schema.createIndex("audit_type_at").on("audit_events").columns(["type", "at"]).execute();

  // Append-only at the database too (defence in depth; the transparency log gives tamper evidence).
  if (d === "sqlite") {
    await sql`CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
      BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END`.execute(db);
    await sql`CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
      BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END`.execute(db);
  } else {
    await sql`CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$`.execute(db);
    await sql`CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
      FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()`.execute(db);
  }
};

const ups: readonly (readonly [string, Up])[] = [
  ["0001_initial", m0001],
  ["0002_transparency_log", m0002TransparencyLog],
  ["0003_recordings", m0003Recordings],
  ["0004_access", m0004Access],
  ["0005_root_generations", m0005RootGenerations],
  ["0006_budget_strikes", m0006BudgetStrikes],
  ["0007_ingest_queue", m0007IngestQueue],
  ["0008_imports", m0008Imports],
  ["0009_rate_limits", m0009RateLimits],
  ["0010_subject_roles", m0010SubjectRoles],
  ["0011_consent_texts", m0011ConsentTexts],
  ["0012_deletion_receipts", m0012DeletionReceipts],
  ["0013_passkeys", m0013Passkeys],
];

/** The schema version this build writes and understands: one step per migration. */
export const SCHEMA_VERSION = ups.length;

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return {
    getMigrations() {
      const out: Record<string, Migration> = {};
      for (const [name, up] of ups) out[name] = { up: (db) => up(db, dialect) };
      return Promise.resolve(out);
    },
  };
}
