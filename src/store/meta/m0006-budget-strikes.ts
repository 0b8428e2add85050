/**
 * Migration 0006: budget refusals per token, in the metadata store, so that a token is suspended
 * after N refusals within a budget window however many servers it spread its requests over
 * (src/access/budget-enforcement.ts). Rows older than the longest budget window are pruned as
 * new ones are written.
 */
import type { Kysely } from "kysely";
import type { Dialect } from "./types.js";

export async function m0006BudgetStrikes(db: Kysely<unknown>, d: Dialect): Promise<void> {
  await db.schema
    .createTable("budget_strikes")
    .addColumn("id", d === "postgres" ? "bigserial" : "integer", (c) =>
      d === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn("token_id", "text", (c) => c.notNull())
    .addColumn("at_ms", d === "postgres" ? "bigint" : "integer", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("budget_strikes_token")
    .on("budget_strikes")
    .columns(["token_id", "at_ms"])
    .execute();
}
