/**
 * Migration 0004: access control for the HTTP API — principals and their tokens (stored as
 * hashes), consumer applications, purpose-bound consent, egress accounting for budgets,
 * M-of-N break-glass requests, and resumable upload sessions.
 */
import type { Kysely } from "kysely";
import type { Dialect } from "./types.js";

export async function m0004Access(db: Kysely<unknown>, d: Dialect): Promise<void> {
  const bigint = d === "postgres" ? "bigint" : "integer";
  const blob = d === "postgres" ? "bytea" : "blob";

  await db.schema
    .createTable("applications")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("tenant", "text", (c) => c.notNull())
    .addColumn("purposes", "text", (c) => c.notNull()) // JSON array
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("principals")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("role", "text", (c) => c.notNull())
    .addColumn("label", "text", (c) => c.notNull())
    .addColumn("subject_id", "text", (c) => c.references("subjects.id"))
    .addColumn("application", "text", (c) => c.references("applications.name"))
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("principals_label")
    .unique()
    .on("principals")
    .columns(["role", "label"])
    .execute();

  await db.schema
    .createTable("tokens")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("principal_id", "text", (c) => c.notNull().references("principals.id"))
    .addColumn("secret_hash", blob, (c) => c.notNull())
    .addColumn("role", "text", (c) => c.notNull())
    .addColumn("purposes", "text", (c) => c.notNull()) // JSON array
    .addColumn("subject_id", "text")
    .addColumn("kind", "text", (c) => c.notNull()) // api | enrolment | session
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("expires_at", "text", (c) => c.notNull())
    .addColumn("revoked_at", "text")
    .addColumn("last_used_at", "text")
    .addColumn("use_count", bigint, (c) => c.notNull().defaultTo(0))
    .addColumn("max_uses", bigint)
    .execute();
  await db.schema.createIndex("tokens_principal").on("tokens").column("principal_id").execute();

  await db.schema
    .createTable("consents")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("subject_id", "text", (c) => c.notNull().references("subjects.id"))
    .addColumn("purpose", "text", (c) => c.notNull())
    .addColumn("text_hash", "text", (c) => c.notNull())
    .addColumn("granted_at", "text", (c) => c.notNull())
    .addColumn("revoked_at", "text")
    .execute();
  await db.schema.createIndex("consents_subject").on("consents").columns(["subject_id", "purpose"]).execute();

  await db.schema
    .createTable("egress_usage")
    .addColumn("id", d === "postgres" ? "bigserial" : "integer", (c) =>
      d === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn("principal_id", "text", (c) => c.notNull())
    .addColumn("purpose", "text", (c) => c.notNull())
    .addColumn("at_ms", bigint, (c) => c.notNull())
    .addColumn("bytes", bigint, (c) => c.notNull())
    .addColumn("items", bigint, (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("egress_window")
    .on("egress_usage")
    .columns(["principal_id", "purpose", "at_ms"])
    .execute();

  await db.schema
    .createTable("breakglass_requests")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("requester_id", "text", (c) => c.notNull().references("principals.id"))
    .addColumn("subject_id", "text", (c) => c.notNull().references("subjects.id"))
    .addColumn("material", "text", (c) => c.notNull()) // raw | frames
    .addColumn("reason", "text", (c) => c.notNull())
    .addColumn("required_approvals", "integer", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull()) // pending | granted | used | expired | denied
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("granted_until", "text")
    .addColumn("used_at", "text")
    .execute();
  await db.schema
    .createTable("breakglass_approvals")
    .addColumn("request_id", "text", (c) => c.notNull().references("breakglass_requests.id"))
    .addColumn("approver_id", "text", (c) => c.notNull().references("principals.id"))
    .addColumn("decision", "text", (c) => c.notNull()) // approve | deny
    .addColumn("at", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("breakglass_approvals_pk", ["request_id", "approver_id"])
    .execute();

  await db.schema
    .createTable("uploads")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("subject_id", "text", (c) => c.notNull().references("subjects.id"))
    .addColumn("principal_id", "text", (c) => c.notNull())
    .addColumn("length", bigint, (c) => c.notNull())
    .addColumn("received", bigint, (c) => c.notNull())
    .addColumn("parts", "text", (c) => c.notNull()) // JSON array of blob ids (encrypted parts)
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("expires_at", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull()) // open | complete | aborted
    .addColumn("recording_id", "text")
    .execute();
}
