/**
 * `voxvault doctor`: runs every posture check against an open vault and its host, and returns
 * the findings (src/doctor/finding.ts) for a table, JSON or SARIF (src/doctor/report.ts).
 */
import type { Vault } from "../platform/vault.js";
import { checkAccess, checkData, checkKeys, checkLog, type LocalContext } from "./checks-local.js";
import { checkPostgresRole, checkPostgresUrl, checkTls } from "./checks-transport.js";
import type { Finding } from "./finding.js";

/** The blob store's surroundings (a bucket's policy, ACL, public-access block …). */
async function checkStorage(vault: Vault): Promise<Finding[]> {
  return (await vault.health.storagePosture()).map((p) => ({ ...p, area: "storage" as const }));
}

export { exitStatusFor, SEVERITIES, type Finding, type Severity } from "./finding.js";
export { sarif, table } from "./report.js";

export interface DoctorOptions {
  readonly rootFile: string;
  /** The PostgreSQL URL the vault was opened with (checked, never printed). */
  readonly postgresUrl?: string | undefined;
  readonly now?: Date | undefined;
  /** Longest acceptable retention of raw audio or frames; default 30 days. */
  readonly maxRetentionMs?: number | undefined;
  /** Files scanned for plaintext audio at most; default 100,000. */
  readonly maxFilesScanned?: number | undefined;
}

export async function runDoctor(vault: Vault, o: DoctorOptions): Promise<Finding[]> {
  const now = o.now ?? new Date();
  const ctx: LocalContext = {
    vault,
    rootFile: o.rootFile,
    now,
    maxRetentionMs: o.maxRetentionMs ?? 30 * 86_400_000,
    maxFilesScanned: o.maxFilesScanned ?? 100_000,
  };
  const groups = await Promise.all([
    checkKeys(ctx),
    checkData(ctx),
    checkAccess(ctx),
    checkLog(ctx),
    checkTls(vault, now),
    checkPostgresRole(vault),
    checkStorage(vault),
  ]);
  return [...groups.flat(), ...(o.postgresUrl ? checkPostgresUrl(o.postgresUrl) : [])];
}
