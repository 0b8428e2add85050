/**
 * One entry for the built-in embedder's lifecycle (compiled and run by scripts/embedder/run.mjs):
 *
 *   train     build the training corpus, fit the projection, write models/voxvault-dsp-v2.json
 *   evaluate  privacy evaluation on the bench corpus, calibration file, report, plots
 *   all       train, then evaluate
 */

import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { train } from "./main.js";

function repositoryRoot(): string {
  for (const start of [process.env.VOXVAULT_ROOT, process.cwd(), dirname(fileURLToPath(import.meta.url))]) {
    if (start === undefined || start === "") continue;
    for (let dir = resolve(start); ; dir = dirname(dir)) {
      const pkg = join(dir, "package.json");
      if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "voxvault")
        return dir;
      if (dirname(dir) === dir) break;
    }
  }
  throw new Error("run from inside the voxvault repository (or set VOXVAULT_ROOT)");
}

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  const root = repositoryRoot();
  if (command === "train" || command === "all") await train(args, root);
  if (command === "evaluate" || command === "all") {
    const { evaluateBuiltin } = await import("../../bench/privacy/evaluate-builtin.js");
    await evaluateBuiltin(args, root);
  }
  if (!["train", "evaluate", "all"].includes(command ?? "")) {
    console.error("usage: node scripts/embedder/run.mjs train|evaluate|all [options]");
    process.exitCode = 2;
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
