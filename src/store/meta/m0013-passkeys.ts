/**
 * Migration 0013: contractors' passkeys (WebAuthn credentials: id, COSE public key, signature
 * counter) and the single-use challenges of WebAuthn ceremonies (their hash, kind, subject and
 * expiry). A public key identifies nothing outside the vault; erasure deletes a subject's rows.
 */
import type { Kysely } from "kysely";
import type { Dialect } from "./types.js";

export async function m0013Passkeys(db: Kysely<unknown>, d: Dialect): Promise<void> {
  const blob = d === "postgres" ? "bytea" : "blob";
  await db.schema
    .createTable("passkeys")
    .addColumn("credential_id", "text", (c) => c.primaryKey())
    .addColumn("subject_id", "text", (c) => c.notNull())
    .addColumn("public_key", blob, (c) => c.notNull())
    .addColumn("alg", "integer", (c) => c.notNull())
    .addColumn("sign_count", d === "postgres" ? "bigint" : "integer", (c) => c.notNull())
    .addColumn("backup_eligible", "integer", (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("last_used_at", "text")
    .execute();
  await db.schema.createIndex("passkeys_subject").on("passkeys").column("subject_id").execute();
  await db.schema
    .createTable("webauthn_challenges")
    .addColumn("challenge_hash", blob, (c) => c.primaryKey())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("subject_id", "text")
    .addColumn("expires_at", "text", (c) => c.notNull())
    .execute();
}
