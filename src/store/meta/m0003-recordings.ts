/** Migration 0003: recordings and their derivations (abstraction pipeline), retention epochs on blobs. */
import type { Kysely } from "kysely";
import type { Dialect } from "./types.js";

export async function m0003Recordings(db: Kysely<unknown>, d: Dialect): Promise<void> {
  const bigint = d === "postgres" ? "bigint" : "integer";
  await db.schema.alterTable("blobs").addColumn("retention_epoch", "text").execute();
  await db.schema.createIndex("blobs_retention").on("blobs").column("retention_epoch").execute();

  await db.schema
    .createTable("recordings")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("subject_id", "text", (c) => c.notNull().references("subjects.id"))
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("source", "text", (c) => c.notNull()) // JSON: container, codec, rate, channels, duration, bytes
    .addColumn("duration_ms", bigint, (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("recordings_subject")
    .on("recordings")
    .columns(["subject_id", "created_at"])
    .execute();

  await db.schema
    .createTable("derivations")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("recording_id", "text", (c) => c.notNull().references("recordings.id"))
    .addColumn("subject_id", "text", (c) => c.notNull().references("subjects.id"))
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("recipe", "text", (c) => c.notNull()) // JSON: name, version, params
    .addColumn("class", "text", (c) => c.notNull()) // non-reconstructable | reconstructable
    .addColumn("application", "text") // speaker templates: the application whose key protects it
    .addColumn("blob_id", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("expires_at", "text")
    .execute();
  await db.schema.createIndex("derivations_recording").on("derivations").column("recording_id").execute();
  await db.schema
    .createIndex("derivations_subject")
    .on("derivations")
    .columns(["subject_id", "name"])
    .execute();
}
