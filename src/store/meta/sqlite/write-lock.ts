import { sql } from "kysely";
import type { MetaDb } from "../types.js";
import { translateSqliteError } from "./errors.js";

/**
 * BEGIN IMMEDIATE takes SQLite's RESERVED lock up front, so two writers never deadlock on a
 * read-to-write upgrade; other processes wait up to busy_timeout, then get VAULT_BUSY.
 */
export async function sqliteWrite<T>(db: MetaDb, fn: (trx: MetaDb) => Promise<T>): Promise<T> {
  return db.connection().execute(async (conn) => {
    try {
      await sql`BEGIN IMMEDIATE`.execute(conn);
    } catch (e) {
      throw translateSqliteError(e);
    }
    try {
      const result = await fn(conn);
      await sql`COMMIT`.execute(conn);
      return result;
    } catch (e) {
      try {
        await sql`ROLLBACK`.execute(conn);
      } catch {
        // The transaction may already be gone (e.g. SQLITE_FULL rolled it back).
      }
      throw translateSqliteError(e);
    }
  });
}
