/**
 * Migration 0008: archive imports (`voxvault import`). A run and one row per source object, keyed
 * by a keyed hash of the object's key (keys of old archives often hold names: they are not stored),
 * so a run resumes after a crash and an object whose content was imported before (same keyed
 * content hash) is skipped. A shred erases its subject's rows.
 */
import type { Kysely } from "kysely";
import type { Dialect } from "./types.js";

export async function m0008Imports(db: Kysely<unknown>, d: Dialect): Promise<void> {
  const bigint = d === "postgres" ? "bigint" : "integer";
  await db.schema
    .createTable("import_runs")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("fingerprint", "text", (c) => c.notNull()) // source + mapping: a rerun resumes
    .addColumn("source", "text", (c) => c.notNull()) // JSON: kind, bucket/prefix or directory
    .addColumn("status", "text", (c) => c.notNull()) // running | complete
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("finished_at", "text")
    .addColumn("report", "text") // JSON, when complete
    .execute();
  await db.schema
    .createIndex("import_runs_fingerprint")
    .on("import_runs")
    .columns(["fingerprint", "status"])
    .execute();
  await db.schema
    .createTable("import_items")
    .addColumn("run_id", "text", (c) => c.notNull().references("import_runs.id"))
    .addColumn("key_mac", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull()) // staging | staged | imported | skipped | failed
    .addColumn("subject_id", "text")
    .addColumn("upload_id", "text")
    .addColumn("recording_id", "text")
    .addColumn("content_mac", "text")
    .addColumn("bytes", bigint, (c) => c.notNull().defaultTo(0))
    .addColumn("duration_ms", bigint)
    .addColumn("error_code", "text")
    .addColumn("error_message", "text")
    .addColumn("source_deleted", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("updated_at", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("import_items_pk", ["run_id", "key_mac"])
    .execute();
  await db.schema.createIndex("import_items_content").on("import_items").column("content_mac").execute();
  await db.schema.createIndex("import_items_subject").on("import_items").column("subject_id").execute();
}
