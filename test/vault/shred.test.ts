import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { encodeFields } from "../../src/crypto/bytes.js";
import { loadBlob, openBlob } from "../../src/vault/blobs.js";
import type { Vault } from "../../src/platform/vault.js";
import { verifyCertificate } from "../../src/vault/certificates.js";
import {
  BACKENDS,
  codeOf,
  collectBytes,
  openRootFile,
  rootFileOf,
  sandbox,
  type Sandbox,
} from "../support/backends.js";
import { internalsOf } from "../../src/platform/vault.js";

interface KeyRow {
  subject_id: string;
  version: number;
  root_generation: number;
  wrapped_key: Buffer;
}
interface SecretRow {
  name: string;
  version: number;
  root_generation: number;
  point: number;
  wrapped_key: Buffer;
}

/** The wrapped keys a copy of the metadata holds (what a backup or a dump gives an attacker). */
async function keyRows(
  sb: Sandbox,
): Promise<{ subjectKeys: KeyRow[]; secrets: SecretRow[]; slots: Map<string, number> }> {
  let subjectKeys: KeyRow[];
  let secrets: SecretRow[];
  let subjects: { id: string; slot: number }[];
  if (sb.backend.name === "sqlite") {
    const { default: Db } = await import("better-sqlite3");
    const db = new Db(path.join(sb.dataDir, "meta.sqlite"), { readonly: true });
    subjectKeys = db.prepare("SELECT * FROM subject_keys").all() as KeyRow[];
    secrets = db.prepare("SELECT * FROM vault_secrets").all() as SecretRow[];
    subjects = db.prepare("SELECT id, slot FROM subjects").all() as { id: string; slot: number }[];
    db.close();
  } else {
    const c = new pg.Client({ connectionString: sb.backend.pgUrl });
    await c.connect();
    subjectKeys = (await c.query(`SELECT * FROM ${sb.schema}.subject_keys`)).rows as KeyRow[];
    secrets = (
      await c.query(
        `SELECT name, version, root_generation, point::int AS point, wrapped_key FROM ${sb.schema}.vault_secrets`,
      )
    ).rows as SecretRow[];
    subjects = (await c.query(`SELECT id, slot::int AS slot FROM ${sb.schema}.subjects`)).rows as {
      id: string;
      slot: number;
    }[];
    await c.end();
  }
  return { subjectKeys, secrets, slots: new Map(subjects.map((r) => [r.id, r.slot])) };
}

const subjectAad = (vaultId: string, subjectId: string, version: number) =>
  encodeFields(["voxvault/subject-key/v2", vaultId, subjectId, String(version)]);
