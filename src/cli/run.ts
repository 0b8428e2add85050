/**
 * The CLI: every command, one error contract. Failures print one line `error[CODE]: message` on
 * stderr and exit non-zero (2 for usage, 1 otherwise); stack traces never reach the user.
 */
import { Command, CommanderError, Option } from "commander";
import { VaultError, asVaultError } from "../errors.js";
import { registerAudit } from "./commands/audit.js";
import { registerBlob } from "./commands/blob.js";
import { registerIngest } from "./commands/ingest.js";
import { registerServe } from "./commands/serve.js";
import { registerAccess } from "./commands/access.js";
import { registerInit } from "./commands/init.js";
import { registerKeys } from "./commands/keys.js";
import { registerHost } from "./commands/host.js";
import { registerRestore } from "./commands/restore.js";
import { registerMaintenance } from "./commands/maintenance.js";
import { registerDoctor } from "./commands/doctor.js";
import { registerSubject } from "./commands/subject.js";
import { registerWorker } from "./commands/worker.js";
import { registerImport } from "./commands/import.js";
import { registerQuorum } from "./commands/quorum.js";
import { ExitWith, type GlobalOptions } from "./context.js";
import { processIo, writeLine, type CliIo } from "./io.js";

export { VERSION } from "../version.js";
import { VERSION } from "../version.js";

export type CommandRegistrar = (program: Command, io: CliIo, globals: () => GlobalOptions) => void;

/** Later subsystems (ingest, server, audit log) add their commands here. */
const registrars: CommandRegistrar[] = [
  registerInit,
  registerSubject,
  registerKeys,
  registerHost,
  registerRestore,
  registerBlob,
  registerIngest,
  registerWorker,
  registerImport,
  registerServe,
  registerQuorum,
  registerAccess,
  registerMaintenance,
  registerAudit,
  registerDoctor,
];

export function buildProgram(io: CliIo): Command {
  const program = new Command("voxvault");
  program
    .description("a vault for voice data: abstraction on arrival, per-subject keys, crypto-shredding, audit")
    .version(VERSION)
    .addOption(new Option("--data-dir <dir>", "vault data directory (env VOXVAULT_DATA_DIR)"))
    .addOption(
      new Option("--key-file <file>", "root key file (default: under $XDG_CONFIG_HOME/voxvault/keys)"),
    )
    .addOption(
      new Option(
        "--passphrase-file <file>",
        "passphrase for a sealed root key (env VOXVAULT_PASSPHRASE_FILE)",
      ),
    )
    .addOption(
      new Option(
        "--share-file <file>",
        "an officer's unseal share for a quorum-sealed root (repeat; env VOXVAULT_SHARE_FILES, ':'-separated)",
      ).argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]),
    )
    .addOption(
      new Option(
        "--pg-url <url>",
        "PostgreSQL URL for vaults with PostgreSQL metadata (env VOXVAULT_PG_URL)",
      ),
    )
    .option("--json", "machine-readable output on stdout")
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: () => undefined, // reported by run() in the error[CODE] form
    });
  const globals = () => program.opts<GlobalOptions>();
  for (const register of registrars) register(program, io, globals);
  for (const cmd of program.commands) {
    cmd.exitOverride();
    for (const sub of cmd.commands) sub.exitOverride();
  }
  return program;
}

export function exitCodeFor(e: VaultError): number {
  return e.code === "USAGE" ? 2 : 1;
}

/** Runs the CLI with argv (without node and script); returns the exit code. */
export async function run(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof ExitWith) return e.status;
    if (e instanceof CommanderError) {
      if (
        e.code === "commander.helpDisplayed" ||
        e.code === "commander.version" ||
        e.code === "commander.help"
      )
        return 0;
      // One line per failure: commander's "(Did you mean …?)" hint goes on the same line.
      const msg = e.message
        .replace(/^error: /, "")
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l.length > 0)
        .join(" ");
      writeLine(io.stderr, `error[USAGE]: ${msg}`);
      return 2;
    }
    const ve = asVaultError(e);
    const message =
      ve.code === "INTERNAL"
        ? "unexpected internal error (run with VOXVAULT_DEBUG=1 for details)"
        : ve.message;
    writeLine(io.stderr, `error[${ve.code}]: ${message}`);
    if (io.env.VOXVAULT_DEBUG === "1" && e instanceof Error && e.stack) writeLine(io.stderr, e.stack);
    return exitCodeFor(ve);
  }
}

export { VaultError };
