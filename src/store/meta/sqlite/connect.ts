/** SQLite (better-sqlite3) metadata backend: the embedded default, one file inside the data dir. */
import BetterSqlite3 from "better-sqlite3";
import { Kysely, sql, SqliteDialect } from "kysely";
import type { Database } from "../schema.js";
import type { DialectDriver } from "../types.js";
import { translateSqliteError } from "./errors.js";
import { sqliteWrite } from "./write-lock.js";

export interface SqliteOptions {
  readonly file: string;
  readonly readonly?: boolean;
  /** How long a writer waits for another process's write lock before VAULT_BUSY. */
  readonly busyTimeoutMs?: number;
}

export function connectSqlite(options: SqliteOptions): DialectDriver {
  let native: BetterSqlite3.Database;
  try {
    native = new BetterSqlite3(options.file, { readonly: options.readonly ?? false, fileMustExist: false });
    native.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
    // WAL lets readers run beside the single writer; FULL sync makes every commit durable.
    if (!options.readonly) native.pragma("journal_mode = WAL");
    native.pragma("synchronous = FULL");
    native.pragma("foreign_keys = ON");
    // Deleted rows (e.g. destroyed wrapped keys) are overwritten with zeros in the file.
    native.pragma("secure_delete = ON");
    native.pragma("schema_version"); // forces a read: a damaged file fails here, not later
  } catch (e) {
    throw translateSqliteError(e);
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: native }) });
  return {
    dialect: "sqlite",
    db,
    write: (fn) => sqliteWrite(db, fn),
    // secure_delete zeroes freed pages in the database file; the WAL still holds the frames that
    // had the deleted rows until a checkpoint, which TRUNCATE then cuts off the file.
    flushErased: () => {
      try {
        native.pragma("wal_checkpoint(TRUNCATE)");
      } catch (e) {
        const t = translateSqliteError(e);
        if (!(t instanceof Error && "code" in t && t.code === "VAULT_BUSY")) throw t;
      }
      return Promise.resolve();
    },
    // One connection: nothing else runs on it meanwhile (Kysely holds it), so the switch
    // cannot leak into a vault write; it is switched back before the connection is released.
    unsynced: (fn) =>
      db.connection().execute(async (conn) => {
        await sql`PRAGMA synchronous = NORMAL`.execute(conn);
        try {
          return await fn(conn);
        } finally {
          await sql`PRAGMA synchronous = FULL`.execute(conn);
        }
      }),
    translateError: translateSqliteError,
    close: () => db.destroy(),
  };
}
