/**
 * HTTP hygiene: size limits, JSON and content types, ids that cannot carry paths, rate limits,
 * responses that carry only what their schema allows, generic 5xx bodies, security headers on
 * every response, and an OpenAPI document that lists every route with its Cedar action.
 */
import { Readable } from "node:stream";
import { Type } from "typebox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VaultError } from "../../src/errors.js";
import { buildServer } from "../../src/server/app.js";
import { RATE, route } from "../../src/server/route.js";
import { allRoutes } from "../../src/server/routes/index.js";
import { LiveSubject, ShreddedSubject, TokenInfo } from "../../src/server/routes/schemas.js";
import { wavBytes } from "../support/audio.js";
import { BACKENDS } from "../support/backends.js";
import { absentId, call, codeOf, makeWorld, type Reply, type World } from "./helpers.js";

const MAX_UPLOAD = 1024 * 1024;
const MAX_INPUT = 100_000;

/** Noise as a 16-bit WAV (only its size matters here). */
function noiseWav(seconds: number): Buffer {
  const s = new Int16Array(16000 * seconds);
  for (let i = 0; i < s.length; i++) s[i] = Math.round((Math.random() - 0.5) * 8000);
  return wavBytes(s);
}

describe.each(BACKENDS)("HTTP behaviour ($name)", (backend) => {
  let w: World;
  let frozen = false;
  let limiterTime = Date.now();
  beforeAll(async () => {
    w = await makeWorld(backend, {
      maxUploadBytes: MAX_UPLOAD,
      limits: { maxInputBytes: MAX_INPUT },
      // Jumps an hour per request (limits never bite) unless a test freezes it.
      limiterNow: () => (frozen ? limiterTime : (limiterTime += 3_600_000)),
    });
  });
  afterAll(async () => {
    await w.close();
  });

  const op = () => w.tok.operator;

  it("refuses oversized bodies with 413 and stores nothing of them", async () => {
    const p = await w.fresh();
    const json = await call(w.app, {
      method: "POST",
      url: "/v1/subjects",
      token: op(),
      json: { ref: "x".repeat(70 * 1024) },
    });
    expect([json.status, codeOf(json)]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
    // Declared too large: refused before a byte is read.
    const declared = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${p.id}/recordings`,
      token: op(),
      type: "audio/wav",
      body: Buffer.alloc(MAX_UPLOAD + 1),
    });
    expect([declared.status, codeOf(declared)]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
    // Streamed without a length: refused once it passes the vault's input limit (the part sealed
    // so far is discarded).
    const streamed = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${p.id}/recordings`,
      token: op(),
      type: "audio/wav",
      body: Readable.from([noiseWav(5)]),
    });
    expect([streamed.status, codeOf(streamed)]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
    const resumable = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${p.id}/uploads`,
      token: op(),
      json: { length: MAX_INPUT + 1 },
    });
    expect([resumable.status, codeOf(resumable)]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
    const up = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${p.id}/uploads`,
      token: op(),
      json: { length: 1000 },
    });
    const chunk = await call(w.app, {
      method: "PATCH",
      url: `/v1/uploads/${(up.json() as { id: string }).id}`,
      token: op(),
      type: "application/offset+octet-stream",
      headers: { "upload-offset": "0" },
      body: Buffer.alloc(1001),
    });
    expect([chunk.status, codeOf(chunk)]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
    const s = await call(w.app, { method: "GET", url: `/v1/subjects/${p.id}`, token: op() });
    expect(s.json()).toMatchObject({ blobCount: 0, blobBytes: 0 });
  });

  it("refuses malformed JSON with 400", async () => {
    for (const body of ['{"ref": ', "{ref: 'a'}", '{"ref": "a"} trailing', ""]) {
      const r = await call(w.app, {
        method: "POST",
        url: "/v1/subjects",
        token: op(),
        type: "application/json",
        body,
      });
      expect([r.status, codeOf(r)], JSON.stringify(body)).toEqual([400, "BAD_REQUEST"]);
    }
    for (const json of [{}, { ref: "a", admin: true }, { ref: "" }, [], { ref: "a", tenant: "../etc" }]) {
      const r = await call(w.app, { method: "POST", url: "/v1/subjects", token: op(), json });
      expect([r.status, codeOf(r)], JSON.stringify(json)).toEqual([400, "BAD_REQUEST"]);
    }
    const ok = await call(w.app, {
      method: "POST",
      url: "/v1/subjects",
      token: op(),
      type: "application/json; charset=utf-8",
      body: JSON.stringify({ ref: "charset-ok" }),
    });
    expect(ok.status, ok.text).toBe(201);
  });

  it("refuses a wrong content type with 415", async () => {
    const p = await w.fresh();
    const up = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${p.id}/uploads`,
      token: op(),
      json: { length: 1000 },
    });
    const uploadId = (up.json() as { id: string }).id;
    const cases: [string, Promise<Reply>][] = [
      [
        "JSON route, text/plain",
        call(w.app, {
          method: "POST",
          url: "/v1/subjects",
          token: op(),
          type: "text/plain",
          body: '{"ref":"a"}',
        }),
      ],
      [
        "JSON route, XML",
        call(w.app, {
          method: "POST",
          url: "/v1/subjects",
          token: op(),
          type: "application/xml",
          body: "<ref>a</ref>",
        }),
      ],
      [
        "JSON route, audio",
        call(w.app, {
          method: "POST",
          url: "/v1/subjects",
          token: op(),
          type: "audio/wav",
          body: Buffer.alloc(10),
        }),
      ],
      [
        "audio route, JSON",
        call(w.app, {
          method: "POST",
          url: `/v1/subjects/${p.id}/recordings`,
          token: op(),
          json: { audio: "AAAA" },
        }),
      ],
      [
        "audio route, form",
        call(w.app, {
          method: "POST",
          url: `/v1/subjects/${p.id}/recordings`,
          token: op(),
          type: "multipart/form-data; boundary=x",
          body: "--x--",
        }),
      ],
      [
        "chunk route, audio",
        call(w.app, {
          method: "PATCH",
          url: `/v1/uploads/${uploadId}`,
          token: op(),
          type: "audio/wav",
          headers: { "upload-offset": "0" },
          body: Buffer.alloc(10),
        }),
      ],
      [
        "bodyless route with a body",
        call(w.app, {
          method: "GET",
          url: "/v1/subjects",
          token: op(),
          type: "application/json",
          body: "{}",
        }),
      ],
    ];
    for (const [name, p2] of cases) {
      const r = await p2;
      expect([r.status, codeOf(r)], name).toEqual([415, "UNSUPPORTED_MEDIA_TYPE"]);
    }
  });

  it("refuses path traversal and malformed ids with 400 before touching the vault", async () => {
    const valid = absentId("sub").slice(4);
    const urls: [string, string][] = [
      ["GET", "/v1/subjects/..%2F..%2Fetc%2Fpasswd"],
      ["GET", "/v1/subjects/sub_..%2F..%2Fvault.json"],
      ["GET", `/v1/subjects/sub_${valid}%2F..`],
      ["GET", `/v1/subjects/SUB_${valid.toUpperCase()}`],
      ["GET", `/v1/subjects/sub_${valid.slice(1)}`],
      ["GET", `/v1/subjects/sub_${valid}0`],
      ["GET", `/v1/subjects/sub_${valid.slice(1)}u`],
      ["GET", `/v1/subjects/drv_${valid}`],
      ["GET", `/v1/subjects/sub_${valid.slice(1)}%00`],
      ["GET", "/v1/derivations/..%2F..%2Fblobs%2Fobjects"],
      ["GET", `/v1/derivations/sub_${valid}`],
      ["GET", `/v1/uploads/upl_${valid.slice(2)}%2E%2E`],
      ["DELETE", `/v1/admin/tokens/tok_..%5C..%5C${valid.slice(6)}`],
      ["GET", "/v1/datasets/..%2Fquality-review"],
      ["DELETE", "/v1/me/consents/..%2F..%2Fadmin"],
      ["GET", "/v1/subjects?after=..%2F..%2F"],
      ["GET", `/v1/derivations/drv_${valid}?breakglass=..%2Fbgr`],
      ["GET", `/v1/subjects/sub_${valid}?ref=x`],
    ];
    for (const [method, url] of urls) {
      const r = await call(w.app, {
        method: method as "GET",
        url,
        token: url.startsWith("/v1/admin") ? w.tok.admin : url.startsWith("/v1/me") ? w.s1.contractor : op(),
      });
      expect([r.status, codeOf(r)], `${method} ${url}`).toEqual([400, "BAD_REQUEST"]);
    }
    // Unauthenticated callers get the same 400: the id is checked before anything else.
    expect((await call(w.app, { method: "GET", url: "/v1/subjects/..%2Fx" })).status).toBe(400);
  });

  it("rate-limits per token with 429 and Retry-After", async () => {
    const t = (await w.vault.access.tokens.create({ role: "operator", label: "rate-limited" })).token;
    frozen = true;
    try {
      for (let i = 0; i < RATE.read.burst; i++) {
        const r = await call(w.app, { method: "GET", url: "/v1/subjects?limit=1", token: t });
        expect(r.status, `request ${i + 1}`).toBe(200);
      }
      const limited = await call(w.app, { method: "GET", url: "/v1/subjects?limit=1", token: t });
      expect([limited.status, codeOf(limited)]).toEqual([429, "RATE_LIMITED"]);
      const retry = Number(limited.headers["retry-after"]);
      expect(Number.isInteger(retry) && retry >= 1 && retry <= 60).toBe(true);
      // Buckets are per token: another caller is unaffected.
      expect((await call(w.app, { method: "GET", url: "/v1/subjects?limit=1", token: op() })).status).toBe(
        200,
      );
      // Unauthenticated routes are limited per client address.
      const health: number[] = [];
      for (let i = 0; i <= RATE.public.burst; i++)
        health.push((await call(w.app, { method: "GET", url: "/healthz" })).status);
      expect(health.slice(0, RATE.public.burst).every((s) => s === 200)).toBe(true);
      expect(health.at(-1)).toBe(429);
      // After Retry-After seconds the token may go on.
      limiterTime += retry * 1000;
      expect((await call(w.app, { method: "GET", url: "/v1/subjects?limit=1", token: t })).status).toBe(200);
    } finally {
      frozen = false;
    }
  });

  it("returns only the fields a response schema allows: no references, no secrets", async () => {
    const ref = `hr-system-employee-${Math.random().toString(36).slice(2)}`;
    const created = await call(w.app, { method: "POST", url: "/v1/subjects", token: op(), json: { ref } });
    expect(created.status).toBe(201);
    expect(Object.keys(created.json() as object).sort()).toEqual(Object.keys(LiveSubject.properties).sort());
    const listed = await call(w.app, { method: "GET", url: "/v1/subjects?limit=1000", token: op() });
    const shapes = [LiveSubject, ShreddedSubject].map((o) => Object.keys(o.properties).sort());
    for (const s of (listed.json() as { subjects: object[] }).subjects) {
      expect(shapes).toContainEqual(Object.keys(s).sort());
    }
    for (const r of [created, listed]) expect(r.text).not.toContain(ref);
    const minted = await call(w.app, {
      method: "POST",
      url: "/v1/admin/tokens",
      token: w.tok.admin,
      json: { role: "auditor", label: "schema-check" },
    });
    const { token, info } = minted.json() as { token: string; info: object };
    expect(Object.keys(info).sort()).toEqual(Object.keys(TokenInfo.properties).sort());
    const tokens = await call(w.app, {
      method: "GET",
      url: "/v1/admin/tokens?includeRevoked=true",
      token: w.tok.admin,
    });
    for (const t of (tokens.json() as { tokens: object[] }).tokens) {
      expect(Object.keys(t).sort()).toEqual(Object.keys(TokenInfo.properties).sort());
    }
    expect(tokens.text).not.toContain(token.slice(-43));
    // No field names a secret or a hash (checked on keys: random ids may spell "hash" by chance).
    const keys: string[] = [];
    JSON.parse(tokens.text, (k: string, v: unknown) => {
      keys.push(k);
      return v;
    });
    expect(keys.filter((k) => /secret|hash/i.test(k))).toEqual([]);
  });

  it("says only INTERNAL and the request id on a 5xx", async () => {
    const app = await buildServer({
      vault: w.vault,
      engine: w.engine,
      routes: [
        route({
          method: "GET",
          url: "/boom",
          summary: "fails with an unexpected error",
          tags: ["test"],
          auth: "public",
          rateLimit: RATE.public,
          response: { 200: Type.Object({}) },
          handler: () =>
            Promise.reject(
              new Error("connect postgres://vault:hunter2@db.internal:5432 failed at /srv/voxvault/meta"),
            ),
        }),
        route({
          method: "GET",
          url: "/corrupt",
          summary: "fails with an internal vault error",
          tags: ["test"],
          auth: "public",
          rateLimit: RATE.public,
          response: { 200: Type.Object({}) },
          handler: () =>
            Promise.reject(new VaultError("VAULT_CORRUPT", "key_nodes row 0/3/7 generation mismatch")),
        }),
      ],
    });
    try {
      for (const url of ["/boom", "/corrupt"]) {
        const r = await call(app, { method: "GET", url });
        expect(r.status, url).toBe(500);
        const id = r.headers["x-request-id"] as string;
        expect(r.json(), url).toEqual({
          error: { code: "INTERNAL", message: "internal error", requestId: id },
        });
        expect(r.text).not.toMatch(/hunter2|postgres|srv|key_nodes|VAULT_CORRUPT/);
      }
    } finally {
      await app.close();
    }
  });

  it("sends the security headers on every response, successes and errors alike", async () => {
    const p = await w.fresh();
    const replies: [string, Reply][] = [
      ["200", await call(w.app, { method: "GET", url: "/v1/subjects", token: op() })],
      ["201", await call(w.app, { method: "POST", url: "/v1/subjects", token: op(), json: { ref: "hdr" } })],
      ["health", await call(w.app, { method: "GET", url: "/healthz" })],
      ["openapi", await call(w.app, { method: "GET", url: "/openapi.json" })],
      ["400", await call(w.app, { method: "GET", url: "/v1/subjects/nope", token: op() })],
      ["401", await call(w.app, { method: "GET", url: "/v1/subjects" })],
      ["403", await call(w.app, { method: "GET", url: "/v1/subjects", token: w.tok.auditor })],
      ["404 route", await call(w.app, { method: "GET", url: "/v2/anything" })],
      ["404 id", await call(w.app, { method: "GET", url: `/v1/subjects/${absentId("sub")}`, token: op() })],
      ["405-ish", await call(w.app, { method: "PUT", url: "/healthz" })],
      [
        "413",
        await call(w.app, {
          method: "POST",
          url: "/v1/subjects",
          token: op(),
          json: { ref: "x".repeat(70_000) },
        }),
      ],
      [
        "415",
        await call(w.app, {
          method: "POST",
          url: "/v1/subjects",
          token: op(),
          type: "text/plain",
          body: "x",
        }),
      ],
      [
        "422",
        await call(w.app, {
          method: "POST",
          url: `/v1/subjects/${p.id}/recordings`,
          token: op(),
          type: "audio/wav",
          body: Buffer.from("RIFF....not audio"),
        }),
      ],
    ];
    const ids = new Set<string>();
    for (const [name, r] of replies) {
      expect(r.headers["strict-transport-security"], name).toMatch(/^max-age=\d{8,}; includeSubDomains$/);
      expect(r.headers["x-content-type-options"], name).toBe("nosniff");
      expect(r.headers["x-frame-options"], name).toBe("DENY");
      expect(r.headers["content-security-policy"], name).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(r.headers["referrer-policy"], name).toBe("no-referrer");
      expect(r.headers["cache-control"], name).toBe("no-store");
      const id = r.headers["x-request-id"] as string;
      expect(id, name).toMatch(/^[0-9a-f]{24}$/);
      ids.add(id);
      if (r.status >= 400)
        expect((r.json() as { error: { requestId: string } }).error.requestId, name).toBe(id);
    }
    expect(ids.size).toBe(replies.length);
    // A client cannot choose its request id (log forging).
    const forged = await call(w.app, {
      method: "GET",
      url: "/healthz",
      headers: { "x-request-id": "forged\nline" },
    });
    expect(forged.headers["x-request-id"]).not.toBe("forged\nline");
  });

  it("serves an OpenAPI 3.1 document listing every route with its Cedar action and rate limit", async () => {
    const r = await call(w.app, { method: "GET", url: "/openapi.json" });
    expect(r.headers["content-type"]).toMatch(/^application\/json/);
    interface Op {
      "x-voxvault-action": string | null;
      "x-voxvault-rate-limit": unknown;
      security: unknown[];
      responses: Record<string, unknown>;
      parameters: { name: string; in: string; required: boolean }[];
      requestBody?: { content: Record<string, unknown> };
    }
    const doc = r.json() as {
      openapi: string;
      paths: Record<string, Record<string, Op>>;
      components: { securitySchemes: object };
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.components.securitySchemes).toHaveProperty("bearer");
    const routes = allRoutes({ policies: () => ({ hash: "", policies: [] }), openapi: () => ({}) });
    let count = 0;
    for (const d of routes) {
      const path = d.url.replace(/:([A-Za-z]+)/g, "{$1}");
      const o = doc.paths[path]?.[d.method.toLowerCase()];
      expect(o, `${d.method} ${d.url}`).toBeDefined();
      expect(o!["x-voxvault-action"]).toBe(d.auth === "token" ? d.action : null);
      expect(o!["x-voxvault-rate-limit"]).toEqual(d.rateLimit);
      expect(o!.security).toEqual(d.auth === "public" ? [] : [{ bearer: [] }]);
      expect(Object.keys(o!.responses)).toEqual(
        expect.arrayContaining(["4XX", "5XX", ...Object.keys(d.response)]),
      );
      for (const name of [...d.url.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]!)) {
        expect(o!.parameters).toContainEqual(expect.objectContaining({ name, in: "path", required: true }));
      }
      if (d.body) expect(o!.requestBody?.content).toHaveProperty(["application/json"]);
      count++;
    }
    expect(Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0)).toBe(count);
  });
});
