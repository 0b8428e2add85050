/**
 * Doctor checks that need only the open vault and this host: keys, data at rest, access and the
 * log. (Object storage and the metadata server's own posture are separate checks.)
 */
import { constants, promises as fs } from "node:fs";
import path from "node:path";
import type { Vault } from "../platform/vault.js";
import { parseDuration } from "../vault/duration.js";
import { EPOCH_SECRET_PREFIX, epochExpired } from "../vault/retention-keys.js";
import type { Finding } from "./finding.js";

export interface LocalContext {
  readonly vault: Vault;
  /** The root key file, or the HSM state file. */
  readonly rootFile: string;
  readonly now: Date;
  /** Longest acceptable retention of reconstructable material (raw audio, frames). */
  readonly maxRetentionMs: number;
  /** Files scanned for plaintext audio at most (a bound on the doctor's own run time). */
  readonly maxFilesScanned: number;
}

const DAY = 86_400_000;

/** Directories that sync or back up their contents elsewhere (by name, anywhere in the path). */
const SYNCED =
  /(^|\/)(dropbox|onedrive[^/]*|google ?drive|icloud ?drive|mobile documents|nextcloud|owncloud|seafile|sync|\.sync|syncthing|box sync|megasync)(\/|$)/i;

export async function checkKeys(ctx: LocalContext): Promise<Finding[]> {
  const out: Finding[] = [];
  const status = await ctx.vault.keys.status();
  if (status.provider.kind === "local")
    out.push({
      rule: "keys.unsealed-key-file",
      severity: "medium",
      area: "keys",
      what: `the root key is a plain file (${ctx.rootFile})`,
      why: "whoever copies this file and a backup of the data reads every voice stored under it",
      fix: "split it among officers (voxvault keys reshare --quorum M --officer … --shares-dir DIR), move the root into an HSM (init --hsm …), or at least seal it under a passphrase (init --seal)",
      location: ctx.rootFile,
    });
  if (SYNCED.test(ctx.rootFile))
    out.push({
      rule: "keys.synced-directory",
      severity: "high",
      area: "keys",
      what: `the root ${status.provider.kind === "pkcs11" ? "state" : "key"} file lies in a synced or backed-up directory (${ctx.rootFile})`,
      why: "copies of the root then live on other machines and in their histories, out of the vault's reach",
      fix: "move it to a private directory outside any sync or backup tool (--key-file), and delete the synced copies and their versions",
      location: ctx.rootFile,
    });
  if (SYNCED.test(ctx.vault.dataDir))
    out.push({
      rule: "data.synced-directory",
      severity: "medium",
      area: "data",
      what: `the data directory lies in a synced directory (${ctx.vault.dataDir})`,
      why: "metadata and ciphertext copies go where retention sweeps and shreds cannot follow",
      fix: "move the data directory out of the synced tree",
      location: ctx.vault.dataDir,
    });
  const active = status.generations.find((g) => g.generation === status.activeGeneration);
  if (active) {
    const ageDays = Math.floor((ctx.now.getTime() - Date.parse(active.createdAt)) / DAY);
    if (ageDays > 365)
      out.push({
        rule: "keys.root-rotation-age",
        severity: "medium",
        area: "keys",
        what: `the active root generation is ${ageDays} days old`,
        why: "a root copied long ago (an old backup of a key file, a departed admin) still opens everything written since",
        fix: "rotate the root: voxvault keys rotate --root (and yearly from then on)",
      });
  }
  const seal = ctx.vault.sealing.describe();
  if (seal.quorum) {
    const ageDays = Math.floor((ctx.now.getTime() - Date.parse(seal.quorum.createdAt)) / DAY);
    if (ageDays > 365)
      out.push({
        rule: "keys.share-set-age",
        severity: "low",
        area: "keys",
        what: `the unseal shares (${seal.quorum.threshold} of ${seal.quorum.officers.length}) were made ${ageDays} days ago`,
        why: "shares held by officers who left, or copied over the years, add up towards a quorum nobody controls",
        fix: "reshare after every change of officers and at least yearly: voxvault keys reshare --quorum M --officer … --shares-dir DIR",
      });
  } else if (status.provider.kind === "pkcs11") {
    out.push({
      rule: "keys.no-unseal-quorum",
      severity: "info",
      area: "keys",
      what: "the HSM root opens with the token's PIN alone",
      why: "one stolen PIN (with access to the token) is enough to open the vault",
      fix: "use the HSM's own M-of-N authentication for the token, where it has one",
    });
  } else {
    out.push({
      rule: "keys.no-unseal-quorum",
      severity: "info",
      area: "keys",
      what: `no quorum unseal: the vault opens with its ${seal.kind === "passphrase" ? "passphrase" : "key file"} alone`,
      why: "one stolen credential (key file, passphrase) is enough to open the vault",
      fix: "split the root among officers: voxvault keys reshare --quorum M --officer … --shares-dir DIR",
    });
  }
  return out;
}

