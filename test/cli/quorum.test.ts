/**
 * Quorum unseal end to end (issue 14 §2): init splits the root among officers; one-shot commands
 * need a quorum of share files; `serve` starts sealed (liveness and unseal only), opens once
 * enough officers submitted through `voxvault unseal`, seals again on `voxvault seal` or on a
 * configured alert, and every unseal and seal is in the audit log.
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import https from "node:https";
import path from "node:path";
import type { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sandbox, type Sandbox } from "../support/backends.js";
import { cli } from "../support/cli.js";
import { until } from "../support/served.js";

/** `audit events --json` prints one event per line. */
const lines = (stdout: string) =>
  stdout
    .trim()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as { event: Record<string, unknown> });

const MAIN = new URL("../../dist/bin/voxvault.js", import.meta.url).pathname;

interface Server {
  readonly proc: ChildProcessByStdio<null, Readable, Readable>;
  out(): string;
  /** The n-th listening line (1-based): its URL and certificate fingerprint. */
  listening(n: number): Promise<{ state: string; url: string; fp: string }>;
  stop(): Promise<void>;
}

function serve(env: NodeJS.ProcessEnv, args: readonly string[] = []): Server {
  const proc = spawn(process.execPath, [MAIN, "serve", "--port", "0", ...args], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  proc.stdout.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) =>
    proc.on("exit", () => {
      resolve();
    }),
  );
  return {
    proc,
    out: () => out,
    listening: (n) =>
      until(`listening line ${n}`, () => {
        if (proc.exitCode !== null) throw new Error(`serve exited ${proc.exitCode}: ${err}`);
        const lines = [
          ...out.matchAll(
            /^(sealed: |unsealed: |)listening on (https:\/\/\S+) \(certificate SHA-256 (\S+)\)$/gm,
          ),
        ];
        const m = lines[n - 1];
        return m ? { state: m[1]!.replace(/: $/, "") || "open", url: m[2]!, fp: m[3]! } : undefined;
      }),
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
      // a server that needed SIGKILL did not shut down: that is a failure of its own
      expect(proc.signalCode, err).not.toBe("SIGKILL");
    },
  };
}

/** GET without verifying the (self-signed) certificate: the test looks at answers, not trust. */
function get(url: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { rejectUnauthorized: false, agent: false }, (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> });
        });
      })
      .on("error", reject);
  });
}

