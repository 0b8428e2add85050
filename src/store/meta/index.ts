/** The metadata store: connect to a dialect, migrate, and expose the single-writer transaction. */
import { Migrator, sql } from "kysely";
import { VaultError } from "../../errors.js";
import { migrationProvider, SCHEMA_VERSION } from "./migrations.js";
import { connectPostgres } from "./postgres/connect.js";
import { connectSqlite } from "./sqlite/connect.js";
import type { DialectDriver, MetadataConfig } from "./types.js";

export type { Database } from "./schema.js";
export type { Dialect, DialectDriver, MetaDb, MetadataConfig } from "./types.js";
export { SCHEMA_VERSION } from "./migrations.js";

export function connectMetadata(config: MetadataConfig): DialectDriver {
  return config.driver === "sqlite"
    ? connectSqlite({ file: config.file })
    : connectPostgres({ url: config.url, schema: config.schema });
}

/** Creates the schema (and for PostgreSQL the vault's own SQL schema) on a fresh store. */
export async function createSchema(driver: DialectDriver, config: MetadataConfig): Promise<void> {
  try {
    if (config.driver === "postgres") {
      const existing = await sql<{ n: number }>`SELECT count(*)::int AS n FROM information_schema.schemata
        WHERE schema_name = ${config.schema}`.execute(driver.db);
      if ((existing.rows[0]?.n ?? 0) > 0) {
        throw new VaultError("VAULT_EXISTS", `PostgreSQL schema ${config.schema} already exists`);
      }
      await sql`CREATE SCHEMA ${sql.id(config.schema)}`.execute(driver.db);
    }
    await migrate(driver);
  } catch (e) {
    throw driver.translateError(e);
  }
}

/** Applies pending migrations after checking the store is not from a newer build. */
export async function migrate(driver: DialectDriver): Promise<void> {
  const version = await readSchemaVersion(driver);
  if (version !== undefined && version > SCHEMA_VERSION) {
    throw new VaultError(
      "VAULT_NEWER_VERSION",
      `metadata schema version ${version} is newer than this build understands (${SCHEMA_VERSION}); upgrade voxvault`,
    );
  }
  // Up to date (the version is recorded after the last migration committed): no migrator run and
  // no write on every open, which CLI commands would otherwise pay each time (docs/benchmarks.md).
  if (version === SCHEMA_VERSION) return;
  const migrator = new Migrator({
    db: driver.db,
    provider: migrationProvider(driver.dialect),
    ...(driver.schema ? { migrationTableSchema: driver.schema } : {}),
  });
  // Kysely's migration lock is a no-op on SQLite: two processes opening an older vault at once can
  // race, and the loser's transaction fails (duplicate column, busy). Migrations run in one
  // transaction there, so the loser retries and finds them applied.
  for (let attempt = 0; ; attempt++) {
    const { error } = await migrator.migrateToLatest();
    if (!error) break;
    if (driver.dialect !== "sqlite" || attempt >= 10) throw driver.translateError(error);
    await new Promise((r) => setTimeout(r, 50 + Math.random() * 150));
  }
  await driver.write(async (trx) => {
    await trx
      .insertInto("vault_meta")
      .values({ key: "schema_version", value: String(SCHEMA_VERSION) })
      .onConflict((oc) => oc.column("key").doUpdateSet({ value: String(SCHEMA_VERSION) }))
      .execute();
  });
}

export async function readSchemaVersion(driver: DialectDriver): Promise<number | undefined> {
  try {
    const row = await driver.db
      .selectFrom("vault_meta")
      .select("value")
      .where("key", "=", "schema_version")
      .executeTakeFirst();
    return row ? Number(row.value) : undefined;
  } catch (e) {
    const t = driver.translateError(e);
    if (t instanceof VaultError && t.code !== "VAULT_NOT_FOUND") throw t;
    return undefined; // no table yet: a fresh store
  }
}
