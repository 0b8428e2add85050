/** Global options shared by every command, and opening the vault they name. */
import os from "node:os";
import path from "node:path";
import { VaultError } from "../errors.js";
import { readPrivateFile } from "../fsutil/private-file.js";
import type { ParsedShare } from "../keys/quorum.js";
import type { Vault } from "../platform/vault.js";
import { writeLine, type CliIo } from "./io.js";

export interface GlobalOptions {
  readonly dataDir?: string;
  readonly keyFile?: string;
  readonly passphraseFile?: string;
  readonly shareFile?: readonly string[];
  readonly pgUrl?: string;
  readonly json?: boolean;
}

export function resolveDataDir(io: CliIo, opts: GlobalOptions): string {
  const given = opts.dataDir ?? io.env.VOXVAULT_DATA_DIR;
  if (given) return path.resolve(io.cwd, given);
  const base =
    io.env.XDG_DATA_HOME && path.isAbsolute(io.env.XDG_DATA_HOME)
      ? io.env.XDG_DATA_HOME
      : path.join(io.env.HOME ?? os.homedir(), ".local", "share");
  return path.join(base, "voxvault");
}

/**
 * A passphrase from --passphrase-file or VOXVAULT_PASSPHRASE_FILE: a private file (0600, this
 * user's, not a symlink). A passphrase in the environment itself is refused: every child process
 * inherits it, /proc/<pid>/environ shows it, crash reports and process listings copy it.
 */
export async function readPassphrase(io: CliIo, opts: GlobalOptions): Promise<string | undefined> {
  if (io.env.VOXVAULT_PASSPHRASE !== undefined) {
    throw new VaultError(
      "INSECURE_CONFIG",
      "VOXVAULT_PASSPHRASE is not read (the environment leaks to child processes and /proc): put the passphrase in a 0600 file and set VOXVAULT_PASSPHRASE_FILE",
    );
  }
  const file = opts.passphraseFile ?? io.env.VOXVAULT_PASSPHRASE_FILE;
  if (!file) return undefined;
  const bytes = await readPrivateFile(path.resolve(io.cwd, file), "passphrase file", 4096);
  return bytes.toString("utf8").replace(/\r?\n$/, "");
}

/**
 * Unseal shares from --share-file (repeated) or VOXVAULT_SHARE_FILES (paths separated by ":"),
 * each a private file holding one officer's share. For one-shot commands on a quorum-sealed
 * vault; a server collects shares from the officers themselves (`voxvault unseal`).
 */
export async function readShares(io: CliIo, opts: GlobalOptions): Promise<ParsedShare[] | undefined> {
  const files = opts.shareFile?.length
    ? opts.shareFile
    : (io.env.VOXVAULT_SHARE_FILES ?? "").split(":").filter((f) => f !== "");
  if (files.length === 0) return undefined;
  const { parseShare } = await import("../keys/quorum.js");
  const out: ParsedShare[] = [];
  for (const f of files) {
    const bytes = await readPrivateFile(path.resolve(io.cwd, f), "unseal share file", 4096);
    out.push(parseShare(bytes.toString("utf8")));
  }
  return out;
}

/** What opening the vault takes from the global options: where it is and what unlocks its root. */
export async function openOptions(io: CliIo, opts: GlobalOptions) {
  return {
    dataDir: resolveDataDir(io, opts),
    keyFile: opts.keyFile ? path.resolve(io.cwd, opts.keyFile) : undefined,
    passphrase: await readPassphrase(io, opts),
    shares: await readShares(io, opts),
    postgresUrl: opts.pgUrl,
    env: io.env,
  };
}

export async function withVault<T>(io: CliIo, opts: GlobalOptions, fn: (v: Vault) => Promise<T>): Promise<T> {
  // Loaded on use: `--help` and commands that need no vault never pay for it (docs/benchmarks.md).
  const { openVault } = await import("./runtime.js");
  const vault = await openVault(await openOptions(io, opts));
  try {
    return await fn(vault);
  } finally {
    await vault.close();
  }
}

/** Prints a result: JSON on --json, otherwise the human lines. */
export function output(io: CliIo, opts: GlobalOptions, json: unknown, human: () => string[]): void {
  if (opts.json) writeLine(io.stdout, JSON.stringify(json));
  else for (const l of human()) writeLine(io.stdout, l);
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** Thrown by a command that has printed its result and ends with a given status (doctor's severities). */
export class ExitWith extends Error {
  constructor(readonly status: number) {
    super(`exit ${status}`);
  }
}
