/**
 * Slow and greedy clients over real sockets: a request body that never completes is cut off by
 * the request timeout (408 in the envelope), one address cannot hold more than its share of
 * connections, and closing the server does not wait for a stalled client past the deadline.
 */
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeWithDeadline } from "../../src/server/connections.js";
import { makeWorld, type World } from "./helpers.js";

const SQLITE = { name: "sqlite" } as const;
/** Generous bound on waiting for a signal that a correct server gives within ~2 s. */
const BOUND_MS = 15_000;

/** Rejects if `p` has not settled within `ms` (a bound on waiting, not a sleep). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_r, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`still waiting after ${ms} ms: ${what}`));
    }, ms);
  });
  return Promise.race([p, bound]).finally(() => {
    clearTimeout(timer);
  });
}

interface Conn {
  readonly socket: net.Socket;
  /** Everything received, once the server closed the connection. */
  readonly closed: Promise<string>;
  /** Resolves when `text` has been received. */
  received(text: string): Promise<void>;
}

function connect(port: number): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let data = "";
    const waiters: { text: string; resolve: () => void }[] = [];
    socket.on("data", (d: Buffer) => {
      data += d.toString("latin1");
      for (const w of waiters.filter((x) => data.includes(x.text))) w.resolve();
    });
    socket.on("error", () => undefined);
    const closed = new Promise<string>((r) =>
      socket.on("close", () => {
        r(data);
      }),
    );
    socket.once("connect", () => {
      resolve({
        socket,
        closed,
        received: (text) =>
          data.includes(text) ? Promise.resolve() : new Promise((r) => waiters.push({ text, resolve: r })),
      });
    });
    socket.once("error", reject);
  });
}

const SLOW_UPLOAD =
  "POST /v1/enrol HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{";

async function listen(w: World): Promise<number> {
  await w.app.listen({ host: "127.0.0.1", port: 0 });
  return (w.app.server.address() as net.AddressInfo).port;
}

describe("slow clients", () => {
  let w: World;
  let port: number;
  beforeAll(async () => {
    w = await makeWorld(SQLITE, {
      access: {
        http: { timeouts: { request: "1s", headers: "1s", keepAlive: "1h" }, maxConnectionsPerClient: 4 },
      },
    });
    port = await listen(w);
  });
  afterAll(async () => {
    await w.close();
  });

  it("cuts off a body that never completes with 408 in the envelope", async () => {
    const c = await connect(port);
    c.socket.write(SLOW_UPLOAD);
    const text = await within(c.closed, BOUND_MS, "the server to close a stalled upload");
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(text).toContain('"code":"REQUEST_TIMEOUT"');
    expect(text).toContain("strict-transport-security:");
  });

  it("cuts off headers that never complete", async () => {
    const c = await connect(port);
    c.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n");
    expect(await within(c.closed, BOUND_MS, "the server to close stalled headers")).toMatch(
      /^HTTP\/1\.1 408 /,
    );
  });

  it("holds one address to its connection cap", async () => {
    const held: Conn[] = [];
    for (let i = 0; i < 4; i++) {
      const c = await connect(port);
      c.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
      await within(c.received('{"status":"ok"}'), BOUND_MS, "a response on a held connection");
      held.push(c);
    }
    const extra = await connect(port);
    extra.socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    expect(await within(extra.closed, BOUND_MS, "the server to refuse a fifth connection")).toBe("");
    for (const c of held) c.socket.destroy();
    await Promise.all(held.map((c) => c.closed));
    // Once the held ones are gone (the server sees their close), the address may connect again.
    let answer = "";
    for (const end = Date.now() + BOUND_MS; !answer.includes("200 OK") && Date.now() < end;) {
      const again = await connect(port);
      again.socket.end("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      answer = await again.closed;
    }
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
  });
});

describe("shutdown deadline", () => {
  it("cuts off a stalled request instead of waiting for it", async () => {
    const w = await makeWorld(SQLITE, { access: { http: { timeouts: { request: "1h", headers: "1h" } } } });
    try {
      const port = await listen(w);
      const arrived = new Promise<void>((r) =>
        w.app.server.once("request", () => {
          r();
        }),
      );
      const c = await connect(port);
      c.socket.write(SLOW_UPLOAD);
      await within(arrived, BOUND_MS, "the server to receive the request's headers");
      const cut = await within(closeWithDeadline(w.app, 500), BOUND_MS, "the server to close");
      expect(cut).toBe(1);
      await within(c.closed, BOUND_MS, "the stalled connection to be closed");
    } finally {
      await w.vault.close();
      await w.sb.cleanup();
    }
  });
});
