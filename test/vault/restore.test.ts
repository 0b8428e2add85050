/**
 * Restoring a backup taken per docs/operations.md: every subject of the backup opens except
 * exactly those shredded since it was taken (crypto-shred holds against the backup), the log
 * grows an explicitly recorded new branch, and a normal open refuses the old copy with a code
 * that says what to do.
 */
import { randomBytes } from "node:crypto";
import { readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { restoreVault } from "../../src/platform/lifecycle.js";
import type { Vault } from "../../src/platform/vault.js";
import { codeOf, collectBytes, sandbox, type Sandbox } from "../support/backends.js";
import { BACKUP_BACKENDS, takeBackup } from "../support/backup.js";

/** A backup as docs/operations.md prescribes: the metadata (SQLite file / pg_dump) and the blob store. */
async function backup(sb: Sandbox, v: Vault): Promise<{ v: Vault; restore: () => Promise<void> }> {
  if (sb.backend.name === "sqlite") await v.close();
  const put = takeBackup(sb);
  return {
    v: sb.backend.name === "sqlite" ? await sb.open() : v,
    restore: () => {
      put();
      return Promise.resolve();
    },
  };
}

describe.each(BACKUP_BACKENDS)("restore from a backup ($name)", (backend) => {
  let sb: Sandbox;
  let v: Vault;
  beforeEach(async () => {
    sb = sandbox(backend);
    v = await sb.init();
  });
  afterEach(async () => {
    await v.close();
    await sb.cleanup();
  });

  it("yields every subject except those shredded since the backup, which stay undecryptable", async () => {
    const subjects = new Map<string, { id: string; blob: string; data: Buffer }>();
    for (const ref of ["a", "b", "c", "d"]) {
      const s = await v.subjects.add({ ref });
      const data = randomBytes(1000);
      const b = await v.blobs.put({ subjectId: s.id, kind: "raw", data: [data] });
      subjects.set(ref, { id: s.id, blob: b.id, data });
    }
    await v.shredding.request((await v.subjects.add({ ref: "shredded-before" })).id);
    await v.log.checkpoint();
    const taken = await backup(sb, v);
    v = taken.v;

    // after the backup: two shreds, a new subject, more log
    await v.shredding.request(subjects.get("b")!.id);
    await v.shredding.request(subjects.get("c")!.id);
    await v.subjects.add({ ref: "e-after-backup" });
    await v.log.checkpoint();
    await v.close();

    await taken.restore();
    // a normal open refuses the old copy: the anchors remember a longer log
    expect(await codeOf(sb.open())).toBe("LOG_INCONSISTENT");
    const { vault, report } = await restoreVault({
      dataDir: sb.dataDir,
      env: sb.env,
      postgresUrl: backend.pgUrl,
    });
    v = vault;
    expect(new Set(report.subjectsErased)).toEqual(new Set([subjects.get("b")!.id, subjects.get("c")!.id]));
    expect(report.lostLog?.size).toBeGreaterThan(0);
    expect(report.rotationAdvised).toBe(false);
    for (const ref of ["a", "d"]) {
      const s = subjects.get(ref)!;
      expect((await collectBytes((await v.blobs.read(s.blob)).stream)).equals(s.data)).toBe(true);
      expect((await v.subjects.findByRef(ref))?.id).toBe(s.id);
    }
    for (const ref of ["b", "c"]) {
      const s = subjects.get(ref)!;
      expect(await codeOf(v.blobs.read(s.blob))).toBe("SUBJECT_SHREDDED");
      expect(await v.subjects.findByRef(ref)).toBeUndefined();
      expect((await v.shredding.certificate(s.id))?.subjectId).toBe(s.id);
    }
    // the reference index works: a duplicate is refused, a new subject is accepted
    expect(await codeOf(v.subjects.add({ ref: "a" }))).toBe("SUBJECT_EXISTS");
    await v.subjects.add({ ref: "f-after-restore" });
    // the log: a new branch, recorded, signed by a new key only, and consistent with itself
    const types = (await v.audit.list({ limit: 1000 })).map((e) => e.event.type);
    expect(types).toContain("vault.restored");
    expect(types).toContain("log.key_rotated");
    await v.log.checkpoint();
    const verified = await v.log.verify();
    expect(verified.problems).toEqual([]);
    expect(verified.ok).toBe(true);
    // it now opens normally, again and again
    await v.close();
    v = await sb.open();
    expect((await v.keys.status()).provider.appliedSeq).toBe((await v.keys.status()).punctureSeq);
    // a second restore of the same (now current) copy is refused
    await v.close();
    expect(await codeOf(restoreVault({ dataDir: sb.dataDir, env: sb.env, postgresUrl: backend.pgUrl }))).toBe(
      "RESTORE_REFUSED",
    );
    v = await sb.open();
  });

  it("without the log's anchors, the root alone still notices the older copy", async () => {
    const s = await v.subjects.add({ ref: "x" });
    const taken = await backup(sb, v);
    v = taken.v;
    await v.shredding.request(s.id);
    await v.close();
    await taken.restore();
    // an attacker (or an accident) removed both anchor files
    const cfgHome = path.join(sb.root, "config", "voxvault", "keys");
    for (const f of readdirSync(cfgHome)) if (f.includes("anchor")) rmSync(path.join(cfgHome, f));
    for (const f of readdirSync(sb.dataDir)) if (f.includes("anchor")) rmSync(path.join(sb.dataDir, f));
    expect(await codeOf(sb.open())).toBe("RESTORE_REQUIRED");
    const { vault, report } = await restoreVault({
      dataDir: sb.dataDir,
      env: sb.env,
      postgresUrl: backend.pgUrl,
    });
    v = vault;
    expect(report.subjectsErased).toEqual([s.id]);
    expect((await v.subjects.get(s.id)).status).toBe("shredded");
  });
});
