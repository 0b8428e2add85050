import type { Command } from "commander";
import path from "node:path";
import { output, readPassphrase, resolveDataDir, withVault, type GlobalOptions } from "../context.js";
import type { CliIo } from "../io.js";

/** `voxvault host …`: the hosts of a vault and their root material (docs/operations.md §Several hosts). */
export function registerHost(program: Command, io: CliIo, globals: () => GlobalOptions): void {
  const host = program.command("host").description("hosts of this vault: join, approve, revoke, list");

  host
    .command("join")
    .description(
      "make this machine a pending host of an existing vault (a new key file, no root material yet)",
    )
    .option("--name <name>", "this host's name in the host list (default: the machine's host name)")
    .option("--seal", "seal the new key file under the passphrase (--passphrase-file)")
    .action(async (o: { name?: string; seal?: boolean }) => {
      const g = globals();
      const { joinVault } = await import("../runtime.js");
      const r = await joinVault({
        dataDir: resolveDataDir(io, g),
        keyFile: g.keyFile ? path.resolve(io.cwd, g.keyFile) : undefined,
        passphrase: o.seal ? await readPassphrase(io, g) : undefined,
        postgresUrl: g.pgUrl,
        hostName: o.name,
        env: io.env,
      });
      output(io, g, r, () => [
        `host ${r.hostId} (${r.name}) is pending; its key file is ${r.keyFile}`,
        `fingerprint: ${r.fingerprint}`,
        `on an approved host, after comparing the fingerprint: voxvault host approve ${r.hostId} --fingerprint ${r.fingerprint}`,
      ]);
    });

  host
    .command("list")
    .description("hosts, their key fingerprints, and how far each applied the puncture log")
    .action(async () => {
      const g = globals();
      await withVault(io, g, async (v) => {
        const hosts = await v.hosts.list();
        output(io, g, { hosts }, () =>
          hosts.map(
            (h) =>
              `${h.id} ${h.name} ${h.status}${h.self ? " (this host)" : ""} ${h.fingerprint} ` +
              `generations [${h.generations.join(",")}] ${h.behind > 0 ? `${h.behind} punctures behind` : "up to date"}` +
              (h.lastSeen ? `, last seen ${h.lastSeen}` : ""),
          ),
        );
      });
    });

  host
    .command("approve <hostId>")
    .description("seal the root to a pending host after comparing its key fingerprint out of band")
    .requiredOption("--fingerprint <fp>", "the fingerprint `host join` printed on the new host")
    .action(async (hostId: string, o: { fingerprint: string }) => {
      const g = globals();
      await withVault(io, g, async (v) => {
        const h = await v.hosts.approve(hostId, o.fingerprint);
        output(io, g, h, () => [
          `host ${h.id} (${h.name}) approved; it receives the root at its next open or sync`,
        ]);
      });
    });

  host
    .command("revoke <hostId>")
    .description("stop sealing root material to a host; rotate the root next if its key file may be copied")
    .action(async (hostId: string) => {
      const g = globals();
      await withVault(io, g, async (v) => {
        await v.hosts.revoke(hostId);
        output(io, g, { revoked: hostId }, () => [
          `host ${hostId} revoked; if its key file may have been copied, run: voxvault keys rotate --root`,
        ]);
      });
    });
}
