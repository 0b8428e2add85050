/**
 * Rate limits: one bucket per (class, key), so cheap requests never refill an expensive class;
 * limits configurable in vault.json (`access.http.rateLimits`); forwarded client addresses
 * believed only from configured proxies.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccessConfigSchema } from "../../src/access/config.js";
import { absentId, call, codeOf, makeWorld, type World } from "./helpers.js";

const SQLITE = { name: "sqlite" } as const;

describe("rate-limit classes", () => {
  let w: World;
  let now = Date.now();
  beforeAll(async () => {
    w = await makeWorld(SQLITE, { limiterNow: () => now });
  });
  afterAll(async () => {
    await w.close();
  });

  const newOperator = async (label: string) =>
    (await w.vault.access.tokens.create({ role: "operator", label })).token;
  /** An upload-class request (refused after the limiter: the subject does not exist). */
  const upload = (token: string) =>
    call(w.app, {
      method: "POST",
      url: `/v1/subjects/${absentId("sub")}/verify-speaker?purpose=identity-verification`,
      token,
      type: "audio/wav",
      body: Buffer.alloc(0),
    });
  const read = (token: string) => call(w.app, { method: "GET", url: "/v1/breakglass", token });

  it("a cheap request before each expensive one does not lift the expensive class's limit", async () => {
    const t = await newOperator("hill-climber");
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) {
      now += 1000;
      expect((await read(t)).status).toBe(200);
      statuses.push((await upload(t)).status);
    }
    const allowed = statuses.filter((s) => s !== 429).length;
    // Upload class: burst 5, 30/min, over 20 s at most 5 + 10.
    expect(allowed).toBeLessThanOrEqual(15);
    expect(statuses.at(-1)).toBe(429);
  });

  it("an expensive request does not shrink a cheap class's bucket", async () => {
    const t = await newOperator("uploader-then-reader");
    expect((await upload(t)).status).not.toBe(429);
    const reads: number[] = [];
    for (let i = 0; i < 30; i++) reads.push((await read(t)).status);
    expect(reads.every((s) => s === 200)).toBe(true);
  });
});

describe("configured rate limits and trusted proxies", () => {
  let w: World;
  const now = Date.now();
  beforeAll(async () => {
    w = await makeWorld(SQLITE, {
      limiterNow: () => now,
      access: {
        http: {
          rateLimits: { read: { perMinute: 1, burst: 2 }, public: { perMinute: 1, burst: 2 } },
          trustedProxies: ["10.0.0.1", "192.0.2.0/24"],
        },
      },
    });
  });
  afterAll(async () => {
    await w.close();
  });

  const health = async (remoteAddress: string, forwardedFor: string) =>
    (
      await w.app.inject({
        method: "GET",
        url: "/healthz",
        remoteAddress,
        headers: { "x-forwarded-for": forwardedFor },
      })
    ).statusCode;

  it("applies the configured numbers, and the OpenAPI document states them", async () => {
    const t = (await w.vault.access.tokens.create({ role: "operator", label: "configured" })).token;
    const codes: string[] = [];
    for (let i = 0; i < 3; i++)
      codes.push(codeOf(await call(w.app, { method: "GET", url: "/v1/breakglass", token: t })));
    expect(codes.slice(2)).toEqual(["RATE_LIMITED"]);
    const doc = (
      await w.app.inject({ method: "GET", url: "/openapi.json", remoteAddress: "198.18.0.1" })
    ).json<{
      paths: Record<string, Record<string, { "x-voxvault-rate-limit": unknown }>>;
    }>();
    expect(doc.paths["/v1/breakglass"]!.get!["x-voxvault-rate-limit"]).toEqual({
      class: "read",
      perMinute: 1,
      burst: 2,
    });
  });

  it("believes X-Forwarded-For from a configured proxy: each client has its own bucket", async () => {
    expect([await health("10.0.0.1", "203.0.113.1"), await health("10.0.0.1", "203.0.113.1")]).toEqual([
      200, 200,
    ]);
    expect(await health("10.0.0.1", "203.0.113.1")).toBe(429);
    // Another client behind the same proxy (and behind a proxy of the configured block) is unaffected.
    expect(await health("10.0.0.1", "203.0.113.2")).toBe(200);
    expect(await health("192.0.2.77", "203.0.113.3")).toBe(200);
  });

  it("ignores X-Forwarded-For from anyone else: the socket address is the client", async () => {
    expect(await health("10.0.0.9", "198.51.100.1")).toBe(200);
    expect(await health("10.0.0.9", "198.51.100.2")).toBe(200);
    expect(await health("10.0.0.9", "198.51.100.3")).toBe(429);
    // A forged header naming a limited client does not move a request into that client's bucket.
    expect(await health("10.0.0.10", "10.0.0.9")).toBe(200);
  });
});

describe("access.http validation", () => {
  it("refuses malformed proxies, limits and timeouts", () => {
    for (const http of [
      { trustedProxies: ["10.0.0.0/33"] },
      { trustedProxies: ["example.org"] },
      { rateLimits: { read: { perMinute: 0, burst: 1 } } },
      { rateLimits: { unknown: { perMinute: 1, burst: 1 } } },
      { timeouts: { request: "0s" } },
      { maxConnectionsPerClient: 0 },
    ]) {
      expect(AccessConfigSchema.safeParse({ http }).success, JSON.stringify(http)).toBe(false);
    }
    expect(
      AccessConfigSchema.safeParse({
        http: { trustedProxies: ["10.0.0.0/8", "::1", "2001:db8::/32"], timeouts: { request: "60s" } },
      }).success,
    ).toBe(true);
  });
});
