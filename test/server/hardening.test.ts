/**
 * Attacks on the HTTP layer itself (issue 12 §7): deeply nested JSON, errors raised by Fastify
 * before any route runs, wrong methods, HEAD requests. Every answer is the JSON error envelope
 * with every security header, and no path is echoed back.
 */
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, codeOf, makeWorld, type Reply, type World } from "./helpers.js";

const SQLITE = { name: "sqlite" } as const;

/** Every response carries these (docs/api.md "Rate limits and headers"). */
export function expectHardened(r: Pick<Reply, "headers" | "text">, status?: number): void {
  const h = r.headers;
  expect(h["strict-transport-security"], "HSTS").toBe("max-age=63072000; includeSubDomains");
  expect(h["x-content-type-options"], "nosniff").toBe("nosniff");
  expect(h["content-security-policy"], "CSP").toBe("default-src 'none'; frame-ancestors 'none'");
  expect(h["cache-control"], "no-store").toBe("no-store");
  expect(h["x-frame-options"]).toBe("DENY");
  expect(h["x-request-id"], "request id").toMatch(/^[0-9a-f]{24}$/);
  if (status !== undefined && status >= 400) {
    expect(String(h["content-type"])).toMatch(/^application\/json/);
    const body = JSON.parse(r.text) as { error: { code: string; message: string; requestId: string } };
    expect(Object.keys(body)).toEqual(["error"]);
    expect(Object.keys(body.error).sort()).toEqual(["code", "message", "requestId"]);
    expect(body.error.requestId).toBe(h["x-request-id"]);
  }
}

const nested = (levels: number, open = "[", close = "]") => open.repeat(levels) + close.repeat(levels);

describe("deeply nested JSON", () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld(SQLITE);
  });
  afterAll(async () => {
    await w.close();
  });

  it.each([
    [5_000, "[", "]"],
    [100_000, "[", "]"],
    [5_000, '{"a":', "}"],
    [100_000, '{"a":', "}"],
  ])("%i levels of %s, streamed → 400 with and without a token", async (levels, open, close) => {
    const body = open === "[" ? nested(levels) : `${open.repeat(levels)}1${close.repeat(levels)}`;
    for (const [url, token] of [
      ["/v1/enrol", undefined],
      ["/v1/subjects", w.tok.operator],
    ] as const) {
      // Without a length: the depth bound stops reading at the first byte past it.
      const r = await call(w.app, {
        method: "POST",
        url,
        token,
        type: "application/json",
        body: Readable.from([body]),
      });
      expect([r.status, codeOf(r)], url).toEqual([400, "BAD_REQUEST"]);
      expectHardened(r, 400);
      // With a length: over the size limit it is refused unread; within it, by depth.
      const sized = await call(w.app, { method: "POST", url, token, type: "application/json", body });
      expect([sized.status, codeOf(sized)], url).toEqual(
        body.length > 64 * 1024 ? [413, "PAYLOAD_TOO_LARGE"] : [400, "BAD_REQUEST"],
      );
      expectHardened(sized, sized.status);
    }
  });

  it("still reads ordinary bodies, strings holding brackets included", async () => {
    const ref = `brackets-[[[{{{"-${"[".repeat(100)}`;
    const r = await call(w.app, {
      method: "POST",
      url: "/v1/subjects",
      token: w.tok.operator,
      json: { ref },
    });
    expect(r.status, r.text).toBe(201);
    const poisoned = await call(w.app, {
      method: "POST",
      url: "/v1/subjects",
      token: w.tok.operator,
      type: "application/json",
      body: '{"ref":"x","__proto__":{"admin":true}}',
    });
    expect([poisoned.status, codeOf(poisoned)]).toEqual([400, "BAD_REQUEST"]);
  });
});
