/**
 * Attacks on the HTTP layer itself (issue 12 §7): deeply nested JSON, errors raised by Fastify
 * before any route runs, wrong methods, HEAD requests. Every answer is the JSON error envelope
 * with every security header, and no path is echoed back.
 */
import net from "node:net";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HAVE_AUDIO_TOOLS } from "../support/audio.js";
import { call, codeOf, eventsOf, makeWorld, type Reply, type World } from "./helpers.js";
import { internalsOf } from "../../src/platform/vault.js";

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

describe("errors Fastify raises itself, unknown routes and wrong methods", () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld(SQLITE);
  });
  afterAll(async () => {
    await w.close();
  });

  it.each([
    ["GET", "/v1/subjects/%E0%A4%A", 400, "BAD_REQUEST"],
    ["GET", `/v1/subjects/sub_${"x".repeat(300)}`, 414, "URI_TOO_LONG"],
    ["GET", "/v1/no-such-route/secret-in-path", 404, "NOT_FOUND"],
  ] as const)(
    "%s %s → %i %s in the envelope, without echoing the path",
    async (method, url, status, code) => {
      for (const token of [undefined, w.tok.operator]) {
        const r = await call(w.app, { method, url, token });
        expect([r.status, codeOf(r)]).toEqual([status, code]);
        expectHardened(r, status);
        expect(r.text).not.toContain(url.split("/").at(-1));
      }
    },
  );

  it("answers a known path with another method 405 and Allow", async () => {
    const cases = [
      ["PUT", "/v1/subjects", "GET, POST"],
      ["PATCH", `/v1/subjects/${w.s1.id}`, "DELETE, GET"],
      ["DELETE", "/healthz", "GET, HEAD"],
      ["POST", "/v1/derivations/drv_0", "GET"],
    ] as const;
    for (const [method, url, allow] of cases) {
      const r = await call(w.app, { method, url, token: w.tok.operator });
      expect([r.status, codeOf(r)], `${method} ${url}`).toEqual([405, "METHOD_NOT_ALLOWED"]);
      expect(r.headers.allow).toBe(allow);
      expectHardened(r, 405);
    }
  });

  it("offers HEAD on public routes only, with the headers of GET", async () => {
    const head = await w.app.inject({ method: "HEAD", url: "/healthz" });
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe("");
    expectHardened({ headers: head.headers, text: head.body });
    const onToken = await w.app.inject({
      method: "HEAD",
      url: "/v1/subjects",
      headers: { authorization: `Bearer ${w.tok.operator}` },
    });
    expect(onToken.statusCode).toBe(405);
    expect(onToken.headers.allow).toBe("GET, POST");
  });
});

/** Raw bytes to a listening server; resolves with everything it sent back once it closes. */
function rawExchange(port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, "127.0.0.1");
    const parts: Buffer[] = [];
    sock.on("data", (d: Buffer) => parts.push(d));
    sock.on("error", reject);
    sock.on("close", () => {
      resolve(Buffer.concat(parts).toString("latin1"));
    });
    sock.end(bytes);
  });
}

function parseRaw(text: string): { status: number; headers: Record<string, string>; text: string } {
  const [head = "", body = ""] = text.split("\r\n\r\n", 2);
  const [statusLine = "", ...lines] = head.split("\r\n");
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(":");
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(statusLine.split(" ")[1]), headers, text: body };
}

describe("malformed HTTP over a real socket", () => {
  let w: World;
  let port: number;
  beforeAll(async () => {
    w = await makeWorld(SQLITE);
    await w.app.listen({ host: "127.0.0.1", port: 0 });
    port = (w.app.server.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await w.close();
  });

  it.each([
    [
      "a header line without a colon",
      400,
      "BAD_REQUEST",
      "GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n",
    ],
    ["an invalid method", 400, "BAD_REQUEST", "G(T /healthz HTTP/1.1\r\nHost: x\r\n\r\n"],
    [
      "oversized headers",
      431,
      "HEADERS_TOO_LARGE",
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
    ],
    [
      "a bad URL encoding",
      400,
      "BAD_REQUEST",
      "GET /v1/subjects/%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ],
  ] as const)("%s → %i %s with the envelope and every header", async (_what, status, code, bytes) => {
    const r = parseRaw(await rawExchange(port, bytes));
    expect(r.status).toBe(status);
    expect(codeOf({ ...r, raw: Buffer.from(r.text), json: () => JSON.parse(r.text) as unknown })).toBe(code);
    expectHardened(r, status);
  });
});

describe.runIf(HAVE_AUDIO_TOOLS)("HEAD on routes with side effects", () => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld(SQLITE, { reconstructable: true, recordings: 1 });
  });
  afterAll(async () => {
    await w.close();
  });

  const head = (url: string, token: string) =>
    w.app.inject({ method: "HEAD", url, headers: { authorization: `Bearer ${token}` } });
  const usage = () => internalsOf(w.vault).meta.db.selectFrom("egress_usage").selectAll().execute();

  it("charges no budget, records nothing and leaves a break-glass grant unused", async () => {
    const quality = `/v1/derivations/${w.s1.drv.quality!}?purpose=quality-review`;
    const raw = w.s1.drv.raw!;
    const bg = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${w.s1.id}/breakglass`,
      token: w.tok.operator,
      json: { material: "raw", reason: "court order 2026/117: produce the interview audio" },
    });
    const grant = (bg.json() as { id: string }).id;
    for (const t of [w.tok.operator2, w.tok.operator3]) {
      const d = await call(w.app, {
        method: "POST",
        url: `/v1/breakglass/${grant}/decision`,
        token: t,
        json: { decision: "approve" },
      });
      expect(d.status, d.text).toBe(200);
    }
    const eventsBefore = (await w.vault.audit.list({ limit: 100_000 })).length;
    const usageBefore = await usage();
    for (let i = 0; i < 3; i++) {
      const q = await head(quality, w.tok.consumer);
      expect([q.statusCode, q.headers.allow]).toEqual([405, "GET"]);
      const r = await head(`/v1/derivations/${raw}?breakglass=${grant}`, w.tok.operator);
      expect([r.statusCode, r.headers.allow]).toEqual([405, "GET"]);
    }
    expect((await w.vault.audit.list({ limit: 100_000 })).length).toBe(eventsBefore);
    expect(await usage()).toEqual(usageBefore);
    expect(await eventsOf(w.vault, "derivation.served")).toEqual([]);
    // The grant is still there for the one GET it was approved for.
    const served = await call(w.app, {
      method: "GET",
      url: `/v1/derivations/${raw}?breakglass=${grant}`,
      token: w.tok.operator,
    });
    expect([served.status, served.headers["content-type"]]).toEqual([200, "audio/wav"]);
    const consumer = await call(w.app, { method: "GET", url: quality, token: w.tok.consumer });
    expect(consumer.status, consumer.text).toBe(200);
    expect((await usage()).length).toBe(usageBefore.length + 1);
  });
});
