/**
 * PostgreSQL restarts and failovers, against the real cluster: the server's backends are
 * terminated with pg_terminate_backend (SQLSTATE 57P01, what a restart or failover sends), and an
 * outage is a TCP proxy between the vault and PostgreSQL that resets every connection and refuses
 * new ones. The server must stay up, answer 503 METADATA_UNAVAILABLE with Retry-After while the
 * database is away, say so on its readiness probe only, and recover without a restart; the CLI and
 * the library give the same code instead of crashing.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Vault } from "../../src/platform/vault.js";
import { BACKENDS, codeOf, sandbox, type Sandbox } from "../support/backends.js";
import { spawnCli } from "../support/cli.js";
import { request, serveHttp, until, type Served } from "../support/served.js";
import { tcpProxy, type TcpProxy } from "../support/tcp-proxy.js";

const PG = BACKENDS.find((b) => b.name === "postgres");

async function onCluster<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG!.pgUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Terminates every backend of one application name (57P01); returns how many. */
const terminate = (app: string) =>
  onCluster(async (c) => {
    const r = await c.query<{ n: number }>(
      "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1",
      [app],
    );
    return r.rows[0]!.n;
  });

const backends = (app: string) =>
  onCluster(async (c) => {
    const r = await c.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1",
      [app],
    );
    return r.rows[0]!.n;
  });

const errorCode = (r: { json: Record<string, unknown> }) =>
  (r.json.error as { code?: string } | undefined)?.code;

describe.runIf(PG)("PostgreSQL restart or failover", () => {
  let sb: Sandbox;
  let proxy: TcpProxy;
  let operator: string;
  const urlFor = (app: string) =>
    `postgres://postgres@127.0.0.1:${proxy.port}/postgres?application_name=${app}`;

  beforeAll(async () => {
    sb = sandbox(PG!);
    const v = await sb.init();
    operator = (await v.access.tokens.create({ role: "operator" })).token;
    await v.close();
    const target = new URL(PG!.pgUrl!);
    proxy = await tcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
  });
  afterAll(async () => {
    await proxy.close();
    await sb.cleanup();
  });

  describe("the server", () => {
    const app = `vv_srv_${randomBytes(4).toString("hex")}`;
    let server: Served;
    let env: NodeJS.ProcessEnv;
    const subjects = () => request(server.url, { path: "/v1/subjects", token: operator });

    beforeAll(async () => {
      env = { ...sb.env, VOXVAULT_DATA_DIR: sb.dataDir, VOXVAULT_PG_URL: urlFor(app) };
      server = await serveHttp(env);
    });
    afterAll(async () => {
      await server.stop();
    });

    it("survives the termination of its connections (57P01) and keeps serving", async () => {
      expect((await subjects()).status).toBe(200);
      expect(await terminate(app)).toBeGreaterThan(0);
      await until("the terminated backends to be gone", async () =>
        (await backends(app)) === 0 ? true : null,
      );
      for (let i = 0; i < 3; i++) expect((await subjects()).status).toBe(200);
      expect(server.proc.exitCode).toBeNull();
      expect(server.stderr()).not.toMatch(/Unhandled 'error' event/);
    });

    it("answers 503 METADATA_UNAVAILABLE with Retry-After during an outage, and recovers without a restart", async () => {
      await proxy.down();
      try {
        const read = await subjects();
        expect(read.status).toBe(503);
        expect(errorCode(read)).toBe("METADATA_UNAVAILABLE");
        expect(Number(read.headers["retry-after"])).toBeGreaterThan(0);
        const write = await request(server.url, {
          method: "POST",
          path: "/v1/subjects",
          token: operator,
          json: { ref: "during-outage" },
        });
        expect([write.status, errorCode(write)]).toEqual([503, "METADATA_UNAVAILABLE"]);
        // Alive but not ready: an orchestrator keeps the process and stops routing to it.
        expect((await request(server.url, { path: "/healthz/live" })).status).toBe(200);
        expect((await request(server.url, { path: "/healthz" })).status).toBe(200);
        const ready = await request(server.url, { path: "/healthz/ready" });
        expect([ready.status, errorCode(ready)]).toEqual([503, "METADATA_UNAVAILABLE"]);
        expect(Number(ready.headers["retry-after"])).toBeGreaterThan(0);
        // More requests than the failed-authentication burst: an outage is not a guessing client.
        for (let i = 0; i < 8; i++) expect((await subjects()).status).toBe(503);
        // The CLI says the same in one line, with no stack trace.
        const cli = await spawnCli(["subject", "list"], env);
        expect(cli.code).toBe(1);
        expect(cli.stderr).toMatch(/^error\[METADATA_UNAVAILABLE\]: [^\n]+\n$/);
      } finally {
        await proxy.up();
      }
      expect((await request(server.url, { path: "/healthz/ready" })).status).toBe(200);
      expect((await subjects()).status).toBe(200);
      const created = await request(server.url, {
        method: "POST",
        path: "/v1/subjects",
        token: operator,
        json: { ref: "after-outage" },
      });
      expect(created.status).toBe(201);
      expect(server.proc.exitCode).toBeNull();
    });
  });

  describe("the library", () => {
    const app = `vv_lib_${randomBytes(4).toString("hex")}`;
    let vault: Vault;
    beforeAll(async () => {
      vault = await sb.open({ postgresUrl: urlFor(app) });
    });
    afterAll(async () => {
      await vault.close();
    });

    it("reconnects after 57P01 and rejects with METADATA_UNAVAILABLE during an outage", async () => {
      await vault.subjects.list();
      expect(await terminate(app)).toBeGreaterThan(0);
      await until("the terminated backends to be gone", async () =>
        (await backends(app)) === 0 ? true : null,
      );
      expect(Array.isArray(await vault.subjects.list())).toBe(true);
      await proxy.down();
      try {
        expect(await codeOf(vault.subjects.list())).toBe("METADATA_UNAVAILABLE");
        expect(await codeOf(vault.subjects.add({ ref: "lib-during-outage" }))).toBe("METADATA_UNAVAILABLE");
        expect(await codeOf(vault.health.ready())).toBe("METADATA_UNAVAILABLE");
      } finally {
        await proxy.up();
      }
      await vault.health.ready();
      expect((await vault.subjects.add({ ref: "lib-after-outage" })).status).toBe("active");
    });
  });
});