export async function checkData(ctx: LocalContext): Promise<Finding[]> {
  const out: Finding[] = [];
  const retention = ctx.vault.abstraction.retention;
  for (const [kind, r] of [
    ["raw", retention.raw],
    ["frames", retention.frames],
  ] as const) {
    if (r.mode !== "keep") continue;
    const ms = parseDuration(r.ttl);
    if (ms > ctx.maxRetentionMs)
      out.push({
        rule: `data.retention-${kind}`,
        severity: kind === "raw" ? "high" : "medium",
        area: "data",
        what: `${kind === "raw" ? "raw audio" : "frame-level features"} are kept for ${r.ttl}, longer than the maximum of ${Math.round(ctx.maxRetentionMs / DAY)}d`,
        why: "reconstructable voice kept longer than needed is what a breach takes",
        fix: `lower abstraction.retention.${kind}.ttl in vault.json (or set mode "discard")`,
      });
  }
  const status = await ctx.vault.keys.status();
  const unswept = status.secrets
    .filter((s) => s.name.startsWith(EPOCH_SECRET_PREFIX))
    .map((s) => s.name.slice(EPOCH_SECRET_PREFIX.length))
    .filter((e) => epochExpired(e, ctx.now));
  if (unswept.length > 0)
    out.push({
      rule: "data.retention-not-swept",
      severity: "medium",
      area: "data",
      what: `${unswept.length} retention day(s) have ended but their material is not erased (${unswept.slice(0, 5).join(", ")}${unswept.length > 5 ? ", …" : ""})`,
      why: "material past its retention stays decryptable until the sweep punctures its keys",
      fix: "run voxvault retention sweep now, and from a timer (hourly)",
    });
  for (const file of await plaintextAudio(ctx.vault.dataDir, ctx.maxFilesScanned))
    out.push({
      rule: "data.plaintext-audio",
      severity: "critical",
      area: "data",
      what: `a plaintext audio file lies in the data directory (${file.kind})`,
      why: "raw voice at rest in the clear is exactly what the vault exists to prevent",
      fix: "find how it got there, shred-delete it (shred -u) and check backups for copies",
      location: file.path,
    });
  return out;
}

/** Audio containers by their magic numbers (the first bytes of a file). */
export function audioKind(head: Uint8Array): string | undefined {
  const ascii = (o: number, s: string) =>
    Buffer.from(head.subarray(o, o + s.length)).toString("latin1") === s;
  if (ascii(0, "RIFF") && ascii(8, "WAVE")) return "WAV";
  if (ascii(0, "fLaC")) return "FLAC";
  if (ascii(0, "OggS")) return "Ogg";
  if (ascii(0, "ID3")) return "MP3";
  if (head.length >= 2 && head[0] === 0xff && (head[1]! & 0xe0) === 0xe0 && (head[1]! & 0x06) !== 0)
    return "MP3";
  if (ascii(4, "ftyp")) return "MP4/M4A";
  if (head.length >= 4 && head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3)
    return "Matroska/WebM";
  if (ascii(0, "#!AMR")) return "AMR";
  if (ascii(0, "FORM") && (ascii(8, "AIFF") || ascii(8, "AIFC"))) return "AIFF";
  if (ascii(0, ".snd")) return "AU";
  return undefined;
}

async function plaintextAudio(dir: string, maxFiles: number): Promise<{ path: string; kind: string }[]> {
  const found: { path: string; kind: string }[] = [];
  let seen = 0;
  const head = Buffer.alloc(16);
  async function walk(d: string): Promise<void> {
    let entries;
    try {
      entries = await fs.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (seen >= maxFiles) return;
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        seen++;
        let h;
        try {
          h = await fs.open(p, constants.O_RDONLY | constants.O_NOFOLLOW);
        } catch {
          continue;
        }
        try {
          const { bytesRead } = await h.read(head, 0, head.length, 0);
          const kind = audioKind(head.subarray(0, bytesRead));
          if (kind) found.push({ path: p, kind });
        } finally {
          await h.close();
        }
      }
    }
  }
  await walk(dir);
  return found;
}

