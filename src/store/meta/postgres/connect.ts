/** PostgreSQL metadata backend (`pg`); each vault lives in its own schema. */
import { createRequire } from "node:module";
import { Kysely, PostgresDialect } from "kysely";
import type pgTypes from "pg";
import { VaultError } from "../../../errors.js";
import type { Database } from "../schema.js";
import type { DialectDriver } from "../types.js";
import { translatePostgresError } from "./errors.js";
import { resilientPool } from "./pool.js";
import { postgresWrite } from "./write-lock.js";

export interface PostgresOptions {
  readonly url: string;
  readonly schema: string;
  readonly maxConnections?: number;
}

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;
const INT8_OID = 20;

/** bigint columns hold sizes and counts far below 2^53; parse them as numbers, refuse beyond. */
function parseInt8(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new VaultError("VAULT_CORRUPT", "integer beyond 2^53 in metadata");
  return n;
}

/**
 * `pg` is loaded when a PostgreSQL vault is opened, not when this module is: it costs ~70 ms at
 * start-up, which SQLite vaults and CLI commands without a vault should not pay (docs/benchmarks.md).
 */
const loadPg = (): typeof pgTypes => createRequire(import.meta.url)("pg") as typeof pgTypes;

/** pg's default parsers, except int8 (oid 20) which becomes a checked number. */
function typeParserOf(pg: typeof pgTypes): typeof pgTypes.types.getTypeParser {
  return ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID
      ? parseInt8
      : (pg.types.getTypeParser as (o: number, f?: string) => unknown)(
          oid,
          format,
        )) as typeof pgTypes.types.getTypeParser;
}

export function connectPostgres(options: PostgresOptions): DialectDriver {
  if (!SCHEMA_RE.test(options.schema)) {
    throw new VaultError("CONFIG_INVALID", "postgres schema must match [a-z_][a-z0-9_]{0,62}");
  }
  const pg = loadPg();
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    options: `-c search_path=${options.schema}`,
    types: { getTypeParser: typeParserOf(pg) },
    // While PostgreSQL is unreachable, fail a request within seconds (503) rather than queue it.
    connectionTimeoutMillis: 5_000,
    // Notice a peer that vanished without closing (failover to another host) on idle clients.
    keepAlive: true,
  });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: resilientPool(pool) }) });
  return {
    dialect: "postgres",
    db,
    schema: options.schema,
    write: (fn) => postgresWrite(db, options.schema, fn),
    translateError: translatePostgresError,
    close: () => db.destroy(),
  };
}
