/**
 * CLI start-up: `voxvault --help` and `voxvault subject list` (a SQLite vault with 50 subjects)
 * against `node -e 0`, all in the same run, interleaved round by round so that a busy machine
 * slows every command alike. Goal (issue 12 §5): both within 0.25 s of `node -e 0`.
 *
 * Reports the median wall time of each and its excess over `node -e 0`, and the median CPU time
 * (user + system, from /usr/bin/time when present), which varies less under load. The built
 * package is measured: run `npm run build` first (the bin is dist/bin/voxvault.js).
 * Usage: node scripts/bench.mjs bench/cli/startup.ts   (env ROUNDS, default 30)
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { machineLine, median, percentile } from "../machine.js";

// Compiled to bench/out/build/bench/cli/: the package root is five levels up.
const ROOT = fileURLToPath(new URL("../../../../../", import.meta.url));
const BIN = path.join(ROOT, "dist/bin/voxvault.js");
if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run npm run build first`);
const ROUNDS = Number(process.env.ROUNDS ?? "30");
const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

const root = mkdtempSync(path.join(os.tmpdir(), "vv-bench-cli-"));
const env = {
  ...process.env,
  HOME: root,
  XDG_CONFIG_HOME: path.join(root, "config"),
  VOXVAULT_DATA_DIR: path.join(root, "data"),
};
const cli = (...args: string[]) => execFileSync(process.execPath, [BIN, ...args], { env, stdio: "pipe" });

interface Sample {
  readonly wallMs: number;
  readonly cpuMs: number | undefined;
}

/** One run: wall time from here, CPU time of the child from /usr/bin/time when it exists. */
function once(argv: readonly string[]): Sample {
  const [cmd, args] = TIME ? [TIME, ["-f", "%U %S", ...argv]] : [argv[0]!, argv.slice(1)];
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const wallMs = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed: ${r.stderr}`);
  const cpu = TIME ? r.stderr.trim().split("\n").at(-1)!.split(" ").map(Number) : undefined;
  return { wallMs, cpuMs: cpu ? (cpu[0]! + cpu[1]!) * 1000 : undefined };
}

try {
  console.log(machineLine());
  console.log(
    `load average before: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  cli("init");
  for (let i = 0; i < 50; i++) cli("subject", "add", "--ref", `bench-${i}`);
  const commands: Record<string, readonly string[]> = {
    "node -e 0": [process.execPath, "-e", "0"],
    "voxvault --help": [process.execPath, BIN, "--help"],
    "voxvault subject list": [process.execPath, BIN, "subject", "list"],
  };
  const samples: Record<string, Sample[]> = Object.fromEntries(Object.keys(commands).map((k) => [k, []]));
  for (const argv of Object.values(commands)) once(argv); // warm the file cache
  for (let round = 0; round < ROUNDS; round++)
    for (const [name, argv] of Object.entries(commands)) samples[name]!.push(once(argv));
  const base = median(samples["node -e 0"]!.map((s) => s.wallMs));
  const baseCpu = TIME ? median(samples["node -e 0"]!.map((s) => s.cpuMs!)) : undefined;
  console.log(
    `load average after: ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  console.log(`\n${ROUNDS} rounds, interleaved\n`);
  console.log(
    "| command | median wall ms | p90 wall ms | over `node -e 0` (wall) | median CPU ms | over (CPU) |",
  );
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const [name, xs] of Object.entries(samples)) {
    const wall = xs.map((s) => s.wallMs);
    const cpu = TIME ? median(xs.map((s) => s.cpuMs!)) : undefined;
    const over = (v: number, b: number) => (name === "node -e 0" ? "—" : `+${(v - b).toFixed(0)}`);
    console.log(
      `| \`${name}\` | ${median(wall).toFixed(0)} | ${percentile(wall, 90).toFixed(0)} | ${over(median(wall), base)} | ` +
        `${cpu === undefined ? "n/a" : cpu.toFixed(0)} | ${cpu === undefined ? "n/a" : over(cpu, baseCpu!)} |`,
    );
  }
  const worst = Math.max(
    median(samples["voxvault --help"]!.map((s) => s.wallMs)),
    median(samples["voxvault subject list"]!.map((s) => s.wallMs)),
  );
  console.log(
    `\ngoal (both within 250 ms of node -e 0, median wall): ${worst - base <= 250 ? "met" : "NOT met"}`,
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