export async function checkAccess(ctx: LocalContext): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const t of await ctx.vault.access.tokens.list()) {
    if (t.kind === "enrolment") continue;
    const lifetimeDays = (Date.parse(t.expiresAt) - Date.parse(t.createdAt)) / DAY;
    const privileged = t.role === "admin" || t.role === "operator";
    if (lifetimeDays > (privileged ? 30 : 90))
      out.push({
        rule: "access.long-lived-token",
        severity: privileged ? "high" : "medium",
        area: "access",
        what: `${t.role} token ${t.id} (${t.label}) lives ${Math.round(lifetimeDays)} days`,
        why: "a long-lived credential is the one that leaks and keeps working",
        fix: `revoke it (voxvault token revoke ${t.id}) and issue one that expires within ${privileged ? 30 : 90} days`,
      });
    const idleSince = Date.parse(t.lastUsedAt ?? t.createdAt);
    if (ctx.now.getTime() - idleSince > 90 * DAY)
      out.push({
        rule: "access.unused-token",
        severity: privileged ? "medium" : "low",
        area: "access",
        what: `${t.role} token ${t.id} (${t.label}) has not been used for ${Math.floor((ctx.now.getTime() - idleSince) / DAY)} days`,
        why: "an unused credential is attack surface with no purpose",
        fix: `revoke it: voxvault token revoke ${t.id}`,
      });
  }
  for (const r of [
    ...(await ctx.vault.access.breakglass.list("granted")),
    ...(await ctx.vault.access.breakglass.list("expired")),
  ]) {
    if (r.approvals.length < r.requiredApprovals) continue; // never granted
    const age = Math.floor((ctx.now.getTime() - Date.parse(r.createdAt)) / DAY);
    if (r.status === "granted" && age < 7) continue;
    out.push({
      rule: "access.breakglass-unused",
      severity: "low",
      area: "access",
      what:
        r.status === "granted"
          ? `break-glass grant ${r.id} (${r.material}) was filed ${age} days ago and is still open, unused`
          : `break-glass grant ${r.id} (${r.material}) expired without being used`,
      why: "grants to raw voice that nobody uses mean they are approved too easily, or left standing",
      fix: "review who files and approves break-glass requests; grant for the hours a need lasts (access.breakglass in vault.json)",
    });
  }
  return out;
}

export async function checkLog(ctx: LocalContext): Promise<Finding[]> {
  const out: Finding[] = [];
  const report = await ctx.vault.log.verify();
  if (!report.ok)
    out.push({
      rule: "log.verify-failed",
      severity: "critical",
      area: "log",
      what: `the audit log does not verify: ${report.problemCount} problem(s), first: ${report.problems[0]?.message ?? "?"}`,
      why: "a log that does not verify cannot show who reached which voice; tampering is the likeliest cause",
      fix: "treat as an incident: voxvault audit verify --json for details; compare with witnesses' cosigned checkpoints",
    });
  const witnesses = (await ctx.vault.log.witnesses.list()).filter((w) => w.status === "active");
  if (witnesses.length === 0)
    out.push({
      rule: "log.no-witness",
      severity: "low",
      area: "log",
      what: "no witness cosigns the log's checkpoints",
      why: "without an outside cosignature the vault's operator could fork or rewrite the log unnoticed",
      fix: "add a witness: voxvault audit witnesses add VKEY (docs/tlog.md §14)",
    });
  const { size, checkpointSize, checkpointAt } = await ctx.vault.log.size();
  const unsignedFor = checkpointAt === null ? Infinity : ctx.now.getTime() - Date.parse(checkpointAt);
  if (size > checkpointSize && unsignedFor > DAY)
    out.push({
      rule: "log.checkpoint-age",
      severity: "medium",
      area: "log",
      what: `${size - checkpointSize} audit event(s) recorded after the last signed checkpoint${checkpointAt === null ? " (none was ever signed)" : `, signed ${Math.floor(unsignedFor / 3_600_000)} h ago`}`,
      why: "events not yet covered by a signed checkpoint can be rewritten without contradicting anything a witness or contractor holds",
      fix: "sign one now and on a timer (hourly): voxvault audit checkpoint",
    });
  for (const w of witnesses)
    if (w.cosignedSize < checkpointSize)
      out.push({
        rule: "log.witness-behind",
        severity: "medium",
        area: "log",
        what: `witness ${w.key} cosigned size ${w.cosignedSize}, the latest checkpoint has size ${checkpointSize}`,
        why: "events after the last cosignature are not yet protected against a rewrite",
        fix: `ask it to cosign: voxvault audit witnesses request ${w.key}, then voxvault audit witnesses import its answer`,
      });
  return out;
}
