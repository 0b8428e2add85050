/**
 * Migration 0009: HTTP rate-limit state in the metadata store, so that a token's (or a client
 * address's) limit holds across every server of a vault rather than once per process
 * (src/access/rate-limits.ts). One row per bucket: its key's keyed hash and the bucket's
 * theoretical arrival time (GCRA). Rows whose time has passed mean a full bucket and are pruned.
 */
import type { Kysely } from "kysely";
import type { Dialect } from "./types.js";

export async function m0009RateLimits(db: Kysely<unknown>, d: Dialect): Promise<void> {
  await db.schema
    .createTable("rate_limits")
    .addColumn("key_mac", d === "postgres" ? "bytea" : "blob", (c) => c.primaryKey())
    .addColumn("tat_us", d === "postgres" ? "bigint" : "integer", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("rate_limits_tat").on("rate_limits").column("tat_us").execute();
}
