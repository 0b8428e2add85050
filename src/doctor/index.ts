/**
 * `voxvault doctor`: runs every posture check against an open vault and its host, and returns
 * the findings (src/doctor/finding.ts) for a table, JSON or SARIF (src/doctor/report.ts).
 */
import type { Vault } from "../platform/vault.js";
import { audioKind, checkAccess, checkData, checkKeys, checkLog, type LocalContext } from "./checks-local.js";
import { checkPostgresRole, checkPostgresUrl, checkTls } from "./checks-transport.js";
import type { Finding } from "./finding.js";

/** The blob store's surroundings (a bucket's policy, ACL, public-access block …). */
async function checkStorage(vault: Vault, maxObjects: number): Promise<Finding[]> {
  const out: Finding[] = (await vault.health.storagePosture()).map((p) => ({
    ...p,
    area: "storage" as const,
  }));
  const plain: { key: string; kind: string }[] = [];
  for await (const { key, head } of vault.health.storeHeads(maxObjects)) {
    const kind = audioKind(head);
    if (kind) plain.push({ key, kind });
  }
  for (const p of plain.slice(0, 20))
    out.push({
      rule: "storage.plaintext-audio",
      severity: "critical",
      area: "storage",
      what: `a plaintext ${p.kind} file is in the vault's bucket: ${p.key}`,
      why: "voice outside the vault's encryption is exactly what the breach leaked; whoever reads the bucket hears it",
      fix: "import it through the vault (voxvault import s3://… --delete-source) or delete every version of it; find out what wrote it there",
      location: p.key,
    });
  if (plain.length > 20)
    out.push({
      rule: "storage.plaintext-audio",
      severity: "critical",
      area: "storage",
      what: `${plain.length - 20} more plaintext audio files in the vault's bucket`,
      why: "as above",
      fix: "as above",
    });
  return out;
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
  /** The operator's Cedar policy directories (DATA_DIR/policies, `serve --policies`). */
  readonly policyDirs?: readonly string[] | undefined;
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
    checkStorage(vault, ctx.maxFilesScanned),
    // Cedar (WebAssembly) loads only when there are policies of the operator's to read
    o.policyDirs?.length
      ? import("./checks-policy.js").then((m) => m.checkPolicies(o.policyDirs!))
      : Promise.resolve([]),
  ]);
  return [...groups.flat(), ...(o.postgresUrl ? checkPostgresUrl(o.postgresUrl) : [])];
}
