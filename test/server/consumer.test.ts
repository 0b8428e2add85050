/**
 * Consumers: derivation reads bound to a declared purpose and live consent (revocation counts on
 * the next request), and dataset pulls that return only consented subjects, only the purpose's
 * derivations, under per-application pseudonyms, page by page.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Vault } from "../../src/platform/vault.js";
import { HAVE_AUDIO_TOOLS } from "../support/audio.js";
import { BACKENDS, collectBytes } from "../support/backends.js";
import { absentId, call, codeOf, CONSENT_TEXT_HASH, eventsOf, makeWorld, type World } from "./helpers.js";

interface Item {
  pseudonym: string;
  derivationId: string;
  name: string;
  recipe: { name: string };
  createdAt: string;
  content: string;
}
interface Page {
  purpose: string;
  items: Item[];
  next: string | null;
}

/** What the vault itself holds for a derivation (read through the library, not the API). */
async function stored(vault: Vault, subjectId: string, derivationId: string): Promise<Buffer> {
  const d = (await vault.recordings.derivations({ subjectId })).find((x) => x.id === derivationId)!;
  return collectBytes((await vault.blobs.read(d.blobId)).stream);
}

/** Every derivation of `names` whose subject consents to `purpose` now: what a pull must return. */
async function expectedItems(vault: Vault, purpose: string, names: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const s of await vault.subjects.list({ limit: 1000, status: "active" })) {
    const active = (await vault.access.consents.list(s.id)).some((c) => c.purpose === purpose && c.active);
    if (!active) continue;
    for (const d of await vault.recordings.derivations({ subjectId: s.id }))
      if (names.includes(d.name)) out.push(d.id);
  }
  return out.sort();
}

/** Derivation id → subject id, for every derivation in the vault. */
async function subjectsOf(vault: Vault): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const s of await vault.subjects.list({ limit: 1000 })) {
    for (const d of await vault.recordings.derivations({ subjectId: s.id })) out.set(d.id, s.id);
  }
  return out;
}

