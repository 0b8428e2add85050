/**
 * After a shred, the subject's rows hold nothing but what the certificate and the audit log need
 * (issue: erasure leaves nothing that re-links a person).
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newId } from "../../src/ids.js";
import type { Vault } from "../../src/platform/vault.js";
import { BACKENDS, sandbox, type Sandbox } from "../support/backends.js";
import { internalsOf } from "../../src/platform/vault.js";

describe.each(BACKENDS)("erasure at shred ($name)", (backend) => {
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

  /** Rows an ingest and the access layer would have written (inserted directly: no audio needed). */
  async function withRecords(subjectId: string, recordings: number): Promise<void> {
    const blob = await v.blobs.put({ subjectId, kind: "quality", data: [randomBytes(64)] });
    const at = new Date().toISOString();
    await internalsOf(v).meta.write(async (trx) => {
      for (let i = 0; i < recordings; i++) {
        const rec = newId("rec");
        await trx
          .insertInto("recordings")
          .values({
            id: rec,
            subject_id: subjectId,
            created_at: at,
            source: "interview.wav",
            duration_ms: 61_000 + i,
          })
          .execute();
        await trx
          .insertInto("derivations")
          .values({
            id: newId("drv"),
            recording_id: rec,
            subject_id: subjectId,
            name: "quality",
            recipe: "quality/1",
            class: "non-reconstructable",
            application: null,
            blob_id: blob.id,
            created_at: at,
            expires_at: null,
          })
          .execute();
      }
    });
  }

  async function count(table: "recordings" | "derivations" | "consents" | "blobs", subjectId: string) {
    const r = await internalsOf(v)
      .meta.db.selectFrom(table)
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("subject_id", "=", subjectId)
      .executeTakeFirstOrThrow();
    return r.n;
  }

  it("erases recordings, derivations, consents, the reference and break-glass reasons; revokes tokens", async () => {
    const s = await v.subjects.add({ ref: "person@example.org" });
    const other = await v.subjects.add({ ref: "other@example.org" });
    await withRecords(s.id, 2500); // more than one erase batch
    await withRecords(other.id, 3);
    const text = await v.access.consentTexts.publish("quality-review", { en: "We keep quality metrics." });
    await v.access.consents.grant(s.id, "quality-review", text.version.texts[0]!.textHash);
    const op = await v.access.tokens.create({ role: "operator", label: "op-1" });
    // a break-glass request as one for retained raw audio would leave it (inserted directly:
    // this vault keeps no raw, so the service would refuse to file one)
    const bg = { id: newId("bgr") };
    await internalsOf(v).meta.write(async (trx) => {
      await trx
        .insertInto("breakglass_requests")
        .values({
          id: bg.id,
          requester_id: op.info.principalId,
          subject_id: s.id,
          material: "raw",
          reason: "Jane Doe called support on 2026-12-01",
          required_approvals: 2,
          status: "pending",
          created_at: new Date().toISOString(),
          granted_until: null,
          used_at: null,
        })
        .execute();
    });
    const contractor = await v.access.tokens.create({ role: "contractor", subjectId: s.id });
    expect(await count("recordings", s.id)).toBe(2500);

    const before = await internalsOf(v)
      .meta.db.selectFrom("subjects")
      .select(["ref_hash", "ref_enc"])
      .where("id", "=", s.id)
      .executeTakeFirstOrThrow();
    const out = await v.shredding.request(s.id);
    if (out.status !== "shredded") throw new Error("expected a shred");
    expect(out.certificate.destroyed).toMatchObject({ recordsErased: { consents: 1, uploads: 0 } });
    expect(await count("recordings", s.id)).toBe(0);
    expect(await count("derivations", s.id)).toBe(0);
    expect(await count("consents", s.id)).toBe(0);
    // the other subject's rows are untouched
    expect(await count("recordings", other.id)).toBe(3);
    const row = await internalsOf(v)
      .meta.db.selectFrom("subjects")
      .selectAll()
      .where("id", "=", s.id)
      .executeTakeFirstOrThrow();
    expect([row.ref_hash, row.ref_enc, row.ref_bucket, row.status]).toEqual([null, null, null, "shredded"]);
    const req = await internalsOf(v)
      .meta.db.selectFrom("breakglass_requests")
      .select("reason")
      .where("id", "=", bg.id)
      .executeTakeFirstOrThrow();
    expect(req.reason).toBe("");
    const tok = await internalsOf(v)
      .meta.db.selectFrom("tokens")
      .select("revoked_at")
      .where("id", "=", contractor.info.id)
      .executeTakeFirstOrThrow();
    expect(tok.revoked_at).not.toBeNull();
    const events = (await v.audit.list({ subjectId: s.id, limit: 100 })).map((e) => e.event);
    expect(events).toContainEqual({
      type: "subject.records_erased",
      subjectId: s.id,
      recordings: 2500,
      derivations: 2500,
    });
    // SQLite: neither the database file nor its WAL still holds the old index entry or sealed reference
    if (backend.name === "sqlite") {
      for (const f of ["meta.sqlite", "meta.sqlite-wal"]) {
        const file = path.join(sb.dataDir, f);
        const bytes = existsSync(file) ? readFileSync(file) : Buffer.alloc(0);
        expect(bytes.indexOf(before.ref_hash!), f).toBe(-1);
        expect(bytes.indexOf(before.ref_enc!.subarray(8, 40)), f).toBe(-1);
      }
    }
    // blob rows and objects go with the sweep
    expect(await count("blobs", s.id)).toBe(1);
    expect((await v.maintenance.run()).blobsRemoved).toBe(1);
    expect(await count("blobs", s.id)).toBe(0);
  });
});
