/**
 * What a refused caller can still learn, and what every read leaves behind:
 * - a consumer learns a subject's consent state only for a purpose it holds;
 * - a consumer application sees the subjects of its own tenant only (reads, verify, datasets);
 * - metadata reads by anyone but the contractor concerned are `access.granted` events that the
 *   contractor sees in its own log view;
 * - JSON bodies are not type-coerced, a body on a route that takes none is refused even when
 *   chunked, and bad transparency-log input from a client is a 400, not a 500.
 */
import { createReadStream } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HAVE_AUDIO_TOOLS } from "../support/audio.js";
import { BACKENDS } from "../support/backends.js";
import {
  call,
  codeOf,
  CONSENT_TEXT_HASH,
  eventsOf,
  makeWorld,
  PURPOSES,
  speechFile,
  type World,
} from "./helpers.js";

describe.runIf(HAVE_AUDIO_TOOLS).each(BACKENDS)("isolation ($name)", (backend) => {
  let w: World;
  /** A consumer of app-a holding quality-review only. */
  let qualityOnly: string;
  /** A consumer of an application in tenant t2 (every purpose). */
  let t2Consumer: string;
  /** A subject of tenant t2, consented to everything, with one recording. */
  let t2Subject: { id: string; quality: string };
  beforeAll(async () => {
    w = await makeWorld(backend, { recordings: 3 });
    const tokens = w.vault.access.tokens;
    qualityOnly = (
      await tokens.create({ role: "consumer", application: "app-a", purposes: ["quality-review"] })
    ).token;
    await w.vault.access.applications.register("app-t2", [...PURPOSES], "t2");
    t2Consumer = (await tokens.create({ role: "consumer", application: "app-t2", purposes: [...PURPOSES] }))
      .token;
    const s = await w.vault.subjects.add({ ref: "tenant-two-contractor", tenant: "t2" });
    for (const p of PURPOSES) await w.vault.access.consents.grant(s.id, p, CONSENT_TEXT_HASH);
    const r = await w.vault.recordings.ingest({
      subjectId: s.id,
      source: createReadStream(speechFile("kal16")) as AsyncIterable<Uint8Array>,
    });
    t2Subject = { id: s.id, quality: r.derivations.find((d) => d.name === "quality")!.id };
  });
  afterAll(async () => {
    await w.close();
  });

  it("gives a consumer the same FORBIDDEN for a purpose it does not hold, consented or not", async () => {
    const read = (drv: string) =>
      call(w.app, {
        method: "GET",
        url: `/v1/derivations/${drv}?purpose=research-aggregates`,
        token: qualityOnly,
      });
    // s1 consented to research-aggregates, s3 did not: the answers must not tell them apart.
    const consented = await read(w.s1.drv["voice-stats"]!);
    const unconsented = await read(w.s3.drv["voice-stats"]!);
    expect([consented.status, codeOf(consented)]).toEqual([403, "FORBIDDEN"]);
    expect([unconsented.status, codeOf(unconsented)]).toEqual([403, "FORBIDDEN"]);
    const verify = async (subjectId: string) =>
      call(w.app, {
        method: "POST",
        url: `/v1/subjects/${subjectId}/verify-speaker?purpose=identity-verification`,
        token: qualityOnly,
        body: Buffer.from("not audio"),
        type: "audio/wav",
      });
    const v1 = await verify(w.s1.id);
    const v3 = await verify(w.s3.id);
    expect([v1.status, codeOf(v1)]).toEqual([403, "FORBIDDEN"]);
    expect([v3.status, codeOf(v3)]).toEqual([403, "FORBIDDEN"]);
    // With the purpose held, missing consent is still said plainly.
    const held = await call(w.app, {
      method: "GET",
      url: `/v1/derivations/${w.s3.drv.quality!}?purpose=quality-review`,
      token: qualityOnly,
    });
    expect([held.status, codeOf(held)]).toEqual([403, "CONSENT_REQUIRED"]);
  });

  it("confines a consumer application to its tenant", async () => {
    const other = await call(w.app, {
      method: "GET",
      url: `/v1/derivations/${w.s1.drv.quality!}?purpose=quality-review`,
      token: t2Consumer,
    });
    expect([other.status, codeOf(other)]).toEqual([403, "FORBIDDEN"]);
    const own = await call(w.app, {
      method: "GET",
      url: `/v1/derivations/${t2Subject.quality}?purpose=quality-review`,
      token: t2Consumer,
    });
    expect(own.status, own.text).toBe(200);
    // And the other way round: app-a (tenant default) cannot read the t2 subject.
    const across = await call(w.app, {
      method: "GET",
      url: `/v1/derivations/${t2Subject.quality}?purpose=quality-review`,
      token: w.tok.consumer,
    });
    expect(across.status).toBe(403);
    const pull = async (token: string) =>
      (
        (
          await call(w.app, { method: "GET", url: "/v1/datasets/quality-review?limit=100", token })
        ).json() as {
          items: { derivationId: string }[];
        }
      ).items.map((i) => i.derivationId);
    expect(await pull(t2Consumer)).toEqual([t2Subject.quality]);
    const defaultItems = await pull(w.tok.consumer);
    expect(defaultItems).toContain(w.s1.drv.quality);
    expect(defaultItems).not.toContain(t2Subject.quality);
    const verify = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${w.s1.id}/verify-speaker?purpose=identity-verification`,
      token: t2Consumer,
      body: Buffer.from("not audio"),
      type: "audio/wav",
    });
    expect([verify.status, codeOf(verify)]).toEqual([403, "FORBIDDEN"]);
  });

  it("records metadata reads as access.granted events, visible to the contractor concerned", async () => {
    const p = await w.fresh(true);
    const before = (await eventsOf(w.vault, "access.granted")).length;
    for (const url of [
      `/v1/subjects/${p.id}`,
      `/v1/subjects/${p.id}/consents`,
      `/v1/subjects/${p.id}/recordings`,
      `/v1/subjects/${p.id}/derivations`,
    ]) {
      const r = await call(w.app, { method: "GET", url, token: w.tok.operator });
      expect(r.status, `${url}: ${r.text}`).toBe(200);
    }
    const events = (await eventsOf(w.vault, "access.granted")).slice(before);
    expect(events.map((e) => [e.action, e.subjectId])).toEqual([
      ["subject.read", p.id],
      ["consent.read", p.id],
      ["recording.list", p.id],
      ["derivation.list", p.id],
    ]);
    // The contractor sees them in its own log view; reading it is not itself an access event.
    const mine = await call(w.app, { method: "POST", url: "/v1/me/audit", token: p.contractor, json: {} });
    expect(mine.status, mine.text).toBe(200);
    const types = (mine.json() as { events: { record: string }[] }).events.map(
      (e) => (JSON.parse(e.record) as { type: string }).type,
    );
    expect(types.filter((t) => t === "access.granted")).toHaveLength(4);
    const own = await call(w.app, { method: "GET", url: "/v1/me/consents", token: p.contractor });
    expect(own.status).toBe(200);
    expect((await eventsOf(w.vault, "access.granted")).length).toBe(before + 4);
    // Log reads by auditors are recorded too (no subject).
    const log = await call(w.app, { method: "GET", url: "/v1/audit/events", token: w.tok.auditor });
    expect(log.status, log.text).toBe(200);
    const last = (await eventsOf(w.vault, "access.granted")).at(-1)!;
    expect([last.action, last.subjectId]).toEqual(["audit.read", undefined]);
  });

  it("shows no consents of a shredded subject (SUBJECT_SHREDDED; during the window: none active)", async () => {
    const p = await w.fresh(true);
    expect((await w.vault.access.consents.list(p.id)).every((c) => c.active)).toBe(true);
    const out = await w.vault.shredding.request(p.id);
    expect(out.status).toBe("shredded");
    await expect(w.vault.access.consents.list(p.id)).rejects.toMatchObject({ code: "SUBJECT_SHREDDED" });
    // The rows went with the shred; the audit log keeps what was agreed to and when.
    const events = await w.vault.audit.list({ subjectId: p.id });
    expect(events.filter((e) => e.event.type === "consent.granted").length).toBe(PURPOSES.length);
  });

  it("refuses JSON bodies that only pass by type coercion, and bodies on routes that take none", async () => {
    const coerced = await call(w.app, {
      method: "POST",
      url: "/v1/subjects",
      token: w.tok.operator,
      json: { ref: true },
    });
    expect([coerced.status, codeOf(coerced)]).toEqual([400, "BAD_REQUEST"]);
    const fine = await call(w.app, {
      method: "POST",
      url: "/v1/subjects",
      token: w.tok.operator,
      json: { ref: "typed-correctly" },
    });
    expect(fine.status, fine.text).toBe(201);
    const chunked = await call(w.app, {
      method: "GET",
      url: "/v1/subjects",
      token: w.tok.operator,
      headers: { "transfer-encoding": "chunked", "content-type": "application/json" },
      body: '{"a":1}',
    });
    expect([chunked.status, codeOf(chunked)]).toEqual([415, "UNSUPPORTED_MEDIA_TYPE"]);
  });

  it("answers a malformed checkpoint from a client with 400", async () => {
    const r = await call(w.app, {
      method: "POST",
      url: "/v1/me/audit",
      token: w.s1.contractor,
      json: { since: "garbage" },
    });
    expect([r.status, codeOf(r)]).toEqual([400, "NOTE_INVALID"]);
  });
});
