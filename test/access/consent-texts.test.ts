/**
 * Consent texts (src/access/consent-texts.ts): stored, versioned and hashed per purpose; a grant
 * must cite a text of the purpose's current version; a new version supersedes every live grant in
 * the transaction that publishes it; texts that a browser could hash or show differently from the
 * vault are refused. Run on every metadata backend.
 */
import { createHash } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consentTextHash, MAX_TEXT_BYTES } from "../../src/access/consent-texts.js";
import { newId } from "../../src/ids.js";
import { internalsOf, type Vault } from "../../src/platform/vault.js";
import { BACKENDS, codeOf, sandbox, type Sandbox } from "../support/backends.js";

const events = async (v: Vault, type: string) =>
  (await v.audit.list({ type, limit: 10_000 })).map((e) => ({ seq: e.seq, ...(e.event as object) }));

describe("consent text hashes", () => {
  it("are the hex SHA-256 of the text's UTF-8 bytes (cross-checked with node:crypto)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 200 }), (text) => {
        expect(consentTextHash(text)).toBe(
          createHash("sha256").update(Buffer.from(text, "utf8")).digest("hex"),
        );
      }),
    );
    expect(consentTextHash("Zustimmung: Stimme ü 😀")).toBe(
      createHash("sha256").update("Zustimmung: Stimme ü 😀", "utf8").digest("hex"),
    );
  });
});

