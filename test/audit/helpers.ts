/** Shared helpers for the transparency-log tests: an attacker's raw SQL, and the CLI environment. */
import { copyFileSync, existsSync, rmSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import type { Sandbox } from "../support/backends.js";

/**
 * Runs statements directly against the metadata store with the append-only triggers out of the
 * way, as an attacker with database access would (SQLite: dropped; PostgreSQL: replica mode).
 */
export async function attackerSql(sb: Sandbox, statements: readonly string[]): Promise<void> {
  if (sb.backend.name === "sqlite") {
    const { default: Db } = await import("better-sqlite3");
    const db = new Db(path.join(sb.dataDir, "meta.sqlite"));
    try {
      const triggers = db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").all() as {
        name: string;
      }[];
      for (const t of triggers) db.exec(`DROP TRIGGER ${t.name}`);
      for (const s of statements) db.exec(s);
    } finally {
      db.close();
    }
    return;
  }
  const c = new pg.Client({ connectionString: sb.backend.pgUrl });
  await c.connect();
  try {
    await c.query(`SET search_path = ${sb.schema}`);
    await c.query("SET session_replication_role = replica");
    for (const s of statements) await c.query(s);
  } finally {
    await c.end();
  }
}

/** Runs a query and returns its rows. */
export async function querySql<T>(sb: Sandbox, q: string): Promise<T[]> {
  if (sb.backend.name === "sqlite") {
    const { default: Db } = await import("better-sqlite3");
    const db = new Db(path.join(sb.dataDir, "meta.sqlite"), { readonly: true });
    try {
      return db.prepare(q).all() as T[];
    } finally {
      db.close();
    }
  }
  const c = new pg.Client({ connectionString: sb.backend.pgUrl });
  await c.connect();
  try {
    await c.query(`SET search_path = ${sb.schema}`);
    return (await c.query(q)).rows as T[];
  } finally {
    await c.end();
  }
}

export function cliEnv(sb: Sandbox): NodeJS.ProcessEnv {
  return {
    ...sb.env,
    VOXVAULT_DATA_DIR: sb.dataDir,
    ...(sb.backend.pgUrl ? { VOXVAULT_PG_URL: sb.backend.pgUrl } : {}),
  };
}

/** A copy of the metadata store that can be put back (SQLite file; PostgreSQL schema copy). */
export async function snapshotDb(sb: Sandbox): Promise<{ restore(): Promise<void> }> {
  if (sb.backend.name === "sqlite") {
    const file = path.join(sb.dataDir, "meta.sqlite");
    copyFileSync(file, `${file}.bak`);
    return {
      restore: () => {
        for (const ext of ["-wal", "-shm"]) if (existsSync(file + ext)) rmSync(file + ext);
        copyFileSync(`${file}.bak`, file);
        return Promise.resolve();
      },
    };
  }
  const tables = [
    "audit_events",
    "tlog_tile",
    "tlog_state",
    "tlog_checkpoints",
    "tlog_keys",
    "tlog_cosignatures",
    "tlog_witnesses",
    "subjects",
    "subject_keys",
    "blobs",
    "vault_secrets",
    "key_nodes",
    "vault_meta",
  ];
  await attackerSql(
    sb,
    tables.map((t) => `CREATE TABLE bak_${t} AS SELECT * FROM ${t}`),
  );
  return {
    restore: () =>
      attackerSql(sb, [
        ...tables.map((t) => `DELETE FROM ${t}`),
        ...tables.map((t) => `INSERT INTO ${t} SELECT * FROM bak_${t}`),
      ]),
  };
}

/** The error code a synchronous call throws ("no error" if it returns). */
export function codeOfSync(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code ?? `non-vault error: ${String(e)}`;
  }
  return "no error";
}
