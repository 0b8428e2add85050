/**
 * Migration 0012: deletion receipts. A contractor who asks for erasure gets a one-off secret (shown
 * once) with which to fetch the signed deletion certificate later — after the shred, when their
 * session no longer exists. Only the secret's hash is kept, with the (opaque) subject id; rows
 * outlive the shred, as the certificate does, and say nothing about the person.
 */
import type { Kysely } from "kysely";
import type { Dialect } from "./types.js";

export async function m0012DeletionReceipts(db: Kysely<unknown>, d: Dialect): Promise<void> {
  await db.schema
    .createTable("deletion_receipts")
    .addColumn("secret_hash", d === "postgres" ? "bytea" : "blob", (c) => c.primaryKey())
    .addColumn("subject_id", "text", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .execute();
}
