/**
 * Consent texts over HTTP: a contractor reads the current text, grants by its hash, and a consumer
 * is served; an operator publishes a new version and the consumer is refused on the next request
 * until the contractor agrees to the new words. Request bodies that would hash differently in a
 * browser and on the vault are refused with a stable code.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consentTextHash } from "../../src/access/consent-texts.js";
import { HAVE_AUDIO_TOOLS } from "../support/audio.js";
import { BACKENDS } from "../support/backends.js";
import { call, codeOf, eventsOf, makeWorld, type World } from "./helpers.js";

interface TextVersion {
  purpose: string;
  version: number;
  texts: { lang: string; textHash: string; text: string }[];
}

describe.runIf(HAVE_AUDIO_TOOLS).each(BACKENDS)("consent texts over HTTP ($name)", (backend) => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld(backend, { recordings: 1 });
  });
  afterAll(async () => {
    await w.close();
  });

  it("asks again when a new text is published, and serves consumers only after the new grant", async () => {
    const p = await w.fresh(false, "awb");
    const url = `/v1/derivations/${p.drv.quality!}?purpose=quality-review`;
    const texts = await call(w.app, { method: "GET", url: "/v1/consent-texts", token: p.contractor });
    expect(texts.status, texts.text).toBe(200);
    const current = (texts.json() as { versions: TextVersion[] }).versions.find(
      (v) => v.purpose === "quality-review",
    )!;
    const shown = current.texts[0]!;
    // What the portal does: hash the text it shows, never trust the listed hash alone.
    expect(consentTextHash(shown.text)).toBe(shown.textHash);
    const grant = await call(w.app, {
      method: "PUT",
      url: "/v1/me/consents/quality-review",
      token: p.contractor,
      json: { textHash: consentTextHash(shown.text) },
    });
    expect(grant.status, grant.text).toBe(200);
    expect((await call(w.app, { method: "GET", url, token: w.tok.consumer })).status).toBe(200);

    const newText = "We keep quality metrics of your recordings (duration, noise, loudness) for 90 days.";
    const published = await call(w.app, {
      method: "POST",
      url: "/v1/consent-texts/quality-review",
      token: w.tok.operator,
      json: {
        texts: { en: newText, fr: "Nous gardons les mesures de qualité de vos enregistrements 90 jours." },
      },
    });
    expect(published.status, published.text).toBe(201);
    const out = published.json() as { version: TextVersion; superseded: number };
    expect(out.version.version).toBe(current.version + 1);
    expect(out.superseded).toBeGreaterThanOrEqual(1);

    const denied = await call(w.app, { method: "GET", url, token: w.tok.consumer });
    expect([denied.status, codeOf(denied)]).toEqual([403, "CONSENT_REQUIRED"]);
    const mine = await call(w.app, { method: "GET", url: "/v1/me/consents", token: p.contractor });
    expect((mine.json() as { consents: unknown[] }).consents).toContainEqual(
      expect.objectContaining({
        purpose: "quality-review",
        active: false,
        endedBy: "superseded",
        textVersion: current.version,
        currentVersion: out.version.version,
      }),
    );
    const stale = await call(w.app, {
      method: "PUT",
      url: "/v1/me/consents/quality-review",
      token: p.contractor,
      json: { textHash: shown.textHash },
    });
    expect([stale.status, codeOf(stale)]).toEqual([409, "CONSENT_TEXT_UNKNOWN"]);
    const again = await call(w.app, {
      method: "PUT",
      url: "/v1/me/consents/quality-review",
      token: p.contractor,
      json: { textHash: consentTextHash(newText) },
    });
    expect(again.status, again.text).toBe(200);
    expect((await call(w.app, { method: "GET", url, token: w.tok.consumer })).status).toBe(200);

    const history = await call(w.app, {
      method: "GET",
      url: "/v1/consent-texts/quality-review",
      token: p.contractor,
    });
    expect((history.json() as { versions: TextVersion[] }).versions.map((v) => v.version)).toEqual([
      out.version.version,
      current.version,
    ]);
    const events = await eventsOf(w.vault, "consent.text_published");
    expect(events.at(-1)).toMatchObject({ purpose: "quality-review", version: out.version.version });
  });

  it("refuses bodies a browser would hash differently, with a stable code and nothing published", async () => {
    const before = (await w.vault.access.consentTexts.history("research-aggregates")).length;
    const bad = [
      '{"texts":{"en":"I agree \\ud800"}}', // a lone surrogate survives JSON, not UTF-8
      '{"texts":{"en":"line\\r\\nline"}}',
      '{"texts":{"EN":"consent"}}',
      '{"texts":{}}',
      '{"texts":{"en":"consent"},"version":7}',
    ];
    for (const body of bad) {
      const r = await call(w.app, {
        method: "POST",
        url: "/v1/consent-texts/research-aggregates",
        token: w.tok.operator,
        headers: { "content-type": "application/json" },
        body,
      });
      expect([body, r.status]).toEqual([body, 400]);
      expect(["INVALID_ARGUMENT", "BAD_REQUEST"]).toContain(codeOf(r));
    }
    expect(await w.vault.access.consentTexts.history("research-aggregates")).toHaveLength(before);
  });
});
