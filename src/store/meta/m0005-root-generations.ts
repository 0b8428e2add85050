/**
 * Migration 0005: the erasable root becomes a puncturable PRF with generations
 * (docs/architecture.md §Keys).
 *
 * - subject_keys / vault_secrets name the root generation (and, for secrets, the point) that
 *   wraps them; NULL marks a row still under a format-1 key tree until src/vault/key-upgrade.ts
 *   moves it (key_nodes then stays empty).
 * - root_generations: the vault's view of the provider's generations (one active).
 * - key_punctures: the puncture log every host applies to its own provider.
 * - key_hosts / key_distributions: hosts of the vault and generations sealed to them.
 * - subjects.ref_bucket: the reference-lookup bucket (src/vault/refs.ts).
 */
import type { Kysely } from "kysely";
import type { Dialect } from "./types.js";

export async function m0005RootGenerations(db: Kysely<unknown>, d: Dialect): Promise<void> {
  const bigint = d === "postgres" ? "bigint" : "integer";
  const blob = d === "postgres" ? "bytea" : "blob";

  await db.schema.alterTable("subject_keys").addColumn("root_generation", "integer").execute();
  await db.schema.alterTable("vault_secrets").addColumn("root_generation", "integer").execute();
  await db.schema.alterTable("vault_secrets").addColumn("point", bigint).execute();
  await db.schema.alterTable("subjects").addColumn("ref_bucket", "integer").execute();
  await db.schema
    .createIndex("subject_keys_generation")
    .on("subject_keys")
    .columns(["root_generation", "subject_id"])
    .execute();
  await db.schema.createIndex("subjects_ref_bucket").on("subjects").columns(["ref_bucket"]).execute();

  await db.schema
    .createTable("root_generations")
    .addColumn("generation", "integer", (c) => c.primaryKey())
    .addColumn("status", "text", (c) => c.notNull()) // active | retiring | retired | destroyed
    .addColumn("check_value", blob) // the generation's public fingerprint (provider.checkValue)
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("retired_at", "text")
    .addColumn("destroyed_at", "text")
    .execute();

  await db.schema
    .createTable("key_punctures")
    .addColumn("seq", d === "postgres" ? "bigserial" : "integer", (c) =>
      d === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn("point", bigint, (c) => c.notNull())
    .addColumn("reason", "text", (c) => c.notNull())
    .addColumn("chain", blob, (c) => c.notNull()) // hash chain over the log (src/vault/puncture-log.ts)
    .addColumn("at", "text", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("key_hosts")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("public_key", blob, (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull()) // pending | approved | revoked
    .addColumn("created_at", "text", (c) => c.notNull())
    .addColumn("approved_at", "text")
    .addColumn("revoked_at", "text")
    .addColumn("applied_seq", bigint, (c) => c.notNull().defaultTo(0))
    .addColumn("generations", "text", (c) => c.notNull().defaultTo("[]"))
    .addColumn("last_seen", "text")
    .execute();

  await db.schema
    .createTable("key_distributions")
    .addColumn("host_id", "text", (c) => c.notNull().references("key_hosts.id"))
    .addColumn("generation", "integer", (c) => c.notNull())
    .addColumn("sealed", blob, (c) => c.notNull())
    .addColumn("through_seq", bigint, (c) => c.notNull())
    .addColumn("created_at", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("key_distributions_pk", ["host_id", "generation"])
    .execute();
}
