/**
 * Several hosts of one vault, each with its own key file (issue: backups and several hosts must
 * survive shreds and rotations). Two vault handles with different key files stand for two
 * machines: they share only the metadata store and the blob store, as two machines would.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FileKeyProvider } from "../../src/keys/file-provider.js";
import { defaultKeyFile } from "../../src/keys/key-file.js";
import { joinVault, restoreVault } from "../../src/platform/lifecycle.js";
import { encodeFields } from "../../src/crypto/bytes.js";
import type { Vault } from "../../src/platform/vault.js";
import { codeOf, collectBytes, sandbox, type Sandbox } from "../support/backends.js";
import { BACKUP_BACKENDS, takeBackup } from "../support/backup.js";
import { internalsOf } from "../../src/platform/vault.js";

describe.each(BACKUP_BACKENDS)("several hosts ($name)", (backend) => {
  let sb: Sandbox;
  let a: Vault;
  const open: Vault[] = [];
  beforeEach(async () => {
    sb = sandbox(backend);
    a = await sb.init({ hostName: "host-a" });
  });
  afterEach(async () => {
    for (const v of open.splice(0)) await v.close();
    await a.close();
    await sb.cleanup();
  });

  const keyFileB = () => path.join(sb.root, "host-b", "keys", "vault.key.json");
  const join = () =>
    joinVault({
      dataDir: sb.dataDir,
      keyFile: keyFileB(),
      hostName: "host-b",
      env: sb.env,
      postgresUrl: backend.pgUrl,
    });
  const openB = async () => {
    const v = await sb.open({ keyFile: keyFileB() });
    open.push(v);
    return v;
  };

  it("a host joins without copying any key file, works through shreds and rotations, and can be revoked", async () => {
    const s1 = await a.subjects.add({ ref: "s1" });
    const s2 = await a.subjects.add({ ref: "s2" });
    const data1 = randomBytes(3000);
    const b1 = await a.blobs.put({ subjectId: s1.id, kind: "raw", data: [data1] });
    const b2 = await a.blobs.put({ subjectId: s2.id, kind: "raw", data: [randomBytes(3000)] });

    const joined = await join();
    expect(existsSync(keyFileB())).toBe(true);
    // the new key file holds no root material at all, only its host key
    const fresh = await FileKeyProvider.open({ file: keyFileB(), vaultId: a.id });
    expect(await fresh.generations()).toEqual([]);
    await fresh.close();
    expect(await codeOf(sb.open({ keyFile: keyFileB() }))).toBe("ROOT_KEY_MISSING"); // pending approval
    // approval checks the fingerprint compared out of band
    expect(await codeOf(a.hosts.approve(joined.hostId, "0000:0000:0000:0000:0000:0000:0000:0000"))).toBe(
      "INVALID_ARGUMENT",
    );
    const approved = await a.hosts.approve(joined.hostId, joined.fingerprint);
    expect(approved.status).toBe("approved");
    const b = await openB();
    expect((await collectBytes((await b.blobs.read(b1.id)).stream)).equals(data1)).toBe(true);
    expect((await a.hosts.list()).map((h) => [h.name, h.status, h.generations])).toEqual([
      ["host-a", "approved", [1]],
      ["host-b", "approved", [1]],
    ]);

    // A shred on host A takes effect on host B at once (B re-reads the key row on every use)...
    const s2slot = (await a.keys.status()).punctureSeq;
    await a.shredding.request(s2.id);
    expect(await codeOf(b.blobs.read(b2.id))).toBe("SUBJECT_SHREDDED");
    // ...and B's own key file loses the slot at its next sync (the timer's call).
    const bStatus = await b.keys.status();
    expect(bStatus.provider.appliedSeq).toBeLessThan(bStatus.punctureSeq);
    const report = await b.keys.syncIfNeeded();
    expect(report?.puncturesApplied).toBe(bStatus.punctureSeq - s2slot);
    const bFile = await FileKeyProvider.open({ file: keyFileB(), vaultId: a.id });
    expect(await bFile.isPunctured(1, await slotOf(b, s2.id))).toBe(true);
    await bFile.close();
    expect((await a.hosts.list()).find((h) => h.name === "host-b")!.behind).toBe(0);

    // A root rotation on host A reaches host B sealed to B's host key.
    const rot = await a.keys.rotateRoot();
    expect(rot.toGeneration).toBe(2);
    expect(await codeOf(b.blobs.read(b1.id))).toBe("KEY_UNAVAILABLE"); // B does not hold generation 2 yet
    const got = await b.keys.sync();
    expect(got.generationsReceived).toEqual([2]);
    expect((await collectBytes((await b.blobs.read(b1.id)).stream)).equals(data1)).toBe(true);
    // B writes, A reads
    const s3 = await b.subjects.add({ ref: "s3" });
    const data3 = randomBytes(100);
    const b3 = await b.blobs.put({ subjectId: s3.id, kind: "raw", data: [data3] });
    expect((await collectBytes((await a.blobs.read(b3.id)).stream)).equals(data3)).toBe(true);
    // A shred on host B punctures host A's root too
    await b.shredding.request(s3.id);
    await a.keys.syncIfNeeded();
    const aFile = await FileKeyProvider.open({ file: defaultKeyFile(a.id, sb.env), vaultId: a.id });
    expect(await aFile.isPunctured(2, await slotOf(a, s3.id))).toBe(true);
    await aFile.close();

    // Revoked: B cannot open or sync, and later generations are never sealed to it.
    expect(await codeOf(a.hosts.revoke((await a.hosts.list()).find((h) => h.self)!.id))).toBe(
      "INVALID_ARGUMENT",
    );
    await a.hosts.revoke(joined.hostId);
    expect(await codeOf(b.keys.sync())).toBe("ROOT_KEY_MISSING");
    expect(await codeOf(sb.open({ keyFile: keyFileB() }))).toBe("ROOT_KEY_MISSING");
    const rot2 = await a.keys.rotateRoot();
    const bKeys = await FileKeyProvider.open({ file: keyFileB(), vaultId: a.id });
    expect(await bKeys.generations()).toEqual([1, 2]);
    expect(await bKeys.generations()).not.toContain(rot2.toGeneration);
    await bKeys.close();
    const types = (await a.audit.list({ limit: 1000 })).map((e) => e.event.type);
    for (const t of [
      "keys.host_approved",
      "keys.generation_received",
      "keys.punctures_applied",
      "keys.host_revoked",
    ])
      expect(types).toContain(t);
  });

  it("a generation sealed to a host opens nothing from a backup once the host accepted it", async () => {
    const joined = await join();
    await a.hosts.approve(joined.hostId, joined.fingerprint);
    // a backup (or a WAL archive) taken now holds the sealed copy
    const row = await internalsOf(a)
      .meta.db.selectFrom("key_distributions")
      .selectAll()
      .where("host_id", "=", joined.hostId)
      .executeTakeFirstOrThrow();
    await openB(); // accepts, replaces its host key, drops the old one
    const listed = (await a.hosts.list()).find((h) => h.id === joined.hostId)!;
    expect(listed.fingerprint).not.toBe(joined.fingerprint);
    const bFile = await FileKeyProvider.open({ file: keyFileB(), vaultId: a.id });
    try {
      const ctx = encodeFields(["voxvault/host", joined.hostId]);
      expect(
        await codeOf(bFile.distribution.accept(row.generation, row.sealed, ctx, { log: "", seq: 0 })),
      ).toBe("KEY_UNAVAILABLE");
    } finally {
      await bFile.close();
    }
  });

  it("a restored copy of the metadata cannot bring back a subject another host shredded", async () => {
    const s = await a.subjects.add({ ref: "shredded-on-b" });
    const t = await a.subjects.add({ ref: "kept" });
    const sBlob = await a.blobs.put({ subjectId: s.id, kind: "raw", data: [randomBytes(100)] });
    const tData = randomBytes(100);
    const tBlob = await a.blobs.put({ subjectId: t.id, kind: "raw", data: [tData] });
    const joined = await join();
    await a.hosts.approve(joined.hostId, joined.fingerprint);
    await (await openB()).close();
    open.pop();
    await a.close();
    const putBack = takeBackup(sb);
    // host B shreds; host A is down and never applies the puncture
    const b = await sb.open({ keyFile: keyFileB() });
    await b.shredding.request(s.id);
    await b.close();
    // the metadata is restored from the copy (without running `voxvault restore`)
    putBack();
    // B notices the rolled-back log as it opens: it refuses, and first writes what it erased back into the log
    expect(["RESTORE_REQUIRED", "LOG_INCONSISTENT"]).toContain(
      await codeOf(sb.open({ keyFile: keyFileB() })),
    );
    // so A refuses too (the vault is marked), and `restore` on A, which never saw the shred, keeps it
    expect(["RESTORE_REQUIRED", "LOG_INCONSISTENT"]).toContain(await codeOf(sb.open()));
    const { vault, report } = await restoreVault({
      dataDir: sb.dataDir,
      env: sb.env,
      postgresUrl: backend.pgUrl,
    });
    a = vault;
    expect(report.subjectsErased).toEqual([s.id]);
    expect(await codeOf(a.blobs.read(sBlob.id))).toBe("SUBJECT_SHREDDED");
    expect((await collectBytes((await a.blobs.read(tBlob.id)).stream)).equals(tData)).toBe(true);
    const aFile = await FileKeyProvider.open({ file: defaultKeyFile(a.id, sb.env), vaultId: a.id });
    expect(await aFile.isPunctured(1, await slotOf(a, s.id))).toBe(true);
    await aFile.close();
    // and B opens again, re-applying the new log
    const b2 = await openB();
    expect(await codeOf(b2.blobs.read(sBlob.id))).toBe("SUBJECT_SHREDDED");
    expect((await collectBytes((await b2.blobs.read(tBlob.id)).stream)).equals(tData)).toBe(true);
  });

  it("a key file that is not one of the vault's hosts does not open it", async () => {
    // a key file made for another vault id's path but this vault's id: not in the host list
    const stray = path.join(sb.root, "stray", "k.json");
    const p = await FileKeyProvider.create({ file: stray, vaultId: a.id, generations: [1] });
    await p.close();
    expect(await codeOf(sb.open({ keyFile: stray }))).toBe("ROOT_KEY_MISMATCH");
    // the host list is part of the audit trail: key file paths never appear in it
    const listed = JSON.stringify(await a.hosts.list());
    expect(listed).not.toContain(sb.root);
    expect(readFileSync(stray, "utf8")).toContain("voxvault-root-key/2");
  });
});

async function slotOf(v: Vault, subjectId: string): Promise<number> {
  const row = await internalsOf(v)
    .meta.db.selectFrom("subjects")
    .select("slot")
    .where("id", "=", subjectId)
    .executeTakeFirstOrThrow();
  return row.slot;
}
