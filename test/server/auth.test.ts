/**
 * Authentication and identity over HTTP: every kind of bad token is a 401, enrolment links become
 * contractor sessions exactly once, the API cannot mint privileged roles, and a contractor asking
 * about someone else learns nothing (404, not 403) while the denial is still audited.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKENDS, sandbox } from "../support/backends.js";
import { absentId, call, codeOf, eventsOf, makeWorld, PUBLIC_URL, type World } from "./helpers.js";

describe.each(BACKENDS)("authentication ($name)", (backend) => {
  let w: World;
  let foreign: string;
  beforeAll(async () => {
    w = await makeWorld(backend);
    // A live admin token of another vault: well-formed, valid there, unknown here.
    const other = sandbox(backend);
    const v = await other.init();
    foreign = (await v.access.tokens.create({ role: "admin", label: "elsewhere" })).token;
    await v.close();
    await other.cleanup();
  });
  afterAll(async () => {
    await w.close();
  });

  const list = (token: string | undefined, extra: Record<string, string> = {}) =>
    call(w.app, { method: "GET", url: "/v1/subjects", token, headers: extra });

  it("accepts a live token and records its last use", async () => {
    const made = await w.vault.access.tokens.create({ role: "operator", label: "fresh-op" });
    expect(made.token).toMatch(/^vvt_[0-9a-hjkmnp-tv-z]{26}_[A-Za-z0-9_-]{43}$/);
    expect((await list(made.token)).status).toBe(200);
    const info = (await w.vault.access.tokens.list()).find((t) => t.id === made.info.id)!;
    expect(info.lastUsedAt).not.toBeNull();
    expect(info.useCount).toBe(1);
  });

  it("refuses missing, malformed, unknown, foreign-vault, expired and revoked tokens with 401", async () => {
    const good = w.tok.operator;
    const flipped = good.slice(0, -1) + (good.endsWith("A") ? "B" : "A");
    const expiring = await w.vault.access.tokens.create({
      role: "operator",
      label: "short-lived",
      ttlMs: 60_000,
    });
    const revoked = await w.vault.access.tokens.create({ role: "operator", label: "to-be-revoked" });
    expect((await list(expiring.token)).status).toBe(200);
    expect((await list(revoked.token)).status).toBe(200);
    const rv = await call(w.app, {
      method: "DELETE",
      url: `/v1/admin/tokens/${revoked.info.id}`,
      token: w.tok.admin,
    });
    expect(rv.status).toBe(200);
    expect((rv.json() as { revokedAt: string | null }).revokedAt).not.toBeNull();
    w.clock.advance(61_000);
    const cases: [string, Awaited<ReturnType<typeof list>>][] = [
      ["no header", await list(undefined)],
      ["basic auth", await list(undefined, { authorization: "Basic b3A6cGFzcw==" })],
      ["bearer without token", await list(undefined, { authorization: "Bearer " })],
      ["garbage", await list("not-a-token")],
      ["truncated", await list(good.slice(0, 40))],
      ["wrong secret", await list(flipped)],
      ["unknown id", await list(`vvt_${absentId("tok").slice(4)}_${"A".repeat(43)}`)],
      ["foreign vault", await list(foreign)],
      ["expired", await list(expiring.token)],
      ["revoked", await list(revoked.token)],
    ];
    for (const [name, r] of cases) {
      expect(r.status, name).toBe(401);
      expect(codeOf(r), name).toBe("UNAUTHENTICATED");
      expect(r.headers["www-authenticate"], name).toBe('Bearer realm="voxvault"');
    }
    // The reason is only told to the holder of the real secret (expired / revoked); a guess learns nothing.
    expect((cases[5]![1].json() as { error: { message: string } }).error.message).toBe("unknown token");
    expect((cases[7]![1].json() as { error: { message: string } }).error.message).toBe("unknown token");
    expect((await list(good)).status).toBe(200);
  });

  it("turns an enrolment link into a contractor session exactly once", async () => {
    const p = await w.fresh();
    const link = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${p.id}/enrolment-links`,
      token: w.tok.operator,
      // A forged Host must not redirect the contractor's secret: the origin is configured.
      headers: { host: "vault.example.test@evil.example" },
    });
    expect(link.status, link.text).toBe(201);
    const { token, url } = link.json() as { token: string; url: string };
    expect(token).toMatch(/^vve_/);
    // The secret travels in the fragment, which browsers never send to a server.
    expect(url).toBe(`${PUBLIC_URL}/enrol#${token}`);
    expect(new URL(url).search).toBe("");
    // An enrolment token is no API credential.
    const asBearer = await call(w.app, { method: "GET", url: "/v1/me", token });
    expect(asBearer.status).toBe(401);
    const enrol = await call(w.app, { method: "POST", url: "/v1/enrol", json: { token } });
    expect(enrol.status, enrol.text).toBe(200);
    const session = enrol.json() as { sessionToken: string; subjectId: string; expiresAt: string };
    expect(session.sessionToken).toMatch(/^vvs_/);
    expect(session.subjectId).toBe(p.id);
    const me = await call(w.app, { method: "GET", url: "/v1/me", token: session.sessionToken });
    expect(me.status, me.text).toBe(200);
    expect((me.json() as { id: string }).id).toBe(p.id);
    const again = await call(w.app, { method: "POST", url: "/v1/enrol", json: { token } });
    expect(again.status).toBe(401);
    expect(codeOf(again)).toBe("UNAUTHENTICATED");
    // Only enrolment tokens are exchanged; a session or API token is not.
    expect(
      (await call(w.app, { method: "POST", url: "/v1/enrol", json: { token: session.sessionToken } })).status,
    ).toBe(401);
    expect(
      (await call(w.app, { method: "POST", url: "/v1/enrol", json: { token: w.tok.admin } })).status,
    ).toBe(401);
    const completed = (await eventsOf(w.vault, "enrolment.completed")).filter((e) => e.subjectId === p.id);
    expect(completed).toHaveLength(1);
  });

  it("lets two racing exchanges of one enrolment link produce one session", async () => {
    const p = await w.fresh();
    const { token } = await w.vault.access.tokens.create({
      role: "contractor",
      subjectId: p.id,
      kind: "enrolment",
      maxUses: 1,
    });
    const rs = await Promise.all(
      Array.from({ length: 5 }, () => call(w.app, { method: "POST", url: "/v1/enrol", json: { token } })),
    );
    expect(rs.map((r) => r.status).sort()).toEqual([200, 401, 401, 401, 401]);
  });

  it("mints only contractor, consumer and auditor tokens over the API (privileged roles are made on the host)", async () => {
    for (const role of ["operator", "admin"]) {
      const r = await call(w.app, {
        method: "POST",
        url: "/v1/admin/tokens",
        token: w.tok.admin,
        json: { role, label: `minted-${role}` },
      });
      expect(r.status, role).toBe(400);
    }
    const r = await call(w.app, {
      method: "POST",
      url: "/v1/admin/tokens",
      token: w.tok.admin,
      json: { role: "consumer", application: "app-a", purposes: ["quality-review"], ttlSeconds: 600 },
    });
    expect(r.status, r.text).toBe(201);
    const made = r.json() as { token: string; info: Record<string, unknown> };
    expect(made.token).toMatch(/^vvt_/);
    expect(made.info.role).toBe("consumer");
    expect(made.info.purposes).toEqual(["quality-review"]);
    expect(Date.parse(made.info.expiresAt as string) - Date.parse(made.info.createdAt as string)).toBe(
      600_000,
    );
    // The secret is shown once and never stored or listed.
    const listed = await call(w.app, { method: "GET", url: "/v1/admin/tokens", token: w.tok.admin });
    expect(listed.text).not.toContain(made.token.slice(-43));
  });

  it("answers a contractor asking about another subject with 404, as if it did not exist, and audits it", async () => {
    const own = await call(w.app, { method: "GET", url: `/v1/subjects/${w.s1.id}`, token: w.s1.contractor });
    expect(own.status).toBe(200);
    const urls = [
      `/v1/subjects/${w.s2.id}`,
      `/v1/subjects/${w.s2.id}/consents`,
      `/v1/subjects/${w.s2.id}/recordings`,
      `/v1/subjects/${w.s2.id}/derivations`,
    ];
    const errorOf = (r: Awaited<ReturnType<typeof call>>, id: string) => {
      const { code, message } = (r.json() as { error: { code: string; message: string } }).error;
      return { status: r.status, code, message: message.replace(id, "<id>") };
    };
    for (const url of urls) {
      const other = await call(w.app, { method: "GET", url, token: w.s1.contractor });
      const absent = await call(w.app, {
        method: "GET",
        url: url.replace(w.s2.id, absentId("sub")),
        token: w.s1.contractor,
      });
      expect(other.status, url).toBe(404);
      // Same status, code and wording as an id that does not exist: nothing confirms the id.
      expect(errorOf(other, w.s2.id), url).toEqual(errorOf(absent, absentId("sub")));
    }
    // An operator is allowed what a consumer is refused: there a 403 says nothing about the id.
    expect(
      (await call(w.app, { method: "GET", url: `/v1/subjects/${w.s2.id}`, token: w.tok.consumer })).status,
    ).toBe(403);
    const denied = (await eventsOf(w.vault, "access.denied")).filter(
      (e) => e.subjectId === w.s2.id && e.action === "subject.read",
    );
    expect(denied.length).toBeGreaterThanOrEqual(2);
    expect(denied[0]).toMatchObject({ resource: `Subject:${w.s2.id}` });
  });

  it("makes a revocation effective on the next request", async () => {
    const t = await w.vault.access.tokens.create({ role: "auditor", label: "auditor-revoke" });
    expect((await call(w.app, { method: "GET", url: "/healthz", token: t.token })).status).toBe(200);
    expect((await call(w.app, { method: "GET", url: "/v1/subjects", token: t.token })).status).toBe(403);
    await w.vault.access.tokens.revoke(t.info.id);
    expect((await call(w.app, { method: "GET", url: "/v1/subjects", token: t.token })).status).toBe(401);
  });
});