describe("quorum unseal", () => {
  let sb: Sandbox;
  let env: NodeJS.ProcessEnv;
  let shares: string;
  let servers: Server[];
  beforeEach(() => {
    sb = sandbox({ name: "sqlite" });
    env = { ...sb.env, VOXVAULT_DATA_DIR: sb.dataDir };
    shares = path.join(sb.root, "shares");
    servers = [];
  });
  afterEach(async () => {
    for (const s of servers) await s.stop();
    await sb.cleanup();
  });

  async function initQuorum(): Promise<{ adminToken: string; keyFile: string }> {
    const args = ["init", "--quorum", "2", "--shares-dir", shares, "--json"];
    for (const o of ["alice", "bob", "carol"]) args.push("--officer", o);
    const r = await cli(args, env);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { bootstrapAdminToken: string; keyFile: string };
    return { adminToken: out.bootstrapAdminToken, keyFile: out.keyFile };
  }

  const share = (officer: string) => path.join(shares, `${officer}.share`);

  it("init splits the root; one-shot commands need a quorum of share files", async () => {
    const { keyFile } = await initQuorum();
    for (const o of ["alice", "bob", "carol"]) expect(statSync(share(o)).mode & 0o777).toBe(0o600);
    const kf = JSON.parse(readFileSync(keyFile, "utf8")) as { kind: string; quorum: { threshold: number } };
    expect(kf.kind).toBe("quorum");
    expect(kf.quorum.threshold).toBe(2);
    for (const o of ["alice", "bob", "carol"])
      expect(readFileSync(keyFile, "utf8")).not.toContain(
        readFileSync(share(o), "utf8").split(" ")[5]!.trim(),
      );

    const none = await cli(["subject", "list"], env);
    expect(none.stderr).toMatch(/^error\[VAULT_SEALED\]: .*2 of its 3 officers/);
    const one = await cli(["subject", "list", "--share-file", share("bob")], env);
    expect(one.stderr).toMatch(/^error\[UNSEAL_QUORUM_SHORT\]: 1 of the 2/);
    const two = await cli(
      ["subject", "list", "--share-file", share("bob"), "--share-file", share("carol")],
      env,
    );
    expect(two.code, two.stderr).toBe(0);
    const viaEnv = await cli(["subject", "list"], {
      ...env,
      VOXVAULT_SHARE_FILES: `${share("alice")}:${share("carol")}`,
    });
    expect(viaEnv.code, viaEnv.stderr).toBe(0);

    // a reshare to 3-of-4: the old shares open nothing, the new ones do
    const newDir = path.join(sb.root, "shares2");
    const args = ["keys", "reshare", "--quorum", "3", "--shares-dir", newDir, "--share-file", share("alice")];
    args.push("--share-file", share("bob"));
    for (const o of ["alice", "bob", "dave", "erin"]) args.push("--officer", o);
    const re = await cli(args, env);
    expect(re.code, re.stderr).toBe(0);
    expect(re.stdout).toMatch(/quorum → 3-of-4 quorum/);
    const old = await cli(
      ["subject", "list", "--share-file", share("bob"), "--share-file", share("carol")],
      env,
    );
    expect(old.stderr).toMatch(/^error\[UNSEAL_SHARE_INVALID\]: .*replaced/);
    const fresh = ["bob", "dave", "erin"].flatMap((o) => ["--share-file", path.join(newDir, `${o}.share`)]);
    const events = await cli(["audit", "events", "--type", "keys.quorum_reshared", "--json", ...fresh], env);
    expect(events.code, events.stderr).toBe(0);
    expect(events.stdout).toMatch(/"threshold":3/);
    expect(events.stdout).toMatch(/"from":"quorum"/);
  });

  it("a server starts sealed, opens with a quorum from the officers, and seals again on request", async () => {
    const { adminToken } = await initQuorum();
    const server = serve(env);
    servers.push(server);
    const sealed = await server.listening(1);
    expect(sealed.state).toBe("sealed");
    expect(await get(`${sealed.url}/healthz`)).toEqual({ status: 200, json: { status: "sealed" } });
    const blocked = await get(`${sealed.url}/v1/subjects`);
    expect(blocked.status).toBe(503);
    expect((blocked.json.error as { code: string }).code).toBe("VAULT_SEALED");
    expect((await get(`${sealed.url}/healthz/ready`)).status).toBe(503);

    const unseal = (officer: string, fp = sealed.fp) =>
      cli(["unseal", "--url", sealed.url, "--fingerprint", fp, "--share", share(officer), "--json"], env);
    // the server is recognised by the fingerprint it printed, or not talked to
    const wrongPin = await unseal("alice", "AA".repeat(32));
    expect(wrongPin.stderr).toMatch(
      /^error\[INSECURE_CONFIG\]: the server's certificate is not the expected one/,
    );
    const first = await unseal("alice");
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ sealed: true, threshold: 2, submitted: 1 });
    // an altered share is refused and counted; it does not spoil the quorum
    const altered = path.join(sb.root, "bob-altered.share");
    const text = readFileSync(share("bob"), "utf8").trim();
    const last = text.at(-2) === "A" ? "B" : "A";
    writeFileSync(altered, `${text.slice(0, -2)}${last}${text.at(-1)!}\n`, { mode: 0o600 });
    const bad = await cli(
      ["unseal", "--url", sealed.url, "--fingerprint", sealed.fp, "--share", altered],
      env,
    );
    expect(bad.stderr).toMatch(/^error\[UNSEAL_SHARE_INVALID\]: bob's share does not match its commitment/);
    const status = await cli(["unseal", "--url", sealed.url, "--fingerprint", sealed.fp, "--json"], env);
    expect(JSON.parse(status.stdout)).toEqual({ sealed: true, threshold: 2, submitted: 1 });

    const second = await unseal("carol");
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toEqual({ sealed: false, threshold: 2, submitted: 0 });
    const open = await server.listening(2);
    expect(open.state).toBe("unsealed");
    expect(open.fp).not.toBe(sealed.fp); // now the vault's own certificate
    expect((await get(`${open.url}/healthz/ready`)).status).toBe(200);

    const tokenFile = path.join(sb.root, "admin.token");
    writeFileSync(tokenFile, adminToken, { mode: 0o600 });
    const seal = await cli(
      ["seal", "--url", open.url, "--fingerprint", open.fp, "--token-file", tokenFile],
      env,
    );
    expect(seal.code, seal.stderr).toBe(0);
    const again = await server.listening(3);
    expect(again.state).toBe("sealed");
    expect(again.url).toBe(sealed.url); // the same address
    expect((await get(`${again.url}/healthz`)).json).toEqual({ status: "sealed" });
    expect((await get(`${again.url}/v1/subjects`)).status).toBe(503);
    await server.stop();

    const quorum = ["--share-file", share("alice"), "--share-file", share("bob")];
    const unsealedEv = await cli(["audit", "events", "--type", "vault.unsealed", "--json", ...quorum], env);
    const ev = lines(unsealedEv.stdout);
    expect(ev).toHaveLength(1);
    expect(ev[0]!.event).toMatchObject({ officers: ["alice", "carol"], refusedShares: 1 });
    const sealedEv = await cli(["audit", "events", "--type", "vault.sealed", "--json", ...quorum], env);
    expect(lines(sealedEv.stdout)).toMatchObject([{ event: { reason: "operator" } }]);
    const verify = await cli(["audit", "verify", ...quorum], env);
    expect(verify.code, verify.stderr).toBe(0);
  });

  it("seals itself when the audit log records a configured alert, on any host", async () => {
    await initQuorum();
    const server = serve(env, ["--seal-on", "subject.created"]);
    servers.push(server);
    const sealed = await server.listening(1);
    for (const o of ["bob", "carol"]) {
      const r = await cli(
        ["unseal", "--url", sealed.url, "--fingerprint", sealed.fp, "--share", share(o)],
        env,
      );
      expect(r.code, r.stderr).toBe(0);
    }
    const open = await server.listening(2);
    expect((await get(`${open.url}/healthz/ready`)).status).toBe(200);
    // another process records the alert event
    const quorum = ["--share-file", share("alice"), "--share-file", share("bob")];
    const add = await cli(["subject", "add", "--ref", "alert@example.org", ...quorum], env);
    expect(add.code, add.stderr).toBe(0);
    const after = await server.listening(3);
    expect(after.state).toBe("sealed");
    expect((await get(`${after.url}/v1/subjects`)).status).toBe(503);
    await server.stop();
    const sealedEv = await cli(["audit", "events", "--type", "vault.sealed", "--json", ...quorum], env);
    expect(lines(sealedEv.stdout)).toMatchObject([{ event: { reason: "alert", alert: "subject.created" } }]);
  });
});