describe.runIf(HAVE_AUDIO_TOOLS).each(BACKENDS)("consumers ($name)", (backend) => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld(backend, { reconstructable: true, recordings: 3 });
  });
  afterAll(async () => {
    await w.close();
  });

  const pull = async (token: string, purpose: string, query = ""): Promise<Page> => {
    const r = await call(w.app, { method: "GET", url: `/v1/datasets/${purpose}${query}`, token });
    expect(r.status, r.text).toBe(200);
    return r.json() as Page;
  };
  const pullAll = async (token: string, purpose: string, limit = 100): Promise<Item[]> => {
    const items: Item[] = [];
    let after: string | null = null;
    for (;;) {
      const page: Page = await pull(token, purpose, `?limit=${limit}${after ? `&after=${after}` : ""}`);
      items.push(...page.items);
      if (!page.next) return items;
      after = page.next;
    }
  };

  it("streams a derivation's bytes to a consumer that declares a consented purpose, and audits it", async () => {
    const id = w.s2.drv.quality!;
    const r = await call(w.app, {
      method: "GET",
      url: `/v1/derivations/${id}?purpose=quality-review`,
      token: w.tok.consumer,
    });
    expect(r.status, r.text).toBe(200);
    expect(r.headers["content-type"]).toMatch(/^application\/json/);
    expect(r.headers["cache-control"]).toBe("no-store");
    expect(r.headers["x-content-type-options"]).toBe("nosniff");
    expect(r.raw.equals(await stored(w.vault, w.s2.id, id))).toBe(true);
    expect(JSON.parse(r.text)).toHaveProperty("durationMilliSec");
    const served = (await eventsOf(w.vault, "derivation.served")).filter((e) => e.derivationId === id);
    expect(served.at(-1)).toMatchObject({
      subjectId: w.s2.id,
      name: "quality",
      purpose: "quality-review",
      bytes: r.raw.length,
    });
    // Without a declared purpose nothing is served (400: the parameter is missing).
    const bare = await call(w.app, { method: "GET", url: `/v1/derivations/${id}`, token: w.tok.consumer });
    expect([bare.status, codeOf(bare)]).toEqual([400, "BAD_REQUEST"]);
    // The contractor reads its own the same way.
    const own = await call(w.app, {
      method: "GET",
      url: `/v1/derivations/${w.s1.drv["voice-stats"]!}`,
      token: w.s1.contractor,
    });
    expect(own.status).toBe(200);
    expect(own.raw.equals(await stored(w.vault, w.s1.id, w.s1.drv["voice-stats"]!))).toBe(true);
  });

  it("denies a consumer on the next request after the subject revokes consent", async () => {
    const p = await w.fresh(true, "awb");
    const url = `/v1/derivations/${p.drv.quality!}?purpose=quality-review`;
    expect((await call(w.app, { method: "GET", url, token: w.tok.consumer })).status).toBe(200);
    const before = (await pull(w.tok.consumer, "quality-review")).items.map((i) => i.derivationId);
    expect(before).toContain(p.drv.quality);
    const revoke = await call(w.app, {
      method: "DELETE",
      url: "/v1/me/consents/quality-review",
      token: p.contractor,
    });
    expect(revoke.status, revoke.text).toBe(200);
    expect(revoke.json()).toMatchObject({ purpose: "quality-review", active: false });
    const denied = await call(w.app, { method: "GET", url, token: w.tok.consumer });
    expect([denied.status, codeOf(denied)]).toEqual([403, "CONSENT_REQUIRED"]);
    expect((await pull(w.tok.consumer, "quality-review")).items.map((i) => i.derivationId)).not.toContain(
      p.drv.quality,
    );
    // Consent is per purpose: the others still hold.
    const stats = await call(w.app, {
      method: "GET",
      url: `/v1/derivations/${p.drv["voice-stats"]!}?purpose=research-aggregates`,
      token: w.tok.consumer,
    });
    expect(stats.status).toBe(200);
    const grant = await call(w.app, {
      method: "PUT",
      url: "/v1/me/consents/quality-review",
      token: p.contractor,
      json: { textHash: CONSENT_TEXT_HASH },
    });
    expect(grant.json()).toMatchObject({ active: true, textHash: CONSENT_TEXT_HASH, revokedAt: null });
    expect((await call(w.app, { method: "GET", url, token: w.tok.consumer })).status).toBe(200);
    const events = (await eventsOf(w.vault, "access.denied")).filter((e) => e.subjectId === p.id);
    expect(events).toContainEqual(expect.objectContaining({ action: "derivation.read" }));
  });

  it("answers a contractor asking for another subject's derivation exactly as for an absent one", async () => {
    const strip = (r: Awaited<ReturnType<typeof call>>, id: string) => {
      const { code, message } = (r.json() as { error: { code: string; message: string } }).error;
      return [r.status, code, message.replace(id, "<id>")];
    };
    const other = await call(w.app, {
      method: "GET",
      url: `/v1/derivations/${w.s2.drv.quality!}`,
      token: w.s1.contractor,
    });
    const absent = await call(w.app, {
      method: "GET",
      url: `/v1/derivations/${absentId("drv")}`,
      token: w.s1.contractor,
    });
    expect(strip(other, w.s2.drv.quality!)).toEqual(strip(absent, absentId("drv")));
    expect(other.status).toBe(404);
  });

  it("pulls only consented subjects and only the purpose's derivations, never reconstructable material", async () => {
    for (const [purpose, names] of [
      ["quality-review", ["quality"]],
      ["research-aggregates", ["voice-stats"]],
    ] as const) {
      const items = await pullAll(w.tok.consumer, purpose);
      expect(items.map((i) => i.derivationId).sort(), purpose).toEqual(
        await expectedItems(w.vault, purpose, names),
      );
      expect(items.length).toBeGreaterThanOrEqual(2);
      expect(new Set(items.map((i) => i.name))).toEqual(new Set(names));
      expect(items.map((i) => i.derivationId)).not.toContain(w.s3.drv[names[0]]);
      const owners = await subjectsOf(w.vault);
      for (const i of items) {
        expect(
          Buffer.from(i.content, "base64").equals(
            await stored(w.vault, owners.get(i.derivationId)!, i.derivationId),
          ),
        ).toBe(true);
      }
    }
    // asr-training maps to frames (kept here, consented by s1 and s2): still nothing leaves.
    expect(w.s1.drv.frames).toBeDefined();
    const asr = await pull(w.tok.consumer, "asr-training");
    expect(asr.items).toEqual([]);
    // identity-verification: the vault's own templates (application "vault") are never handed out.
    const vaultTemplates = [w.s1.drv["speaker-template"], w.s2.drv["speaker-template"]].filter(
      (d) => d !== undefined,
    );
    expect(vaultTemplates.length).toBe(2);
    for (const i of await pullAll(w.tok.consumer, "identity-verification")) {
      expect(i.name).toBe("speaker-template");
      expect(vaultTemplates).not.toContain(i.derivationId);
    }
    // A purpose outside the token's scope, or a mismatched one, is refused.
    const narrow = (
      await w.vault.access.tokens.create({
        role: "consumer",
        application: "app-a",
        purposes: ["research-aggregates"],
      })
    ).token;
    expect(
      (await call(w.app, { method: "GET", url: "/v1/datasets/quality-review", token: narrow })).status,
    ).toBe(403);
    const mismatch = await call(w.app, {
      method: "GET",
      url: "/v1/datasets/quality-review?purpose=research-aggregates",
      token: w.tok.consumer,
    });
    expect(mismatch.status).toBe(400);
    const unknown = await call(w.app, {
      method: "GET",
      url: "/v1/datasets/no-such-purpose",
      token: w.tok.consumer,
    });
    expect(unknown.status).toBe(400);
  });

  it("names subjects by per-application pseudonyms that differ between applications and never equal vault ids", async () => {
    const a = await pullAll(w.tok.consumer, "quality-review");
    const b = await pullAll(w.tok.consumerB, "quality-review");
    const aStats = await pullAll(w.tok.consumer, "research-aggregates");
    const subjectOf = await subjectsOf(w.vault);
    const byA = new Map(a.map((i) => [i.derivationId, i.pseudonym]));
    const byB = new Map(b.map((i) => [i.derivationId, i.pseudonym]));
    expect([...byA.keys()].sort()).toEqual([...byB.keys()].sort());
    const pseudonymsA = new Map<string, string>();
    for (const [drv, pA] of byA) {
      const subject = subjectOf.get(drv)!;
      const pB = byB.get(drv)!;
      expect(pA).toMatch(/^psn_[0-9a-hjkmnp-tv-z]{26}$/);
      expect(pA).not.toBe(pB);
      for (const p of [pA, pB]) {
        expect(p).not.toBe(subject);
        expect(p.slice(4)).not.toBe(subject.slice(4));
      }
      pseudonymsA.set(subject, pA);
    }
    // One subject, one pseudonym per application (across purposes); different subjects, different ones.
    expect(new Set(pseudonymsA.values()).size).toBe(pseudonymsA.size);
    for (const i of aStats) {
      const s = subjectOf.get(i.derivationId)!;
      if (pseudonymsA.has(s)) expect(i.pseudonym).toBe(pseudonymsA.get(s));
    }
    // Stable across pulls; no vault subject id anywhere in what a consumer receives.
    expect(await pullAll(w.tok.consumer, "quality-review")).toEqual(a);
    const text = (
      await call(w.app, { method: "GET", url: "/v1/datasets/quality-review", token: w.tok.consumer })
    ).text;
    expect(text).not.toMatch(/sub_[0-9a-z]{26}/);
  });

  it("pages through a dataset without gaps or repeats", async () => {
    const all = await pullAll(w.tok.consumer, "quality-review", 100);
    const paged = await pullAll(w.tok.consumer, "quality-review", 1);
    expect(paged.map((i) => i.derivationId)).toEqual(all.map((i) => i.derivationId));
    expect(new Set(paged.map((i) => i.derivationId)).size).toBe(paged.length);
    expect([...paged.map((i) => i.derivationId)].sort()).toEqual(paged.map((i) => i.derivationId));
    const first = await pull(w.tok.consumer, "quality-review", "?limit=1");
    expect(first.items).toHaveLength(1);
    expect(first.next).toBe(first.items[0]!.derivationId);
    const rest = await pull(w.tok.consumer, "quality-review", `?limit=100&after=${first.next!}`);
    expect(rest.items.map((i) => i.derivationId)).toEqual(all.slice(1).map((i) => i.derivationId));
    expect(rest.next).toBeNull();
    expect(
      (
        await call(w.app, {
          method: "GET",
          url: "/v1/datasets/quality-review?limit=101",
          token: w.tok.consumer,
        })
      ).status,
    ).toBe(400);
  });
});
