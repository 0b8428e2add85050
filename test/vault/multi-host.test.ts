/**
 * Several machines against one PostgreSQL (issue 13 §3): two `voxvault serve --workers 0` and two
 * `voxvault worker` processes, all reaching the database through a TCP proxy that can cut it.
 * Uploads taken by either server are ingested by either worker exactly once and their status is
 * the same from both servers; a token revoked on one server is refused on the other; rate limits
 * hold across both servers; and when the database is away for 30 s, requests get 503 while
 * queued jobs wait, then every job completes once, with nothing half-committed.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { internalsOf } from "../../src/platform/vault.js";
import { HAVE_AUDIO_TOOLS, speech } from "../support/audio.js";
import { BACKENDS, sandbox, type Sandbox } from "../support/backends.js";
import { request, serveHttp, until, type Served } from "../support/served.js";
import { tcpProxy, type TcpProxy } from "../support/tcp-proxy.js";

const PG = BACKENDS.find((b) => b.name === "postgres");
const MAIN = new URL("../../dist/bin/voxvault.js", import.meta.url).pathname;
const OUTAGE_MS = 30_000;

interface Worker {
  readonly proc: ChildProcessByStdio<null, Readable, Readable>;
  readonly completed: string[];
  readonly exited: Promise<unknown>;
}

function startWorker(env: NodeJS.ProcessEnv): Worker {
  const proc = spawn(
    process.execPath,
    [MAIN, "worker", "--poll-ms", "100", "--lease-seconds", "10", "--json"],
    { env, stdio: ["ignore", "pipe", "pipe"] },
  );
  const completed: string[] = [];
  let buf = "";
  proc.stdout.on("data", (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const e = JSON.parse(line) as { uploadId: string; outcome: string };
      if (e.outcome === "complete") completed.push(e.uploadId);
    }
  });
  proc.stderr.resume();
  return { proc, completed, exited: new Promise((r) => proc.once("exit", r)) };
}

describe.runIf(PG && HAVE_AUDIO_TOOLS)("two servers and two workers on one PostgreSQL", () => {
  let sb: Sandbox;
  let proxy: TcpProxy;
  let servers: Served[] = [];
  let workers: Worker[] = [];
  let operator: string;
  let subjectId: string;
  const voices = () =>
    (["slt", "awb", "rms"] as const).map((v) =>
      readFileSync(
        speech("Glue the sheet to the dark blue background. It is easy to tell the depth of a well.", v),
      ),
    );

  beforeAll(async () => {
    sb = sandbox(PG!);
    const v = await sb.init();
    operator = (await v.access.tokens.create({ role: "operator", label: "multi" })).token;
    subjectId = (await v.subjects.add({ ref: "contractor-multi" })).id;
    await v.close();
    // One operator uploads many recordings here: more than the default per-token upload burst.
    const file = path.join(sb.dataDir, "vault.json");
    const config = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    const access = { http: { rateLimits: { upload: { perMinute: 600, burst: 100 } } } };
    writeFileSync(file, JSON.stringify({ ...config, access }, null, 2));
    const target = new URL(PG!.pgUrl!);
    proxy = await tcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const env = {
      ...sb.env,
      VOXVAULT_DATA_DIR: sb.dataDir,
      VOXVAULT_PG_URL: `postgres://postgres@127.0.0.1:${proxy.port}/postgres`,
    };
    servers = await Promise.all([serveHttp(env, ["--workers", "0"]), serveHttp(env, ["--workers", "0"])]);
    workers = [startWorker(env), startWorker(env)];
  }, 60_000);
  afterAll(async () => {
    for (const w of workers) w.proc.kill("SIGKILL");
    await Promise.all(workers.map((w) => w.exited));
    await Promise.all(servers.map((s) => s.stop()));
    await proxy.close();
    await sb.cleanup();
  });

  /** A resumable upload of `bytes` in one chunk through `server`; returns its id after the 202. */
  async function upload(server: Served, bytes: Buffer): Promise<string> {
    const created = await request(server.url, {
      method: "POST",
      path: `/v1/subjects/${subjectId}/uploads`,
      token: operator,
      json: { length: bytes.length },
    });
    expect(created.status).toBe(201);
    const id = created.json.id as string;
    const patched = await request(server.url, {
      method: "PATCH",
      path: `/v1/uploads/${id}`,
      token: operator,
      raw: {
        body: bytes,
        headers: { "content-type": "application/offset+octet-stream", "upload-offset": "0" },
      },
    });
    // Acknowledged once stored and queued (or, with a fast worker, already taken).
    expect(patched.status).toBe(202);
    expect((patched.json.upload as { status: string }).status).toMatch(/^(queued|processing)$/);
    return id;
  }

  async function outcome(
    server: Served,
    id: string,
  ): Promise<{ status: string; recordingId: string | null }> {
    const r = await request(server.url, { path: `/v1/uploads/${id}?wait=30`, token: operator });
    expect(r.status).toBe(200);
    return r.json.upload as { status: string; recordingId: string | null };
  }

  async function checkStore(ids: readonly string[]) {
    const v = await sb.open();
    try {
      const db = internalsOf(v).meta.db;
      const recs = await db
        .selectFrom("recordings")
        .select(["id", "upload_id"])
        .where("subject_id", "=", subjectId)
        .execute();
      const drv = await db
        .selectFrom("derivations")
        .select("id")
        .where("subject_id", "=", subjectId)
        .execute();
      const blobs = await db.selectFrom("blobs").select("id").where("subject_id", "=", subjectId).execute();
      const uploads = recs.map((r) => r.upload_id);
      for (const id of ids)
        expect(
          uploads.filter((u) => u === id),
          id,
        ).toHaveLength(1);
      expect(new Set(uploads).size).toBe(uploads.length);
      expect(blobs.length).toBe(drv.length); // no staged part or stray row left
      expect(await v.jobs.pending()).toBe(0);
    } finally {
      await v.close();
    }
  }

  it("uploads through either server are ingested once by either worker; status agrees everywhere", async () => {
    const audio = voices();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await upload(servers[i % 2]!, audio[i % audio.length]!));
    for (const [i, id] of ids.entries()) {
      const a = await outcome(servers[(i + 1) % 2]!, id); // the other server
      expect(a.status).toBe("complete");
      expect(await outcome(servers[i % 2]!, id)).toEqual(a);
    }
    const done = [...workers[0]!.completed, ...workers[1]!.completed];
    expect(done.sort()).toEqual([...ids].sort()); // each exactly once, by one of the workers
    await checkStore(ids);
  }, 120_000);

  it("a token revoked through one server is refused by the other at once", async () => {
    const v = await sb.open();
    const t = await v.access.tokens.create({ role: "operator", label: "short-lived" });
    const admin = await v.access.tokens.create({ role: "admin", label: "admin-multi" });
    await v.close();
    const list = (s: Served) => request(s.url, { path: "/v1/subjects", token: t.token });
    expect((await list(servers[1]!)).status).toBe(200);
    const revoked = await request(servers[0]!.url, {
      method: "DELETE",
      path: `/v1/admin/tokens/${t.info.id}`,
      token: admin.token,
    });
    expect(revoked.status).toBe(200);
    expect((await list(servers[1]!)).status).toBe(401);
  });

  it("failed authentications from one address are limited across both servers, not per server", async () => {
    const bad = "vvt_00000000000000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++)
      statuses.push((await request(servers[i % 2]!.url, { path: "/v1/subjects", token: bad })).status);
    // The default auth limit is a burst of 5 per address (20/min): 5 failures in all, not 5 per
    // server (the revocation test above may already have spent one).
    const failed = statuses.filter((s) => s === 401).length;
    expect(failed).toBeGreaterThanOrEqual(4);
    expect(failed).toBeLessThanOrEqual(5);
    expect(statuses.slice(6)).toEqual([429, 429, 429, 429]);
    // A valid token still gets through on both.
    for (const s of servers)
      expect((await request(s.url, { path: "/v1/subjects", token: operator })).status).toBe(200);
  });

  it(`the database away for ${OUTAGE_MS / 1000} s: 503s meanwhile, queued jobs wait, then each completes once`, async () => {
    const audio = voices();
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await upload(servers[i % 2]!, audio[i % audio.length]!));
    await proxy.down();
    const cutAt = Date.now();
    // Requests during the outage: 503 with the retryable code, from both servers.
    for (const s of servers) {
      const r = await request(s.url, { path: `/v1/uploads/${ids[0]}`, token: operator });
      expect(r.status).toBe(503);
      expect((r.json.error as { code: string }).code).toBe("METADATA_UNAVAILABLE");
    }
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - cutAt))));
    await proxy.up();
    // Workers and servers reconnect by themselves; every job ends complete.
    await until(
      "the servers to answer again",
      async () =>
        (await request(servers[0]!.url, { path: "/healthz/ready" })).status === 200 ? true : undefined,
      30_000,
    );
    for (const id of ids) {
      const o = await until(
        `upload ${id} to complete`,
        async () => {
          const r = await request(servers[1]!.url, { path: `/v1/uploads/${id}?wait=10`, token: operator });
          const u = r.json.upload as { status: string } | undefined;
          return u && (u.status === "complete" || u.status === "failed") ? u : undefined;
        },
        90_000,
      );
      expect(o.status, id).toBe("complete");
    }
    // Nothing half-committed: one recording per upload, no stray rows, the workers still alive.
    await checkStore(ids);
    for (const w of workers) expect(w.proc.exitCode).toBeNull();
  }, 240_000);
});
