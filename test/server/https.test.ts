/**
 * Smoke suite over real sockets: the BUILT `voxvault serve --port 0` (run `npm run build` first),
 * spoken to with node:https trusting only the vault's own certificate (DATA_DIR/tls/cert.pem).
 * Covers TLS trust, a handful of routes, chunked streaming uploads, a resumable upload whose
 * connection drops mid-chunk, graceful shutdown with an upload in flight, and the plain-HTTP guard.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import type { Readable } from "node:stream";
import { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fingerprint } from "../../src/server/tls.js";
import { HAVE_AUDIO_TOOLS } from "../support/audio.js";
import { BACKENDS, sandbox, type Sandbox } from "../support/backends.js";
import { spawnCli } from "../support/cli.js";
import { speechBytes } from "./helpers.js";

const MAIN = new URL("../../dist/cli/main.js", import.meta.url).pathname;

interface Served {
  readonly proc: ChildProcessByStdio<null, Readable, Readable>;
  readonly url: URL;
  readonly fingerprint: string | undefined;
  readonly exited: Promise<number | null>;
  stdout(): string;
  stderr(): string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => T | undefined | null, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function serve(env: NodeJS.ProcessEnv, args: readonly string[] = []): Promise<Served> {
  const proc = spawn(process.execPath, [MAIN, "serve", "--port", "0", ...args], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  proc.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => {
    proc.on("exit", (code) => {
      resolve(code);
    });
  });
  const m = await until("the listening line", () => {
    if (proc.exitCode !== null) throw new Error(`serve exited ${proc.exitCode}: ${err}`);
    return /listening on (https?:\/\/127\.0\.0\.1:\d+)(?: \(certificate SHA-256 ([0-9A-F:]+)\))?/.exec(out);
  });
  return { proc, url: new URL(m[1]!), fingerprint: m[2], exited, stdout: () => out, stderr: () => err };
}

interface Res {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly protocol: string | null;
}

interface Req {
  readonly method?: string;
  readonly path: string;
  readonly token?: string;
  readonly json?: unknown;
  readonly body?: Buffer;
  readonly headers?: Record<string, string>;
  /** Trust anchor; default the vault's certificate. `null`: the system's default store. */
  readonly ca?: string | null;
}

function send(base: URL, ca: string, r: Req, write?: (req: http.ClientRequest) => void): Promise<Res> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(r.headers ?? {}) };
    if (r.token) headers.authorization = `Bearer ${r.token}`;
    let body = r.body;
    if (r.json !== undefined) {
      body = Buffer.from(JSON.stringify(r.json));
      headers["content-type"] = "application/json";
    }
    const options = {
      host: base.hostname,
      port: Number(base.port),
      method: r.method ?? "GET",
      path: r.path,
      headers,
      agent: false as const,
    };
    const onResponse = (res: http.IncomingMessage) => {
      const parts: Buffer[] = [];
      res.on("data", (d: Buffer) => parts.push(d));
      res.on("end", () => {
        const protocol = res.socket instanceof TLSSocket ? res.socket.getProtocol() : null;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), protocol });
      });
      res.on("error", reject);
    };
    const req =
      base.protocol === "https:"
        ? https.request({ ...options, ...(r.ca === null ? {} : { ca: r.ca ?? ca }) }, onResponse)
        : http.request(options, onResponse);
    req.on("error", reject);
    if (write) write(req);
    else req.end(body);
  });
}

const json = (r: Res): Record<string, unknown> => JSON.parse(r.body.toString()) as Record<string, unknown>;

