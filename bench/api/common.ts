/**
 * Shared by the HTTP API benchmarks: a vault made with the project's library, the server started
 * by the project's own CLI (`voxvault serve --port 0`, compiled with the benches) in its own
 * process, and a keep-alive HTTPS client that trusts only the vault's certificate.
 */
import { execFileSync, spawn, type ChildProcessByStdio } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import type { Readable } from "node:stream";
import type { AccessConfig } from "../../src/access/config.js";
import { initVault, openVault } from "../../src/platform/index.js";
import type { Vault } from "../../src/platform/vault.js";

const CLI = new URL("../../src/cli/main.js", import.meta.url).pathname;

export interface BenchVault {
  readonly root: string;
  readonly dataDir: string;
  readonly vault: Vault;
}

/** A vault under `root` (key file beside the data directory), with an `access` section if given. */
export async function benchVault(root: string, access?: AccessConfig): Promise<BenchVault> {
  const dataDir = path.join(root, "data");
  const keyFile = path.join(root, "root.key");
  const made = await initVault({ dataDir, keyFile });
  await made.close();
  if (access) {
    const file = path.join(dataDir, "vault.json");
    const config = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...config, access }, null, 2));
  }
  return { root, dataDir, vault: await openVault({ dataDir }) };
}

export interface Served {
  readonly port: number;
  readonly cert: string;
  readonly child: ChildProcessByStdio<null, Readable, null>;
  stop(): Promise<number | null>;
}

/** Starts `voxvault serve --port 0` on the data directory (the vault must be closed by the caller first). */
export async function serve(dataDir: string): Promise<Served> {
  // Request logs go to /dev/null: the server still formats them, as in production.
  const child = spawn(process.execPath, [CLI, "--data-dir", dataDir, "serve", "--port", "0"], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on("exit", (code) => {
      resolve(code);
    });
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    void exited.then((code) => {
      reject(new Error(`serve exited with ${code}: ${out}`));
    });
  });
  return {
    port,
    cert: readFileSync(path.join(dataDir, "tls", "cert.pem"), "utf8"),
    child,
    stop: () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

export interface Reply {
  readonly status: number;
  readonly body: Buffer;
  readonly ms: number;
}

/** One request over `agent` (keep-alive, trusting the vault certificate). */
export function get(agent: https.Agent, port: number, urlPath: string, token: string): Promise<Reply> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: "127.0.0.1", port, path: urlPath, agent, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        const parts: Buffer[] = [];
        res.on("data", (d: Buffer) => parts.push(d));
        res.on("end", () => {
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(parts),
            ms: Number(process.hrtime.bigint() - t0) / 1e6,
          });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** About five seconds of real speech (flite, resampled to 16 kHz mono by sox), cached under `dir`. */
export function speechWav(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const raw = path.join(dir, "speech.raw.wav");
  const out = path.join(dir, "speech.16k.wav");
  if (!existsSync(out)) {
    try {
      execFileSync("flite", [
        "-voice",
        "slt",
        "-t",
        "The quick brown fox jumps over the lazy dog while the interviewer waits.",
        "-o",
        raw,
      ]);
      execFileSync("sox", [raw, "-r", "16000", "-c", "1", "-b", "16", out]);
    } catch (e) {
      throw new Error("this benchmark needs flite and sox for real speech", { cause: e });
    }
  }
  return out;
}

export function pct(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
