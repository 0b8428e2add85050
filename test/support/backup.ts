/**
 * Metadata backups as docs/operations.md prescribes (a SQLite file copy with the vault closed;
 * `pg_dump -Fc` of the vault's schema), taken and restored for tests of restore and forks.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { BACKENDS, type Sandbox } from "./backends.js";
import { hasCommand, need } from "./tools.js";

const PG_TOOLS = BACKENDS.some((b) => b.name === "postgres")
  ? need("pg_dump", hasCommand("pg_dump") && hasCommand("pg_restore"), "pg_dump/pg_restore not installed")
  : false;

/** The backends a backup can be taken of here (PostgreSQL needs pg_dump and pg_restore). */
export const BACKUP_BACKENDS = BACKENDS.filter((b) => b.name === "sqlite" || PG_TOOLS);

/** Takes a backup of the metadata (the vault must be closed for SQLite); returns how to put it back. */
export function takeBackup(sb: Sandbox): () => void {
  const dir = path.join(sb.root, `backup-${randomBytes(3).toString("hex")}`);
  if (sb.backend.name === "sqlite") {
    cpSync(sb.dataDir, dir, { recursive: true });
    return () => {
      for (const e of readdirSync(sb.dataDir))
        rmSync(path.join(sb.dataDir, e), { recursive: true, force: true });
      cpSync(dir, sb.dataDir, { recursive: true });
    };
  }
  const file = `${dir}.dump`;
  execFileSync("pg_dump", ["-Fc", "-n", sb.schema, "-f", file, sb.backend.pgUrl!]);
  return () => {
    execFileSync("psql", [sb.backend.pgUrl!, "-qc", `DROP SCHEMA ${sb.schema} CASCADE`]);
    execFileSync("pg_restore", ["-d", sb.backend.pgUrl!, file]);
  };
}
