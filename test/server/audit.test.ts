import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifySubjectBundle } from "../../src/audit/subject-view.js";
import { PolicyEngine } from "../../src/policy/engine.js";
import { buildServer } from "../../src/server/app.js";
import { parseCheckpoint, parseNote, verifyInclusion, leafHash } from "../../src/tlog/index.js";
import type { Vault } from "../../src/platform/vault.js";
import { BACKENDS, sandbox, type Sandbox } from "../support/backends.js";

describe.each(BACKENDS)("transparency log over HTTP ($name)", (backend) => {
  let sb: Sandbox;
  let v: Vault;
  let app: Awaited<ReturnType<typeof buildServer>>;
  let subjectId: string;
  let contractor: string;
  let auditor: string;
  beforeAll(async () => {
    sb = sandbox(backend);
    v = await sb.init();
    app = await buildServer({ vault: v, engine: await PolicyEngine.load() });
    const op = await v.access.tokens.create({ role: "operator", label: "op" });
    const s = await app.inject({
      method: "POST",
      url: "/v1/subjects",
      payload: { ref: "c-1" },
      headers: { authorization: `Bearer ${op.token}` },
    });
    subjectId = s.json<{ id: string }>().id;
    await app.inject({
      method: "POST",
      url: "/v1/subjects",
      payload: { ref: "c-2" },
      headers: { authorization: `Bearer ${op.token}` },
    });
    contractor = (await v.access.tokens.create({ role: "contractor", subjectId })).token;
    auditor = (await v.access.tokens.create({ role: "auditor", label: "aud" })).token;
  });
  afterAll(async () => {
    await app.close();
    await v.close();
    await sb.cleanup();
  });

  it("serves a signed checkpoint anyone can fetch, and proofs that verify against it", async () => {
    const r = await app.inject({ method: "GET", url: "/checkpoint" });
    expect(r.statusCode).toBe(200);
    expect(r.headers["content-type"]).toMatch(/^text\/plain/);
    const note = parseNote(r.body);
    const cp = parseCheckpoint(note.text);
    expect(cp.origin).toBe(`voxvault.local/${v.id}`);
    expect(cp.size).toBeGreaterThan(3);
    const leaf = await app.inject({
      method: "GET",
      url: "/v1/audit/leaves/1",
      headers: { authorization: `Bearer ${auditor}` },
    });
    const data = Buffer.from(leaf.json<{ data: string }>().data, "base64");
    const proof = await app.inject({
      method: "GET",
      url: `/v1/audit/proof/inclusion?index=1&size=${cp.size}`,
      headers: { authorization: `Bearer ${contractor}` },
    });
    const p = proof.json<{ inclusion: string[]; treeSize: number }>();
    expect(p.treeSize).toBe(cp.size);
    verifyInclusion(
      leafHash(data),
      1,
      cp.size,
      p.inclusion.map((h) => Buffer.from(h, "base64")),
      cp.rootHash,
    );
    expect(() => {
      verifyInclusion(
        leafHash(data),
        2,
        cp.size,
        p.inclusion.map((h) => Buffer.from(h, "base64")),
        cp.rootHash,
      );
    }).toThrow();
  });

  it("gives a contractor every event about them, verifiable client-side with the pinned log key", async () => {
    const key = (await v.log.activeKey()).vkey;
    const r = await app.inject({
      method: "POST",
      url: "/v1/me/audit",
      payload: {},
      headers: { authorization: `Bearer ${contractor}` },
    });
    expect(r.statusCode, r.body).toBe(200);
    const verified = verifySubjectBundle(r.json(), [key]);
    const types = verified.events.map((e) => e.type);
    expect(types).toContain("subject.created");
    expect(types).toContain("token.created");
    // Nothing about the other subject.
    expect(
      verified.events.every(
        (e) => JSON.stringify(e.payload).includes(subjectId) || !JSON.stringify(e.payload).includes("sub_"),
      ),
    ).toBe(true);
    // A consistency proof from an earlier checkpoint links the two views.
    const earlier = (await app.inject({ method: "GET", url: "/checkpoint" })).body;
    await v.subjects.add({ ref: "more" });
    const later = await app.inject({
      method: "POST",
      url: "/v1/me/audit",
      payload: { since: earlier },
      headers: { authorization: `Bearer ${contractor}` },
    });
    const v2 = verifySubjectBundle(later.json(), [key], earlier);
    expect(v2.consistentWith).toBe(parseCheckpoint(parseNote(earlier).text).size);
  });

  it("lets auditors search events, and nobody else", async () => {
    const r = await app.inject({
      method: "GET",
      url: `/v1/audit/events?type=subject.created&limit=1`,
      headers: { authorization: `Bearer ${auditor}` },
    });
    expect(r.statusCode).toBe(200);
    const body = r.json<{ events: { event: { type: string } }[]; next: number | null }>();
    expect(body.events).toHaveLength(1);
    expect(body.events[0]!.event.type).toBe("subject.created");
    expect(body.next).not.toBeNull();
    const denied = await app.inject({
      method: "GET",
      url: "/v1/audit/events",
      headers: { authorization: `Bearer ${contractor}` },
    });
    expect(denied.statusCode).toBe(403);
  });
});
