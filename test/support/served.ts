/** The BUILT `voxvault serve` as a real process on loopback plain HTTP, and requests to it. */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import http from "node:http";
import type { Readable } from "node:stream";

const MAIN = new URL("../../dist/bin/voxvault.js", import.meta.url).pathname;

export interface Served {
  readonly proc: ChildProcessByStdio<null, Readable, Readable>;
  readonly url: URL;
  readonly exited: Promise<number | null>;
  stderr(): string;
  stop(): Promise<void>;
}

/** Polls `probe` (every 25 ms) until it returns a value; a condition, never a fixed sleep. */
export async function until<T>(
  what: string,
  probe: () => T | undefined | null | Promise<T | undefined | null>,
  timeoutMs = 30_000,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function serveHttp(env: NodeJS.ProcessEnv, args: readonly string[] = []): Promise<Served> {
  const proc = spawn(process.execPath, [MAIN, "serve", "--insecure-http", "--port", "0", ...args], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    proc.on("exit", (code) => {
      resolve(code);
    }),
  );
  const m = await until("the listening line", () => {
    if (proc.exitCode !== null) throw new Error(`serve exited ${proc.exitCode}: ${err}`);
    return /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
  });
  return {
    proc,
    url: new URL(m[1]!),
    exited,
    stderr: () => err,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
      await exited;
    },
  };
}

export interface HttpReply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly json: Record<string, unknown>;
}

/** One JSON request on a fresh connection. */
export function request(
  base: URL,
  r: {
    method?: string;
    path: string;
    token?: string;
    json?: unknown;
    /** A raw body with its headers (an upload chunk), instead of `json`. */
    raw?: { body: Buffer; headers: Record<string, string> };
  },
): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const body = r.raw?.body ?? (r.json === undefined ? undefined : Buffer.from(JSON.stringify(r.json)));
    const req = http.request(
      {
        host: base.hostname,
        port: Number(base.port),
        method: r.method ?? "GET",
        path: r.path,
        agent: false,
        headers: {
          ...(r.token ? { authorization: `Bearer ${r.token}` } : {}),
          ...(body && !r.raw ? { "content-type": "application/json" } : {}),
          ...(r.raw?.headers ?? {}),
        },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (d: Buffer) => parts.push(d));
        res.on("end", () => {
          const text = Buffer.concat(parts).toString();
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
          });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}