const secretAad = (vaultId: string, name: string, version: number) =>
  encodeFields(["voxvault/vault-secret/v2", vaultId, name, String(version)]);

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
    const before = await v.keys.status();

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
        rootGenerationsPunctured: [1],
        externalReference: true,
        recordsErased: { consents: 0, uploads: 0 },
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
    // the slot and the old reference-index key are punctured, in the log and on this host at once
    expect(status.punctureSeq).toBe(before.punctureSeq + 2);
    expect(status.provider.appliedSeq).toBe(status.punctureSeq);
    expect(status.activeGeneration).toBe(before.activeGeneration);
    expect(status.subjects.shredded).toBe(1);
    const ev = (await v.audit.list({ subjectId: victim.id })).map((e) => e.event.type);
    expect(ev).toContain("subject.shredded");

    const sweep = await v.maintenance.run();
    expect(sweep.blobsRemoved).toBe(1);
    expect(await codeOf(v.blobs.read(vb.id))).toBe("BLOB_NOT_FOUND");
  });

  it("a copy of the metadata taken before the shred still opens every other subject, and nothing of the shredded one", async () => {
    const victim = await v.subjects.add({ ref: "victim" });
    const survivor = await v.subjects.add({ ref: "survivor" });
    // neighbours: same 16-slot group, and subjects sharing the victim's reference bucket
    for (let i = 0; i < 20; i++) await v.subjects.add({ ref: `n${i}` });
    await v.blobs.put({ subjectId: victim.id, kind: "raw", data: [randomBytes(5000)] });
    await v.blobs.put({ subjectId: survivor.id, kind: "raw", data: [randomBytes(100)] });
    const old = await keyRows(sb); // the backup / the stolen dump
    const vaultId = v.id;
    const keyFile = rootFileOf(sb, vaultId);
    const oldKeyFile = readFileSync(keyFile); // a copy of the key (or HSM state) file made before the shred

    await v.shredding.request(victim.id);
    const now = await keyRows(sb);
    expect(now.subjectKeys.some((r) => r.subject_id === victim.id)).toBe(false);

    // The attacker holds the old copy and the CURRENT key file (every generation it has).
    const provider = await openRootFile(sb, keyFile, vaultId);
    try {
      for (const row of old.subjectKeys) {
        const slot = old.slots.get(row.subject_id)!;
        const attempt = provider.unwrap(
          row.root_generation,
          slot,
          row.wrapped_key,
          subjectAad(vaultId, row.subject_id, row.version),
        );
        if (row.subject_id === victim.id) expect(await codeOf(attempt)).toBe("KEY_UNAVAILABLE");
        else expect(await attempt).toHaveLength(32); // the backup keeps every other subject
      }
      for (const g of await provider.generations())
        expect(await provider.isPunctured(g, old.slots.get(victim.id)!)).toBe(true);
      // The victim's reference-index key in the old copy is gone too: guessing "victim" against the
      // old ref_hash needs it. Every other secret of the old copy still opens.
      const gone = old.secrets.filter(
        (r) => !now.secrets.some((n) => n.name === r.name && n.version === r.version),
      );
      expect(gone.length).toBe(1);
      expect(gone[0]!.name).toMatch(/^subject-ref-key\//);
      for (const r of old.secrets) {
        const attempt = provider.unwrap(
          r.root_generation,
          r.point,
          r.wrapped_key,
          secretAad(vaultId, r.name, r.version),
        );
        if (r === gone[0]) expect(await codeOf(attempt)).toBe("KEY_UNAVAILABLE");
        else expect(await attempt).toBeInstanceOf(Uint8Array);
      }
    } finally {
      await provider.close();
    }
    // Only a key file copied BEFORE the shred, together with the old copy, still opens the victim:
    // that pair is a full compromise at that time (docs/threat-model.md A4). Not so with an HSM:
    // the old state file was sealed under a token key the shred destroyed.
    const copyFile = path.join(sb.root, "old-copy", "key.json");
    mkdirSync(path.dirname(copyFile), { recursive: true, mode: 0o700 });
    writeFileSync(copyFile, oldKeyFile, { mode: 0o600 });
    if (sb.token) {
      expect(await codeOf(openRootFile(sb, copyFile, vaultId))).toBe("HSM_KEY_MISSING");
      return;
    }
    const before = await openRootFile(sb, copyFile, vaultId);
    try {
      const row = old.subjectKeys.find((r) => r.subject_id === victim.id)!;
      expect(
        await before.unwrap(
          row.root_generation,
          old.slots.get(victim.id)!,
          row.wrapped_key,
          subjectAad(vaultId, victim.id, 1),
        ),
      ).toHaveLength(32);
    } finally {
      await before.close();
    }
  });

  it("another process that cached the subject's key cannot decrypt after the shred, even mid-request", async () => {
    const s = await v.subjects.add({ ref: "cached" });
    const data = randomBytes(2000);
    const blob = await v.blobs.put({ subjectId: s.id, kind: "raw", data: [data] });
    const other = await sb.open(); // a second process: its own key cache
    try {
      expect((await collectBytes((await other.blobs.read(blob.id)).stream)).equals(data)).toBe(true);
      // a request in the other process loaded its rows before the shred commits...
      const db = internalsOf(other).meta.db;
      const row = await loadBlob(db, blob.id);
      const subject = await db
        .selectFrom("subjects")
        .selectAll()
        .where("id", "=", s.id)
        .executeTakeFirstOrThrow();
      await v.shredding.request(s.id);
      // ...and its key cache still holds the subject key: the key is re-read on use, and is gone
      expect(await codeOf(openBlob(internalsOf(other), row, subject))).toBe("KEY_UNAVAILABLE");
      expect(await codeOf(other.blobs.read(blob.id))).toBe("SUBJECT_SHREDDED");
    } finally {
      await other.close();
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
    // One slot punctured, no per-blob work in the transaction.
    const d = out.certificate.destroyed;
    if (!("rootGenerationsPunctured" in d)) throw new Error("expected a v2 certificate");
    expect(d.rootGenerationsPunctured).toEqual([1]);
    expect(d.subjectKeyVersions).toEqual([1]);
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
