/**
 * A contractor's erasure from start to certificate: asking for it returns a receipt (shown once;
 * the vault keeps only its hash), the contractor can cancel within the soft-delete window, and
 * after the shred — when their session is gone — the receipt fetches the signed certificate, which
 * verifies under the key the vault publishes at GET /v1/keys. The same route publishes the log's
 * verifier key, under which the served checkpoint verifies.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromBase64 } from "../../src/crypto/bytes.js";
import { internalsOf } from "../../src/platform/vault.js";
import { openNote, parseVerifierKey } from "../../src/tlog/index.js";
import { verifyCertificate } from "../../src/vault/certificates.js";
import { HAVE_AUDIO_TOOLS } from "../support/audio.js";
import { BACKENDS } from "../support/backends.js";
import { call, codeOf, makeWorld, type World } from "./helpers.js";

interface Keys {
  log: { origin: string; keys: { vkey: string; status: string }[]; witnesses: unknown[] };
  deletionCertificates: { keyId: string; publicKey: string; status: string }[];
}

describe.runIf(HAVE_AUDIO_TOOLS).each(BACKENDS)("deletion receipts ($name)", (backend) => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld(backend, { softDeleteWindow: "1d" });
  });
  afterAll(async () => {
    await w.close();
  });
  const byReceipt = (receipt: string) =>
    call(w.app, { method: "POST", url: "/v1/deletion-certificate", json: { receipt } });

  it("schedules, cancels, schedules again, and after the shred gives the certificate to the receipt", async () => {
    const p = await w.fresh(true);
    const asked = await call(w.app, { method: "DELETE", url: "/v1/me", token: p.contractor });
    expect(asked.status, asked.text).toBe(202);
    const first = asked.json() as { status: string; shredAfter: string; receipt: string };
    expect(first.status).toBe("scheduled");
    expect(first.receipt).toMatch(/^vvr_[A-Za-z0-9_-]{43}$/);
    expect((await byReceipt(first.receipt)).json()).toEqual({
      status: "scheduled",
      shredAfter: first.shredAfter,
    });

    // Only a hash is kept: no stored value holds the secret.
    const rows = await internalsOf(w.vault)
      .meta.db.selectFrom("deletion_receipts")
      .selectAll()
      .where("subject_id", "=", p.id)
      .execute();
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(first.receipt.slice(4, 20));

    const cancelled = await call(w.app, {
      method: "POST",
      url: "/v1/me/cancel-erasure",
      token: p.contractor,
    });
    expect(cancelled.status, cancelled.text).toBe(200);
    expect(cancelled.json()).toMatchObject({ id: p.id, status: "active" });
    expect((await byReceipt(first.receipt)).json()).toEqual({ status: "cancelled" });
    const twice = await call(w.app, { method: "POST", url: "/v1/me/cancel-erasure", token: p.contractor });
    expect([twice.status, codeOf(twice)]).toEqual([409, "SHRED_NOT_PENDING"]);

    const again = await call(w.app, { method: "DELETE", url: "/v1/me", token: p.contractor });
    const second = again.json() as { receipt: string };
    expect(second.receipt).not.toBe(first.receipt);
    w.clock.advance(86_400_000 + 1000);
    try {
      const certs = await w.vault.shredding.runDue();
      expect(certs.map((c) => c.subjectId)).toContain(p.id);
    } finally {
      w.clock.advance(-(86_400_000 + 1000));
    }
    // The session is gone with the subject; the receipt still works.
    const me = await call(w.app, { method: "GET", url: "/v1/me", token: p.contractor });
    expect(me.status).toBe(401);
    const done = await byReceipt(second.receipt);
    expect(done.status, done.text).toBe(200);
    const body = done.json() as { status: string; certificate: { subjectId: string } };
    expect(body.status).toBe("shredded");
    expect(body.certificate.subjectId).toBe(p.id);
    // Both receipts name the same erasure.
    expect((await byReceipt(first.receipt)).json()).toEqual(body);

    const keys = (await call(w.app, { method: "GET", url: "/v1/keys" })).json() as Keys;
    const trusted = keys.deletionCertificates.map((k) => fromBase64(k.publicKey));
    expect(verifyCertificate(body.certificate, trusted).subjectId).toBe(p.id);
    const forged = { ...body.certificate, subjectId: "sub_forged" };
    expect(() => verifyCertificate(forged, trusted)).toThrow(/does not verify/);
  });

  it("gives the certificate and a receipt at once when the shred is immediate", async () => {
    const p = await w.fresh(false);
    const out = await w.vault.shredding.request(p.id, { immediate: true, receipt: true });
    if (out.status !== "shredded" || out.receipt === undefined)
      throw new Error("expected a shred with receipt");
    const again = (await byReceipt(out.receipt)).json() as { certificate: { certificateId: string } };
    expect(again.certificate.certificateId).toBe(out.certificate.certificateId);
  });

  it("lets an operator cancel a scheduled shred, and nobody else's contractor", async () => {
    const p = await w.fresh(true);
    const other = await w.fresh(true);
    await w.vault.shredding.request(p.id);
    const foreign = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${p.id}/cancel-shred`,
      token: other.contractor,
    });
    expect(foreign.status).toBe(404);
    const op = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${p.id}/cancel-shred`,
      token: w.tok.operator,
    });
    expect(op.status, op.text).toBe(200);
    expect((await w.vault.subjects.get(p.id)).status).toBe("active");
  });

  it("answers an unknown or malformed receipt as a failed authentication", async () => {
    for (const receipt of [`vvr_${"A".repeat(43)}`, "vvs_not-a-receipt-at-all", `vvr_${"A".repeat(42)}!`]) {
      const r = await byReceipt(receipt);
      expect([receipt, r.status, codeOf(r)]).toEqual([receipt, 401, "UNAUTHENTICATED"]);
    }
  });

  it("publishes the log's verifier key, under which the served checkpoint verifies", async () => {
    const keys = (await call(w.app, { method: "GET", url: "/v1/keys" })).json() as Keys;
    const active = keys.log.keys.filter((k) => k.status === "active");
    expect(active.map((k) => k.vkey)).toEqual([(await w.vault.log.activeKey()).vkey]);
    expect(keys.log.origin).toBe(await w.vault.log.origin());
    const note = (await call(w.app, { method: "GET", url: "/checkpoint" })).text;
    const opened = openNote(note, [parseVerifierKey(active[0]!.vkey)]);
    expect(opened.verified.length).toBeGreaterThan(0);
  });
});