describe.runIf(HAVE_AUDIO_TOOLS).each(BACKENDS)("HTTPS over real sockets ($name)", (backend) => {
  let sb: Sandbox;
  let env: NodeJS.ProcessEnv;
  let cert: string;
  let initFingerprint: string;
  let admin: string;
  let operator: string;
  let server: Served | undefined;
  const call = (r: Req, write?: (req: http.ClientRequest) => void) => send(server!.url, cert, r, write);

  beforeAll(async () => {
    sb = sandbox(backend);
    env = {
      ...sb.env,
      VOXVAULT_DATA_DIR: sb.dataDir,
      ...(backend.pgUrl ? { VOXVAULT_PG_URL: backend.pgUrl } : {}),
    };
    const pg = backend.pgUrl ? ["--postgres", backend.pgUrl, "--pg-schema", sb.schema] : [];
    const init = await spawnCli(["--json", "init", ...pg], env);
    expect(init.code, init.stderr).toBe(0);
    const out = JSON.parse(init.stdout) as { certificateSha256: string; bootstrapAdminToken: string };
    initFingerprint = out.certificateSha256;
    admin = out.bootstrapAdminToken;
    const tok = await spawnCli(
      ["--json", "token", "create", "--role", "operator", "--label", "smoke-op"],
      env,
    );
    expect(tok.code, tok.stderr).toBe(0);
    operator = (JSON.parse(tok.stdout) as { token: string }).token;
    cert = readFileSync(path.join(sb.dataDir, "tls", "cert.pem"), "utf8");
    server = await serve(env);
  });
  afterAll(async () => {
    if (server?.proc.exitCode === null) {
      server.proc.kill("SIGKILL");
      await server.exited;
    }
    await sb.cleanup();
  });

  it("is trusted through the vault's own certificate only, whose key is not in the data directory", async () => {
    expect(server!.url.protocol).toBe("https:");
    expect(server!.fingerprint).toBe(fingerprint(cert));
    expect(initFingerprint).toBe(fingerprint(cert));
    const r = await call({ path: "/healthz" });
    expect(r.status).toBe(200);
    expect(json(r)).toEqual({ status: "ok" });
    expect(["TLSv1.2", "TLSv1.3"]).toContain(r.protocol);
    expect(r.headers["strict-transport-security"]).toMatch(/max-age=/);
    await expect(call({ path: "/healthz", ca: null })).rejects.toThrow(/self[- ]signed|unable to verify/i);
    // Plain HTTP to the TLS port is not served.
    await expect(
      send(new URL(`http://127.0.0.1:${server!.url.port}`), cert, { path: "/healthz" }),
    ).rejects.toMatchObject({
      code: "ECONNRESET",
    });
    const files = readdirSync(sb.dataDir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile());
    for (const f of files) {
      expect(readFileSync(path.join(f.parentPath, f.name)).includes("PRIVATE KEY"), f.name).toBe(false);
    }
  });

  it("serves a handful of routes, from enrolment to a chunked upload streamed slowly", async () => {
    expect((await call({ path: "/v1/subjects" })).status).toBe(401);
    expect((await call({ path: "/v1/subjects", token: admin })).status).toBe(200);
    const created = await call({
      method: "POST",
      path: "/v1/subjects",
      token: operator,
      json: { ref: "smoke-contractor" },
    });
    expect(created.status, created.body.toString()).toBe(201);
    const subjectId = json(created).id as string;
    expect((await call({ path: `/v1/subjects/${subjectId}`, token: operator })).status).toBe(200);
    const link = await call({
      method: "POST",
      path: `/v1/subjects/${subjectId}/enrolment-links`,
      token: operator,
    });
    const enrolToken = json(link).token as string;
    expect(json(link).url).toBe(`https://${server!.url.host}/enrol#${enrolToken}`);
    const session = json(await call({ method: "POST", path: "/v1/enrol", json: { token: enrolToken } }))
      .sessionToken as string;
    const me = await call({ path: "/v1/me", token: session });
    expect(json(me).id).toBe(subjectId);
    // Chunked transfer encoding, 8 KiB every 5 ms: the body streams into the pipeline.
    const audio = speechBytes("kal16");
    const up = await call(
      { method: "POST", path: `/v1/subjects/${subjectId}/recordings`, token: session },
      (req) => {
        req.setHeader("content-type", "audio/wav");
        let i = 0;
        const tick = () => {
          if (i >= audio.length) {
            req.end();
            return;
          }
          req.write(audio.subarray(i, i + 8192));
          i += 8192;
          setTimeout(tick, 5);
        };
        tick();
      },
    );
    expect(up.status, up.body.toString()).toBe(201);
    expect(up.headers["transfer-encoding"] ?? up.headers["content-length"]).toBeDefined();
    const rec = json(up) as { id: string; derivations: { id: string; name: string }[] };
    const mine = await call({ path: "/v1/me/derivations", token: session });
    expect((json(mine).derivations as { id: string }[]).map((d) => d.id).sort()).toEqual(
      rec.derivations.map((d) => d.id).sort(),
    );
    const quality = rec.derivations.find((d) => d.name === "quality")!;
    const read = await call({ path: `/v1/derivations/${quality.id}`, token: session });
    expect(read.status).toBe(200);
    expect(JSON.parse(read.body.toString())).toHaveProperty("durationMilliSec");
    const doc = await call({ path: "/openapi.json" });
    expect(json(doc).openapi).toBe("3.1.0");
    expect((await call({ path: "/v2/nothing" })).status).toBe(404);
    // Tokens never reach the log.
    for (const t of [admin, operator, session, enrolToken])
      expect(server!.stderr()).not.toContain(t.slice(-43));
  });

  it("resumes an upload after a chunk whose connection dropped half-way", async () => {
    const subjectId = json(
      await call({ method: "POST", path: "/v1/subjects", token: operator, json: { ref: "smoke-resume" } }),
    ).id as string;
    const audio = speechBytes("rms");
    const start = await call({
      method: "POST",
      path: `/v1/subjects/${subjectId}/uploads`,
      token: operator,
      json: { length: audio.length },
    });
    const id = json(start).id as string;
    const half = Math.floor(audio.length / 2);
    const patch = (offset: number, body: Buffer) =>
      call({
        method: "PATCH",
        path: `/v1/uploads/${id}`,
        token: operator,
        headers: { "content-type": "application/offset+octet-stream", "upload-offset": String(offset) },
        body,
      });
    expect((await patch(0, audio.subarray(0, 1000))).status).toBe(200);
    // Announce the rest, send a part of it, then drop the connection.
    await expect(
      call({ method: "PATCH", path: `/v1/uploads/${id}`, token: operator }, (req) => {
        req.setHeader("content-type", "application/offset+octet-stream");
        req.setHeader("upload-offset", "1000");
        req.setHeader("content-length", String(audio.length - 1000));
        req.write(audio.subarray(1000, half));
        setTimeout(() => req.destroy(new Error("client went away")), 200);
      }),
    ).rejects.toThrow(/went away/);
    // Give the server a moment to see the reset (the offset could not move either way:
    // a chunk commits only once it is complete).
    await sleep(300);
    const after = json(await call({ path: `/v1/uploads/${id}`, token: operator })).upload as {
      offset: number;
      status: string;
    };
    expect(after.offset).toBe(1000);
    expect(after.status).toBe("open");
    // The last chunk queues the upload (202); the server's own worker ingests it.
    const queued = await patch(1000, audio.subarray(1000));
    expect(queued.status, queued.body.toString()).toBe(202);
    const done = json(await call({ path: `/v1/uploads/${id}?wait=60`, token: operator }));
    expect((done.upload as { status: string }).status).toBe("complete");
    expect((done.recording as { id: string }).id).toMatch(/^rec_/);
  });

  it("finishes an upload in flight on SIGTERM, refuses new connections, and exits cleanly", async () => {
    const subjectId = json(
      await call({ method: "POST", path: "/v1/subjects", token: operator, json: { ref: "smoke-shutdown" } }),
    ).id as string;
    const audio = speechBytes("slt");
    const half = Math.floor(audio.length / 2);
    let finish: (() => void) | undefined;
    const upload = call(
      { method: "POST", path: `/v1/subjects/${subjectId}/recordings`, token: operator },
      (req) => {
        req.setHeader("content-type", "audio/wav");
        req.write(audio.subarray(0, half));
        finish = () => req.end(audio.subarray(half));
      },
    );
    const path0 = `/v1/subjects/${subjectId}/recordings`;
    await until("the server to receive the upload", () =>
      server!.stderr().includes(`"url":"${path0}"`) ? true : null,
    );
    server!.proc.kill("SIGTERM");
    const port = Number(server!.url.port);
    // If the test fails before the upload is awaited, its rejection must not surface as unhandled.
    upload.catch(() => undefined);
    // Within moments of the signal, new requests are refused: connection refused, 503 while
    // closing, or a reset when the connection raced the listener's close (accepted by the kernel
    // but never read). None of them is served.
    let outcome = "";
    for (let i = 0; i < 200; i++) {
      outcome = await send(server!.url, cert, { path: "/healthz" }).then(
        (r) => `status ${r.status}`,
        (e: unknown) => String((e as { code?: string }).code),
      );
      if (outcome !== "status 200") break;
      await sleep(10);
    }
    expect(outcome).toMatch(/^(ECONNREFUSED|ECONNRESET|status 503)$/);
    // The upload is still in flight, and the process waits for it.
    await sleep(200);
    expect(server!.proc.exitCode).toBeNull();
    finish!();
    const done = await upload;
    expect(done.status, done.body.toString()).toBe(201);
    expect(json(done).id).toMatch(/^rec_/);
    expect(await server!.exited).toBe(0);
    await expect(
      send(new URL(`https://127.0.0.1:${port}`), cert, { path: "/healthz" }),
    ).rejects.toMatchObject({ code: "ECONNREFUSED" });
    // The recording is committed: the next server sees it.
    const v = await sb.open({ postgresUrl: backend.pgUrl });
    try {
      expect((await v.recordings.recordings(subjectId)).map((r) => r.id)).toEqual([json(done).id]);
    } finally {
      await v.close();
    }
  });

  it("serves plain HTTP only on loopback, with a warning", async () => {
    for (const host of ["0.0.0.0", "192.0.2.10"]) {
      const refused = await spawnCli(["serve", "--insecure-http", "--host", host, "--port", "0"], env);
      expect(refused.code, host).toBe(1);
      expect(refused.stderr, host).toMatch(
        /^error\[INSECURE_CONFIG\]: plain HTTP is allowed on loopback only/m,
      );
    }
    const plain = await serve(env, ["--insecure-http"]);
    try {
      expect(plain.url.protocol).toBe("http:");
      expect(plain.fingerprint).toBeUndefined();
      expect(plain.stderr()).toMatch(/WARNING: serving plain HTTP on loopback/);
      const r = await send(plain.url, cert, { path: "/v1/subjects", token: operator });
      expect(r.status).toBe(200);
    } finally {
      plain.proc.kill("SIGTERM");
      expect(await plain.exited).toBe(0);
    }
  });
});
