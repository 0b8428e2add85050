import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PolicyEngine } from "../../src/policy/engine.js";
import { buildServer } from "../../src/server/app.js";
import type { Vault } from "../../src/platform/vault.js";
import { sandbox, type Sandbox } from "../support/backends.js";

describe("failed authentications", () => {
  let sb: Sandbox;
  let v: Vault;
  let app: Awaited<ReturnType<typeof buildServer>>;
  beforeAll(async () => {
    sb = sandbox({ name: "sqlite" });
    v = await sb.init();
    app = await buildServer({ vault: v, engine: await PolicyEngine.load() });
  });
  afterAll(async () => {
    await app.close();
    await v.close();
    await sb.cleanup();
  });

  it("are rate limited per client address, and a valid token is never locked out", async () => {
    const bad = "vvt_00000000000000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const list = (token: string, remoteAddress: string) =>
      app.inject({
        method: "GET",
        url: "/v1/subjects",
        headers: { authorization: `Bearer ${token}` },
        remoteAddress,
      });
    const codes: number[] = [];
    for (let i = 0; i < 8; i++) {
      const r = await list(bad, "10.9.8.7");
      codes.push(r.statusCode);
      if (r.statusCode === 429) expect(Number(r.headers["retry-after"])).toBeGreaterThan(0);
    }
    expect(codes.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(codes.slice(5)).toEqual([429, 429, 429]);
    const good = await v.access.tokens.create({ role: "operator", label: "op" });
    expect((await list(good.token, "10.9.8.8")).statusCode).toBe(200);
    // From the very address that is locked out: failures do not block a valid token …
    expect((await list(good.token, "10.9.8.7")).statusCode).toBe(200);
    // … while bad tokens from there are still refused with 429.
    expect((await list(bad, "10.9.8.7")).statusCode).toBe(429);
  });
});
