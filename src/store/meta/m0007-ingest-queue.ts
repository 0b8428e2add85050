/**
 * Migration 0007: the ingest queue. A completed upload is a job: its row carries the queue state
 * (attempts, next run, the lease of the worker holding it, the error of the last attempt), so the
 * enqueue commits in the same transaction as the upload's last chunk and a shred that erases the
 * upload erases its job. A recording names the upload it came from (unique), which makes a job
 * retried after a crash find its recording instead of storing a second one.
 */
import type { Kysely } from "kysely";
import type { Dialect } from "./types.js";

export async function m0007IngestQueue(db: Kysely<unknown>, d: Dialect): Promise<void> {
  const bigint = d === "postgres" ? "bigint" : "integer";
  const add = async (column: string, type: "text" | "integer" | "bigint", notNullDefault?: number) => {
    await db.schema
      .alterTable("uploads")
      .addColumn(column, type === "bigint" ? bigint : type, (c) =>
        notNullDefault === undefined ? c : c.notNull().defaultTo(notNullDefault),
      )
      .execute();
  };
  await add("attempts", "integer", 0);
  await add("run_after_ms", "bigint");
  await add("lease_until_ms", "bigint");
  await add("lease_owner", "text");
  await add("error_code", "text");
  await add("error_message", "text");
  await add("metadata", "text");
  await add("updated_at", "text");
  await db.schema.createIndex("uploads_queue").on("uploads").columns(["status", "run_after_ms"]).execute();
  await db.schema
    .createIndex("uploads_subject")
    .on("uploads")
    .columns(["subject_id", "created_at"])
    .execute();

  await db.schema.alterTable("recordings").addColumn("upload_id", "text").execute();
  await db.schema.alterTable("recordings").addColumn("metadata", "text").execute();
  await db.schema.alterTable("recordings").addColumn("speech_ms", bigint).execute();
  await db.schema.createIndex("recordings_upload").on("recordings").column("upload_id").unique().execute();
}
