import { randomBytes } from "node:crypto";
import { cpSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { encodeFields } from "../../src/crypto/bytes.js";
import { unwrapKey } from "../../src/crypto/keywrap.js";
import { KeyCache } from "../../src/keys/cache.js";
import { FileKeyProvider } from "../../src/keys/file-provider.js";
import { KeyTree } from "../../src/keys/tree.js";
import { connectMetadata } from "../../src/store/meta/index.js";
import { defaultKeyFile } from "../../src/keys/key-file.js";
import type { Vault } from "../../src/vault/vault.js";
import { verifyCertificate } from "../../src/vault/certificates.js";
import { BACKENDS, codeOf, collectBytes, sandbox, type Sandbox } from "../support/backends.js";

/** Rows of the tables that hold wrapped keys, copied out of the metadata store. */
async function slotOf(sb: Sandbox, subjectId: string): Promise<number> {
  const driver = connectMetadata(
    sb.backend.name === "sqlite"
      ? { driver: "sqlite", file: path.join(sb.dataDir, "meta.sqlite") }
      : { driver: "postgres", url: sb.backend.pgUrl!, schema: sb.schema },
  );
  try {
    const r = await driver.db
      .selectFrom("subjects")
      .select("slot")
      .where("id", "=", subjectId)
      .executeTakeFirstOrThrow();
    return r.slot;
  } finally {
    await driver.close();
  }
}

async function keyRows(sb: Sandbox) {
  if (sb.backend.name === "sqlite") {
    const { default: Db } = await import("better-sqlite3");
    const db = new Db(path.join(sb.dataDir, "meta.sqlite"), { readonly: true });
    const out = {
      nodes: db.prepare("SELECT * FROM key_nodes").all() as { wrapped_key: Buffer }[],
      subjectKeys: db.prepare("SELECT * FROM subject_keys").all() as {
        subject_id: string;
        wrapped_key: Buffer;
      }[],
    };
    db.close();
    return out;
  }
  const c = new pg.Client({ connectionString: sb.backend.pgUrl });
  await c.connect();
  const nodes = (await c.query(`SELECT * FROM ${sb.schema}.key_nodes`)).rows as { wrapped_key: Buffer }[];
  const subjectKeys = (await c.query(`SELECT * FROM ${sb.schema}.subject_keys`)).rows as {
    subject_id: string;
    wrapped_key: Buffer;
  }[];
  await c.end();
  return { nodes, subjectKeys };
}

describe.each(BACKENDS)("crypto-shredding ($name)", (backend) => {
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

  it("destroys the subject's keys, issues a verifiable certificate, leaves others intact", async () => {
    const victim = await v.subjects.add({ ref: "victim@example.org" });
    const other = await v.subjects.add({ ref: "other@example.org" });
    const vb = await v.blobs.put({ subjectId: victim.id, kind: "raw", data: [randomBytes(10_000)] });
    const otherData = randomBytes(10_000);
    const ob = await v.blobs.put({ subjectId: other.id, kind: "raw", data: [otherData] });
    const before = (await v.keys.status()).rootVersionInUse;

    const out = await v.shredding.request(victim.id);
    expect(out.status).toBe("shredded");
    if (out.status !== "shredded") return;
    const cert = out.certificate;
    expect(cert).toMatchObject({
      subjectId: victim.id,
      vaultId: v.id,
      counts: { blobs: 1, bytes: vb.size },
      destroyed: {
        subjectKeyVersions: [1],
        retiredRootKeyVersion: before,
        externalReference: true,
        keyTreeNodesRekeyed: 7,
      },
    });
    // verifies under the vault's key, and only under it
    expect((await v.shredding.verify(cert)).certificateId).toBe(cert.certificateId);
    const tampered = { ...cert, counts: { ...cert.counts, blobs: 0 } };
    expect(await codeOf(v.shredding.verify(tampered))).toBe("INVALID_ARGUMENT");
    expect(() => verifyCertificate(cert, randomBytes(32))).toThrow(/does not verify/);
    expect((await v.shredding.certificate(victim.id))?.certificateId).toBe(cert.certificateId);

    expect(await codeOf(v.blobs.read(vb.id))).toBe("SUBJECT_SHREDDED");
    expect(await codeOf(v.subjects.revealRef(victim.id))).toBe("SUBJECT_SHREDDED");
    expect(await codeOf(v.blobs.put({ subjectId: victim.id, kind: "raw", data: [] }))).toBe(
      "SUBJECT_SHREDDED",
    );
    expect(await codeOf(v.shredding.request(victim.id))).toBe("SUBJECT_SHREDDED");
    expect(await v.subjects.findByRef("victim@example.org")).toBeUndefined();
    // the same person can enrol again as a new subject
    expect((await v.subjects.add({ ref: "victim@example.org" })).id).not.toBe(victim.id);

    expect((await collectBytes((await v.blobs.read(ob.id)).stream)).equals(otherData)).toBe(true);
    const status = await v.keys.status();
    expect(status.provider.versions).toEqual([status.rootVersionInUse]);
    expect(status.rootVersionInUse).toBe(before + 1);
    expect(status.subjects.shredded).toBe(1);
    const ev = (await v.audit.list({ subjectId: victim.id })).map((e) => e.event.type);
    expect(ev).toContain("subject.shredded");

    const sweep = await v.maintenance.run();
    expect(sweep.blobsRemoved).toBe(1);
    expect(await codeOf(v.blobs.read(vb.id))).toBe("BLOB_NOT_FOUND");
  });

  it("a copy of the data directory taken before the shred yields nothing of the subject afterwards", async () => {
    const victim = await v.subjects.add({ ref: "victim" });
    const survivor = await v.subjects.add({ ref: "survivor" });
    // neighbours in the same slot group and elsewhere in the tree
    for (let i = 0; i < 20; i++) await v.subjects.add({ ref: `n${i}` });
    const secret = randomBytes(5000);
    await v.blobs.put({ subjectId: victim.id, kind: "raw", data: [secret] });
    await v.blobs.put({ subjectId: survivor.id, kind: "raw", data: [randomBytes(100)] });
    const oldRows = await keyRows(sb);
    const vaultId = v.id;
    const survivorSlot0 = await slotOf(sb, survivor.id);
    const backupDir = path.join(sb.root, "backup");
    if (backend.name === "sqlite") {
      await v.close();
      cpSync(sb.dataDir, backupDir, { recursive: true });
      v = await sb.open();
    }

    await v.shredding.request(victim.id);
    const newRows = await keyRows(sb);

    // 1. Strongest offline attacker: the old wrapped subject key, plus every node key of the
    //    current tree (as if the root key and the current database were both stolen).
    const victimOld = oldRows.subjectKeys.filter((r) => r.subject_id === victim.id);
    expect(victimOld).toHaveLength(1);
    expect(newRows.subjectKeys.some((r) => r.subject_id === victim.id)).toBe(false);
    const aad = (subjectId: string) => encodeFields(["voxvault/subject-key/v1", vaultId, subjectId, "1"]);
    const stolen = await currentNodeKeys(sb);
    // Positive control: with these keys the attacker does open the survivor's current key...
    const survivorRow = newRows.subjectKeys.find((r) => r.subject_id === survivor.id)!;
    const survivorSlot = stolen.find((p) => p.slot === survivorSlot0)!;
    expect(unwrapKey(survivorSlot.keys[6]!, survivorRow.wrapped_key, aad(survivor.id))).toHaveLength(32);
    // ...but no key of the current tree opens the victim's old wrapped key.
    for (const { keys } of stolen) {
      for (const k of keys) expect(() => unwrapKey(k, victimOld[0]!.wrapped_key, aad(victim.id))).toThrow();
    }
    // 2. The old copy no longer opens with the current key file: the root version it needs is gone.
    if (backend.name === "sqlite") {
      await v.close();
      rmSync(sb.dataDir, { recursive: true });
      cpSync(backupDir, sb.dataDir, { recursive: true });
      expect(await codeOf(sb.open())).toBe("ROOT_KEY_MISMATCH");
      rmSync(sb.dataDir, { recursive: true });
      v = await sb.init(); // fresh vault for afterEach
    }
  });

  it("a scheduled shred can be cancelled, and runs when due", async () => {
    await v.close();
    await sb.cleanup();
    sb = sandbox(backend);
    v = await sb.init({ softDeleteWindow: "72h" });
    const s = await v.subjects.add({ ref: "maybe" });
    const blob = await v.blobs.put({ subjectId: s.id, kind: "raw", data: [randomBytes(100)] });
    const out = await v.shredding.request(s.id);
    expect(out.status).toBe("scheduled");
    expect(await codeOf(v.blobs.read(blob.id))).toBe("SHRED_PENDING");
    expect((await v.shredding.cancel(s.id)).status).toBe("active");
    expect(await codeOf(v.shredding.cancel(s.id))).toBe("SHRED_NOT_PENDING");
    expect((await collectBytes((await v.blobs.read(blob.id)).stream)).length).toBe(100);

    await v.shredding.request(s.id);
    expect((await v.maintenance.run()).shredded).toHaveLength(0); // not yet due
    await v.close();
    const later = new Date(Date.now() + 73 * 3600_000);
    v = await sb.open({ now: () => later });
    const report = await v.maintenance.run();
    expect(report.shredded.map((c) => c.subjectId)).toEqual([s.id]);
    expect(report.blobsRemoved).toBe(1);
    const cert = report.shredded[0]!;
    expect(Date.parse(cert.requestedAt)).toBeLessThan(Date.parse(cert.shreddedAt));
    expect((await v.subjects.get(s.id)).status).toBe("shredded");
    const types = (await v.audit.list({ subjectId: s.id })).map((e) => e.event.type);
    expect(types).toEqual([
      "subject.created",
      "blob.written",
      "subject.shred_scheduled",
      "subject.shred_cancelled",
      "blob.read",
      "subject.shred_scheduled",
      "subject.shredded",
      "blobs.removed",
    ]);
  });

  it("shred cost does not grow with the subject's data", async () => {
    const s = await v.subjects.add({ ref: "many" });
    for (let i = 0; i < 200; i++)
      await v.blobs.put({ subjectId: s.id, kind: "raw", data: [randomBytes(64)] });
    const out = await v.shredding.request(s.id);
    if (out.status !== "shredded") throw new Error("expected immediate shred");
    expect(out.certificate.counts.blobs).toBe(200);
    // Only the path was rekeyed: 7 nodes, and no per-blob work in the transaction.
    expect(out.certificate.destroyed.keyTreeNodesRekeyed).toBe(7);
    expect(out.certificate.destroyed.keysRewrapped).toBeLessThanOrEqual(7 * 16 + 2);
  });

  it("the audit table is append-only in the database itself", async () => {
    await v.subjects.add({ ref: "x" });
    const attempt = async (q: string) => {
      if (sb.backend.name === "sqlite") {
        const { default: Db } = await import("better-sqlite3");
        const db = new Db(path.join(sb.dataDir, "meta.sqlite"));
        try {
          db.exec(q);
        } finally {
          db.close();
        }
      } else {
        const c = new pg.Client({ connectionString: sb.backend.pgUrl });
        await c.connect();
        try {
          await c.query(`SET search_path = ${sb.schema}; ${q}`);
        } finally {
          await c.end();
        }
      }
    };
    await expect(attempt("UPDATE audit_events SET type = 'x'")).rejects.toThrow(/append-only/);
    await expect(attempt("DELETE FROM audit_events")).rejects.toThrow(/append-only/);
    expect((await v.audit.list()).length).toBe(2);
  });
});

/** Every node key of the current tree, unwrapped with the current root key file (attacker's view). */
async function currentNodeKeys(sb: Sandbox): Promise<{ slot: number; keys: Uint8Array[] }[]> {
  const cfg = JSON.parse(readFileSync(path.join(sb.dataDir, "vault.json"), "utf8")) as { vaultId: string };
  const provider = await FileKeyProvider.open({
    file: defaultKeyFile(cfg.vaultId, sb.env),
    vaultId: cfg.vaultId,
  });
  const tree = new KeyTree(cfg.vaultId, provider, new KeyCache({ maxEntries: 1, ttlMs: 0 }));
  const driver = connectMetadata(
    sb.backend.name === "sqlite"
      ? { driver: "sqlite", file: path.join(sb.dataDir, "meta.sqlite") }
      : { driver: "postgres", url: sb.backend.pgUrl!, schema: sb.schema },
  );
  try {
    const slots = (await driver.db.selectFrom("subjects").select("slot").execute()).map((r) => r.slot);
    const out: { slot: number; keys: Uint8Array[] }[] = [];
    for (const slot of slots) out.push({ slot, keys: await tree.pathKeys(driver.db, slot) });
    return out;
  } finally {
    await driver.close();
    await provider.close();
  }
}
