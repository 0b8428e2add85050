import { execFile } from "node:child_process";
import { PassThrough, Readable } from "node:stream";
import { run } from "../../src/cli/run.js";
import type { Sandbox } from "./backends.js";

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI in-process with captured streams. */
export async function cli(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  options: { stdin?: Buffer; cwd?: string; isTty?: boolean } = {},
): Promise<CliResult> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on("data", (d: Buffer) => out.push(d));
  stderr.on("data", (d: Buffer) => err.push(d));
  const code = await run(args, {
    stdout,
    stderr,
    stdin: Readable.from(options.stdin ? [options.stdin] : []),
    env,
    cwd: options.cwd ?? process.cwd(),
    isTty: options.isTty ?? false,
  });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

/** Runs the built binary (dist/bin/voxvault.js, the bundle `npm run build` makes) as a real process. */
export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return spawnNode(new URL("../../dist/bin/voxvault.js", import.meta.url).pathname, args, env);
}

/** Runs a node script to its end as a real process, with its output. */
export function spawnNode(
  script: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { env, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * A CLI bound to a sandbox's vault (its data dir, and its PostgreSQL schema on that backend), and
 * the result of `voxvault --json init` run with it.
 */
export async function cliVault(
  sb: Sandbox,
): Promise<{ run: (...args: string[]) => Promise<CliResult>; init: CliResult }> {
  const env = {
    ...sb.env,
    VOXVAULT_DATA_DIR: sb.dataDir,
    ...(sb.backend.pgUrl ? { VOXVAULT_PG_URL: sb.backend.pgUrl } : {}),
  };
  const run = (...args: string[]) => cli(args, env);
  const pg = sb.backend.pgUrl ? ["--postgres", sb.backend.pgUrl, "--pg-schema", sb.schema] : [];
  return { run, init: await run("--json", "init", ...pg) };
}
