import { sql } from "kysely";
import { createHash } from "node:crypto";
import type { MetaDb } from "../types.js";
import { translatePostgresError } from "./errors.js";

/** One advisory lock key per vault schema, from a hash of its name. */
function lockKey(schema: string): bigint {
  return createHash("sha256").update(`voxvault-write-lock/${schema}`).digest().readBigInt64BE(0);
}

/**
 * Writers serialise on a transaction-scoped advisory lock, so key-tree changes (which must be
 * paired with root-key provider calls) never interleave between server instances.
 */
export async function postgresWrite<T>(
  db: MetaDb,
  schema: string,
  fn: (trx: MetaDb) => Promise<T>,
): Promise<T> {
  const key = lockKey(schema).toString();
  try {
    return await db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(${key}::bigint)`.execute(trx);
      return fn(trx);
    });
  } catch (e) {
    throw translatePostgresError(e);
  }
}
