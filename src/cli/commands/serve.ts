import { existsSync, promises as fs } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { VaultError } from "../../errors.js";
import { readPassphrase, resolveDataDir, type GlobalOptions } from "../context.js";
import { writeLine, type CliIo } from "../io.js";

/** 127.0.0.0/8 as a dotted quad (node:net is not loaded just to register this command). */
const OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]\\d|\\d)"; // as node:net's isIPv4: no leading zeros
const LOOPBACK_V4 = new RegExp(`^127\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || LOOPBACK_V4.test(host);
}

export function registerServe(program: Command, io: CliIo, globals: () => GlobalOptions): void {
  program
    .command("serve")
    .description("run the HTTPS API (self-signed certificate from init unless --cert/--key)")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <n>", "port (0 picks a free one)", "8443")
    .option("--cert <file>", "TLS certificate (PEM)")
    .option("--key <file>", "TLS private key (PEM)")
    .option("--policies <dir...>", "extra Cedar policy directories (also DATA_DIR/policies if present)")
    .option("--insecure-http", "serve plain HTTP (loopback only; for local tests)")
    .option(
      "--workers <n>",
      "ingest jobs this process runs at once beside the API (0: only take uploads; `voxvault worker` runs them elsewhere)",
      "1",
    )
    .option(
      "--public-url <url>",
      "origin that enrolment links point at (env VOXVAULT_PUBLIC_URL; default: the listening address on loopback, else relative links)",
    )
    .action(
      async (o: {
        host: string;
        port: string;
        cert?: string;
        key?: string;
        policies?: string[];
        insecureHttp?: boolean;
        publicUrl?: string;
        workers: string;
      }) => {
        const g = globals();
        // The server, Cedar and the vault load here only: other commands never import them.
        const [runtime, { PolicyEngine }, { buildServer, publicOrigin }, { closeWithDeadline }] =
          await Promise.all([
            import("../runtime.js"),
            import("../../policy/engine.js"),
            import("../../server/app.js"),
            import("../../server/connections.js"),
          ]);
        const { openVault, ensureServerTls, fingerprint } = runtime;
        const port = Number(o.port);
        const workers = Number(o.workers);
        if (!Number.isInteger(workers) || workers < 0 || workers > 64)
          throw new VaultError("USAGE", "--workers must be 0..64");
        if (!Number.isInteger(port) || port < 0 || port > 65535)
          throw new VaultError("USAGE", "--port must be 0..65535");
        if (o.insecureHttp && !isLoopback(o.host))
          throw new VaultError("INSECURE_CONFIG", "plain HTTP is allowed on loopback only");
        const configured = o.publicUrl ?? io.env.VOXVAULT_PUBLIC_URL;
        let origin = configured === undefined ? undefined : publicOrigin(configured);
        if ((o.cert === undefined) !== (o.key === undefined))
          throw new VaultError("USAGE", "--cert and --key go together");
        const dataDir = resolveDataDir(io, g);
        const vault = await openVault({
          dataDir,
          keyFile: g.keyFile ? path.resolve(io.cwd, g.keyFile) : undefined,
          passphrase: await readPassphrase(io, g),
          postgresUrl: g.pgUrl,
          env: io.env,
          actor: { type: "system", id: "server" },
        });
        const dirs = [...(o.policies ?? []).map((d) => path.resolve(io.cwd, d))];
        const local = path.join(dataDir, "policies");
        if (existsSync(local)) dirs.push(local);
        const engine = await PolicyEngine.load({ dirs });
        await vault.audit.recordAccess([
          {
            actor: vault.actor,
            event: { type: "policy.loaded", policySetHash: engine.hash, policies: engine.policies.length },
          },
        ]);
        let https: { key: string; cert: string } | undefined;
        let fp = "";
        if (!o.insecureHttp) {
          if (o.cert && o.key) {
            https = {
              cert: await fs.readFile(path.resolve(io.cwd, o.cert), "utf8"),
              key: await fs.readFile(path.resolve(io.cwd, o.key), "utf8"),
            };
            fp = fingerprint(https.cert);
          } else {
            const made = await ensureServerTls(vault);
            https = { cert: made.cert, key: made.key };
            fp = made.fingerprint;
          }
        } else {
          writeLine(
            io.stderr,
            "WARNING: serving plain HTTP on loopback; tokens and data travel unencrypted on this host",
          );
        }
        const app = await buildServer({ vault, engine, logger: true, https, publicUrl: () => origin });
        const address = await app.listen({ host: o.host, port });
        // Stopped by vault.close() after the listener, so a job in hand finishes first.
        if (workers > 0) vault.jobs.startWorker({ concurrency: workers });
        // On loopback the listening address is the only way in; elsewhere only a configured one.
        if (origin === undefined && isLoopback(o.host)) origin = publicOrigin(address);
        writeLine(io.stdout, `listening on ${address}${fp ? ` (certificate SHA-256 ${fp})` : ""}`);
        await new Promise<void>((resolve) => {
          let closing = false;
          const stop = () => {
            if (closing) return;
            closing = true;
            // In-flight requests (uploads) may finish until the deadline; new ones get 503.
            const deadline = vault.access.config.http.timeouts.shutdownMs;
            void closeWithDeadline(app, deadline)
              .then((cut) => {
                if (cut > 0)
                  writeLine(
                    io.stderr,
                    `shutdown deadline (${deadline} ms) passed: closed ${cut} connection(s)`,
                  );
              })
              .then(() => vault.close())
              .then(resolve, resolve);
          };
          process.once("SIGINT", stop);
          process.once("SIGTERM", stop);
        });
      },
    );
}
