import type { Kysely } from "kysely";
import type { Database } from "./schema.js";

export type Dialect = "sqlite" | "postgres";

export type MetaDb = Kysely<Database>;

export type MetadataConfig =
  | { readonly driver: "sqlite"; readonly file: string }
  | { readonly driver: "postgres"; readonly url: string; readonly schema: string };

/** What each dialect module provides (same file set for every backend: connect, write-lock, errors). */
export interface DialectDriver {
  readonly dialect: Dialect;
  readonly db: MetaDb;
  /** The SQL schema holding the vault's tables (PostgreSQL), so tooling never looks elsewhere. */
  readonly schema?: string;
  /** Runs fn in a transaction that holds the vault's single-writer lock. */
  write<T>(fn: (trx: MetaDb) => Promise<T>): Promise<T>;
  /**
   * After an erasure: moves committed pages out of side files that keep old row versions (SQLite's
   * WAL, truncated to zero) so deleted rows do not linger there. A no-op where the server manages it.
   */
  flushErased?(): Promise<void>;
  /**
   * Runs one statement's worth of work on state whose last moments may be lost in a power
   * failure without harm (rate-limit buckets), committed without waiting for the disk. SQLite
   * lowers `synchronous` to NORMAL around it (in WAL mode a commit then does not fsync; the file
   * stays consistent); where a dialect has no such switch, fn runs as it is.
   */
  unsynced?<T>(fn: (db: MetaDb) => Promise<T>): Promise<T>;
  /** Maps a driver error to a VaultError where one applies (busy, corrupt, ...). */
  translateError(e: unknown): unknown;
  close(): Promise<void>;
}
