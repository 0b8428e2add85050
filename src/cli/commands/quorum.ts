/**
 * Quorum unseal from the command line (docs/operations.md §Quorum unseal): each officer submits
 * their share to a sealed server (`unseal`); an admin or operator seals a server at once (`seal`);
 * shares are written one private file per officer (`init --quorum`, `keys reshare`).
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { VaultError } from "../../errors.js";
import { readPrivateFile } from "../../fsutil/private-file.js";
import { output, type GlobalOptions } from "../context.js";
import { writeLine, type CliIo } from "../io.js";

interface RemoteFlags {
  url: string;
  fingerprint?: string;
  caCert?: string;
}

function remoteOptions(cmd: Command): Command {
  return cmd
    .requiredOption("--url <url>", "the server, e.g. https://vault.example.org:8443")
    .option(
      "--fingerprint <sha256>",
      "the certificate fingerprint the server printed (a sealed server's own)",
    )
    .option("--ca-cert <file>", "verify the server's certificate with this CA (PEM) instead of the system's");
}

/** Writes each officer's share to DIR/<officer>.share (0600) in a new private directory DIR. */
export async function writeShareFiles(dir: string, shares: ReadonlyMap<string, string>): Promise<string[]> {
  try {
    await fs.mkdir(dir, { mode: 0o700 });
  } catch (e) {
    if ((e as { code?: unknown }).code === "EEXIST")
      throw new VaultError(
        "USAGE",
        `--shares-dir ${dir} exists: give a new directory (shares are never overwritten)`,
      );
    throw new VaultError("STORE_IO", `cannot create ${dir}`, { cause: e });
  }
  const files: string[] = [];
  for (const [officer, text] of shares) {
    const file = path.join(dir, `${officer}.share`);
    await fs.writeFile(file, text, { mode: 0o600, flag: "wx" });
    files.push(file);
  }
  return files;
}

/** --quorum M --officer A --officer B … --shares-dir DIR, checked together. */
export function quorumFlags(o: {
  quorum?: string;
  officer?: string[];
  sharesDir?: string;
}): { threshold: number; officers: string[]; sharesDir: string } | undefined {
  if (o.quorum === undefined) {
    if (o.officer?.length || o.sharesDir)
      throw new VaultError("USAGE", "--officer and --shares-dir go with --quorum");
    return undefined;
  }
  if (!/^\d{1,3}$/.test(o.quorum))
    throw new VaultError("USAGE", "--quorum is the number of officers needed (M of N)");
  if (!o.sharesDir)
    throw new VaultError("USAGE", "--quorum needs --shares-dir DIR for the officers' share files");
  return { threshold: Number(o.quorum), officers: o.officer ?? [], sharesDir: o.sharesDir };
}

export function addQuorumOptions(cmd: Command): Command {
  return cmd
    .option("--quorum <m>", "seal the root key file under an M-of-N quorum of --officer (Shamir)")
    .option(
      "--officer <name>",
      "an officer holding one share (repeat for each; N = their number)",
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option(
      "--shares-dir <dir>",
      "new private directory for the officers' share files (one each: hand them out, then delete)",
    );
}

export function registerQuorum(program: Command, io: CliIo, globals: () => GlobalOptions): void {
  remoteOptions(
    program
      .command("unseal")
      .description(
        "submit an officer's unseal share to a sealed server (without --share: show its seal status)",
      )
      .option("--share <file>", "this officer's share file (0600)"),
  ).action(async (o: RemoteFlags & { share?: string }) => {
    const g = globals();
    const { checkServerUrl, requestJson } = await import("../remote.js");
    const base = checkServerUrl(o.url);
    const remote = { fingerprint: o.fingerprint, caCert: o.caCert && path.resolve(io.cwd, o.caCert) };
    let status: unknown;
    if (o.share) {
      const text = (await readPrivateFile(path.resolve(io.cwd, o.share), "unseal share file", 4096)).toString(
        "utf8",
      );
      status = await requestJson("POST", new URL("/v1/unseal", base), { share: text.trim() }, remote);
    } else {
      status = await requestJson("GET", new URL("/v1/seal", base), undefined, remote);
    }
    const s = status as { sealed: boolean; threshold: number; submitted: number };
    output(io, g, s, () => [
      s.sealed
        ? `sealed: ${s.submitted} of ${s.threshold} shares in`
        : "unsealed: the server is serving the vault",
    ]);
  });

  remoteOptions(
    program
      .command("seal")
      .description("seal a running server at once: it drops the vault's keys until a quorum unseals it")
      .requiredOption("--token-file <file>", "an admin or operator API token (0600 file)"),
  ).action(async (o: RemoteFlags & { tokenFile: string }) => {
    const g = globals();
    const { checkServerUrl, requestJson } = await import("../remote.js");
    const base = checkServerUrl(o.url);
    const token = (await readPrivateFile(path.resolve(io.cwd, o.tokenFile), "token file", 4096))
      .toString("utf8")
      .trim();
    await requestJson("POST", new URL("/v1/seal", base), undefined, {
      token,
      fingerprint: o.fingerprint,
      caCert: o.caCert && path.resolve(io.cwd, o.caCert),
    });
    output(io, g, { sealed: true }, () => ["sealed: the server serves nothing until a quorum unseals it"]);
  });
}

export function printShares(io: CliIo, files: readonly string[], threshold: number): void {
  writeLine(io.stderr, `${files.length} unseal shares written (any ${threshold} unseal the vault):`);
  for (const f of files) writeLine(io.stderr, `  ${f}`);
  writeLine(io.stderr, "hand each file to its officer alone, then delete it here");
}
