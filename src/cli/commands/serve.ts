import { existsSync, promises as fs } from "node:fs";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { Command } from "commander";
import type { FastifyInstance } from "fastify";
import { VaultError } from "../../errors.js";
import type { ParsedShare } from "../../keys/quorum.js";
import type { Vault } from "../../platform/vault.js";
import { readPassphrase, readShares, resolveDataDir, type GlobalOptions } from "../context.js";
import { writeLine, type CliIo } from "../io.js";

/**
 * Polls the audit log (every host's events) for events of the given types recorded after the
 * vault was unsealed; the first one found calls `alert`. Polling the log rather than hooking this
 * process means an alert raised on any host seals every quorum-sealed server.
 */
function watchAlerts(
  vault: Vault,
  types: ReadonlySet<string>,
  alert: (type: string) => void,
  everyMs = 2000,
): NodeJS.Timeout {
  const from = new Date(Date.now() - 1000).toISOString();
  let afterSeq = 0;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void (async () => {
      for (const type of types) {
        const found = await vault.log.events({ type, from, afterSeq, limit: 1 });
        if (found.length > 0) {
          afterSeq = Math.max(afterSeq, found[0]!.seq);
          clearInterval(timer);
          alert(type);
          return;
        }
      }
    })()
      .catch(() => undefined) // the database away: the next tick asks again
      .finally(() => {
        busy = false;
      });
  }, everyMs);
  timer.unref();
  return timer;
}

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
      "--seal-on <event-type...>",
      "quorum-sealed vaults: seal at once when the audit log records an event of this type (any host), e.g. breakglass.granted",
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
        sealOn?: string[];
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
        const { openVault, ensureServerTls, fingerprint, locateRoot } = runtime;
        const { AUDIT_EVENT_TYPES } = await import("../../audit/events.js");
        for (const t of o.sealOn ?? [])
          if (!(AUDIT_EVENT_TYPES as readonly string[]).includes(t))
            throw new VaultError("USAGE", `--seal-on: no audit event type ${JSON.stringify(t)}`);
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
        const keyFile = g.keyFile ? path.resolve(io.cwd, g.keyFile) : undefined;
        const open = async (shares: readonly ParsedShare[] | undefined) =>
          openVault({
            dataDir,
            keyFile,
            passphrase: await readPassphrase(io, g),
            shares,
            postgresUrl: g.pgUrl,
            env: io.env,
            actor: { type: "system", id: "server" },
          });
        const dirs = [...(o.policies ?? []).map((d) => path.resolve(io.cwd, d))];
        const local = path.join(dataDir, "policies");
        if (existsSync(local)) dirs.push(local);
        const engine = await PolicyEngine.load({ dirs });
        const given =
          o.cert && o.key
            ? {
                cert: await fs.readFile(path.resolve(io.cwd, o.cert), "utf8"),
                key: await fs.readFile(path.resolve(io.cwd, o.key), "utf8"),
              }
            : undefined;
        if (o.insecureHttp)
          writeLine(
            io.stderr,
            "WARNING: serving plain HTTP on loopback; tokens and data travel unencrypted on this host",
          );
        let listenPort = port;
        /** The full API on an open vault; `seal` is set on a quorum-sealed vault's server. */
        const serveVault = async (vault: Vault, seal: (() => Promise<void>) | undefined, prefix = "") => {
          await vault.audit.recordAccess([
            {
              actor: vault.actor,
              event: { type: "policy.loaded", policySetHash: engine.hash, policies: engine.policies.length },
            },
          ]);
          let https: { key: string; cert: string } | undefined;
          let fp = "";
          if (!o.insecureHttp) {
            if (given) {
              https = given;
              fp = fingerprint(given.cert);
            } else {
              const made = await ensureServerTls(vault);
              https = { cert: made.cert, key: made.key };
              fp = made.fingerprint;
            }
          }
          const app = await buildServer({
            vault,
            engine,
            logger: true,
            https,
            publicUrl: () => origin,
            seal,
          });
          const address = await app.listen({ host: o.host, port: listenPort });
          listenPort = (app.server.address() as AddressInfo).port;
          // Stopped by vault.close() after the listener, so a job in hand finishes first.
          if (workers > 0) vault.jobs.startWorker({ concurrency: workers });
          // On loopback the listening address is the only way in; elsewhere only a configured one.
          if (origin === undefined && isLoopback(o.host)) origin = publicOrigin(address);
          writeLine(io.stdout, `${prefix}listening on ${address}${fp ? ` (certificate SHA-256 ${fp})` : ""}`);
          return app;
        };
        const closeApp = async (app: FastifyInstance, deadline: number) => {
          // In-flight requests (uploads) may finish until the deadline; new ones get 503.
          const cut = await closeWithDeadline(app, deadline);
          if (cut > 0)
            writeLine(io.stderr, `shutdown deadline (${deadline} ms) passed: closed ${cut} connection(s)`);
        };

        const root = await locateRoot({ dataDir, keyFile, env: io.env });
        const shares = await readShares(io, g);
        let stopping: () => Promise<void>;
        if (root.sealedBy !== "quorum" || shares !== undefined) {
          if (o.sealOn?.length)
            throw new VaultError(
              "USAGE",
              "--seal-on needs a server that starts sealed (a quorum-sealed vault)",
            );
          const vault = await open(shares);
          const app = await serveVault(vault, undefined);
          stopping = async () => {
            await closeApp(app, vault.access.config.http.timeouts.shutdownMs);
            await vault.close();
          };
        } else {
          // Sealed: only liveness, the seal status and share submission until a quorum is in.
          const { UnsealGate } = await import("../../server/unseal-gate.js");
          const { buildSealedServer } = await import("../../server/sealed-app.js");
          const { selfSignedCertificate } = await import("../../server/x509.js");
          const sealOn = new Set(o.sealOn ?? []);
          let current: FastifyInstance | undefined;
          let watcher: NodeJS.Timeout | undefined;
          const startSealed = async () => {
            let https = given;
            if (!o.insecureHttp && !https) {
              // The vault's own TLS key is under the sealed root: a fresh certificate each time.
              const made = selfSignedCertificate(["localhost", o.host]);
              https = {
                cert: made.certPem,
                key: made.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
              };
            }
            const app = await buildSealedServer({
              gate,
              https,
              logger: false,
              onActivationError: (e) => {
                writeLine(io.stderr, `unsealed, but serving failed; sealed again: ${String(e)}`);
              },
            });
            const address = await app.listen({ host: o.host, port: listenPort });
            listenPort = (app.server.address() as AddressInfo).port;
            const fp = https ? ` (certificate SHA-256 ${fingerprint(https.cert)})` : "";
            writeLine(io.stdout, `sealed: listening on ${address}${fp}`);
            current = app;
          };
          const gate: InstanceType<typeof UnsealGate> = new UnsealGate({
            keyFile: root.keyFile,
            vaultId: root.vaultId,
            open: (s) => open(s),
            onUnsealed: async (vault) => {
              if (current) await closeApp(current, 2000);
              current = await serveVault(vault, () => gate.seal("operator", undefined, report), "unsealed: ");
              if (sealOn.size > 0)
                watcher = watchAlerts(vault, sealOn, (type) => {
                  void gate.seal("alert", type, report);
                });
            },
            onSealed: async () => {
              if (watcher) clearInterval(watcher);
              watcher = undefined;
              // an emergency: in-flight requests get a short grace, not the usual deadline
              if (current) await closeApp(current, 2000);
              current = undefined;
              await startSealed();
            },
          });
          const report = (e: unknown) => {
            writeLine(io.stderr, `seal recorded nowhere: the audit log could not be written (${String(e)})`);
          };
          await startSealed();
          stopping = async () => {
            if (watcher) clearInterval(watcher);
            if (current) await closeApp(current, gate.vault?.access.config.http.timeouts.shutdownMs ?? 2000);
            await gate.vault?.close();
          };
        }
        await new Promise<void>((resolve) => {
          let closing = false;
          const stop = () => {
            if (closing) return;
            closing = true;
            void stopping().then(resolve, resolve);
          };
          process.once("SIGINT", stop);
          process.once("SIGTERM", stop);
        });
      },
    );
}