describe.each(BACKENDS)("consent texts ($name)", (backend) => {
  let sb: Sandbox;
  let v: Vault;
  beforeAll(async () => {
    sb = sandbox(backend);
    v = await sb.init();
  });
  afterAll(async () => {
    await v.close();
    await sb.cleanup();
  });

  const consentRows = (subjectId: string) =>
    internalsOf(v)
      .meta.db.selectFrom("consents")
      .selectAll()
      .where("subject_id", "=", subjectId)
      .orderBy("granted_at")
      .execute();

  it("refuses a grant for a purpose with no published text, and stores nothing", async () => {
    const s = await v.subjects.add({ ref: "no-text@example.org" });
    const hash = consentTextHash("a text nobody published");
    expect(await codeOf(v.access.consents.grant(s.id, "research-aggregates", hash))).toBe(
      "CONSENT_TEXT_UNKNOWN",
    );
    expect(await consentRows(s.id)).toEqual([]);
    expect(await v.access.consentActive(s.id, "research-aggregates")).toBe(false);
    const state = (await v.access.consents.list(s.id)).find((c) => c.purpose === "research-aggregates");
    expect(state).toMatchObject({ active: false, currentVersion: null, textVersion: null, endedBy: null });
  });

  it("takes a grant of any language of the current version; a new version asks everyone again", async () => {
    const en = "We keep your recording's quality metrics for 30 days.";
    const de = "Wir speichern die Qualitätswerte Ihrer Aufnahme 30 Tage lang.";
    const v1 = await v.access.consentTexts.publish("quality-review", { en, de });
    expect(v1.version).toMatchObject({ purpose: "quality-review", version: 1 });
    expect(v1.version.texts.map((t) => [t.lang, t.textHash])).toEqual([
      ["de", consentTextHash(de)],
      ["en", consentTextHash(en)],
    ]);

    const a = await v.subjects.add({ ref: "a@example.org" });
    const b = await v.subjects.add({ ref: "b@example.org" });
    const granted = await v.access.consents.grant(a.id, "quality-review", consentTextHash(de));
    expect(granted).toMatchObject({ active: true, textVersion: 1, currentVersion: 1, endedBy: null });
    await v.access.consents.grant(b.id, "quality-review", consentTextHash(en));
    const grantEvent = (await events(v, "consent.granted")).find(
      (e) => "subjectId" in e && e.subjectId === a.id,
    );
    expect(grantEvent).toMatchObject({ purpose: "quality-review", textVersion: 1, lang: "de" });

    const en2 = "We keep your recording's quality metrics for 90 days.";
    const v2 = await v.access.consentTexts.publish("quality-review", { en: en2 });
    expect(v2.version.version).toBe(2);
    expect(v2.superseded).toBe(2);
    expect(await v.access.consentActive(a.id, "quality-review")).toBe(false);
    expect(await v.access.consentActive(b.id, "quality-review")).toBe(false);
    const state = (await v.access.consents.list(a.id)).find((c) => c.purpose === "quality-review");
    expect(state).toMatchObject({
      active: false,
      endedBy: "superseded",
      textVersion: 1,
      currentVersion: 2,
      textHash: consentTextHash(de),
    });
    // The publication and the end of both grants are one transaction, one event.
    const published = (await events(v, "consent.text_published")).filter(
      (e) => e.seq > (grantEvent?.seq ?? 0),
    );
    expect(published).toEqual([
      expect.objectContaining({
        purpose: "quality-review",
        version: 2,
        texts: [{ lang: "en", textHash: consentTextHash(en2) }],
        superseded: 2,
      }),
    ]);

    // An old version's text no longer grants anything; the new one does.
    expect(await codeOf(v.access.consents.grant(a.id, "quality-review", consentTextHash(en)))).toBe(
      "CONSENT_TEXT_UNKNOWN",
    );
    expect(await v.access.consentActive(a.id, "quality-review")).toBe(false);
    await v.access.consents.grant(a.id, "quality-review", consentTextHash(en2));
    expect(await v.access.consentActive(a.id, "quality-review")).toBe(true);
    const revoked = await v.access.consents.revoke(a.id, "quality-review");
    expect(revoked).toMatchObject({ active: false, endedBy: "revoked", textVersion: 2, currentVersion: 2 });
    expect((await consentRows(a.id)).map((r) => r.ended_by)).toEqual(["superseded", "revoked"]);

    const history = await v.access.consentTexts.history("quality-review");
    expect(history.map((h) => [h.version, h.texts.map((t) => t.lang)])).toEqual([
      [2, ["en"]],
      [1, ["de", "en"]],
    ]);
    expect((await v.access.consentTexts.current()).map((c) => [c.purpose, c.version])).toContainEqual([
      "quality-review",
      2,
    ]);
  });

  it("a grant replaced by a new grant is not counted twice and is marked replaced", async () => {
    const text = "Utterance-level statistics of your voice, for research.";
    await v.access.consentTexts.publish("research-aggregates", { en: text });
    const s = await v.subjects.add({ ref: "twice@example.org" });
    await v.access.consents.grant(s.id, "research-aggregates", consentTextHash(text));
    await v.access.consents.grant(s.id, "research-aggregates", consentTextHash(text));
    const rows = await consentRows(s.id);
    expect(rows.map((r) => [r.revoked_at === null, r.ended_by])).toEqual([
      [false, "replaced"],
      [true, null],
    ]);
  });

  it("a grant from before stored texts stays active until the purpose's first text supersedes it", async () => {
    const s = await v.subjects.add({ ref: "legacy@example.org" });
    await internalsOf(v).meta.write((trx) =>
      trx
        .insertInto("consents")
        .values({
          id: newId("cns"),
          subject_id: s.id,
          purpose: "identity-verification",
          text_hash: "b".repeat(64),
          granted_at: new Date().toISOString(),
          revoked_at: null,
          ended_by: null,
        })
        .execute(),
    );
    expect(await v.access.consentActive(s.id, "identity-verification")).toBe(true);
    const before = (await v.access.consents.list(s.id)).find((c) => c.purpose === "identity-verification");
    expect(before).toMatchObject({ active: true, textVersion: null, currentVersion: null });
    const out = await v.access.consentTexts.publish("identity-verification", { en: "We check it is you." });
    expect(out.superseded).toBeGreaterThanOrEqual(1);
    expect(await v.access.consentActive(s.id, "identity-verification")).toBe(false);
  });

  it("refuses texts a browser could hash or show differently, and republishing a text", async () => {
    const bad: [string, Record<string, string>][] = [
      ["lone surrogate", { en: "consent \ud800 text" }],
      ["carriage return", { en: "line one\r\nline two" }],
      ["bidi override", { en: "I agree \u202e to nothing" }],
      ["NUL", { en: "consent\u0000" }],
      ["blank", { en: "  \n " }],
      ["bad language tag", { EN_us: "consent" }],
      ["too large", { en: "x".repeat(MAX_TEXT_BYTES + 1) }],
      ["same text twice", { en: "same words", fr: "same words" }],
      ["no text", {}],
    ];
    for (const [why, texts] of bad) {
      expect([why, await codeOf(v.access.consentTexts.publish("asr-training", texts))]).toEqual([
        why,
        "INVALID_ARGUMENT",
      ]);
    }
    expect(await codeOf(v.access.consentTexts.publish("no-such-purpose", { en: "x" }))).toBe(
      "INVALID_ARGUMENT",
    );
    expect(await v.access.consentTexts.history("asr-training")).toEqual([]);

    const ok = "Frames of your speech for speech-recognition training.\n\tTabs and new lines are fine.";
    await v.access.consentTexts.publish("asr-training", { en: ok });
    expect(await codeOf(v.access.consentTexts.publish("asr-training", { en: ok }))).toBe("CONFLICT");
    expect((await v.access.consentTexts.history("asr-training")).map((h) => h.version)).toEqual([1]);
  });
});
