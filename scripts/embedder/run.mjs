// Compiles the embedder scripts and benches into bench/out/embedder/build and runs the CLI.
// Usage (from the repository root): node scripts/embedder/run.mjs train|evaluate|all [options]
import { execFileSync } from "node:child_process";

const out = "bench/out/embedder/build";
try {
  execFileSync(
    process.execPath,
    [
      "node_modules/typescript/bin/tsc",
      "--outDir",
      out,
      "--module",
      "NodeNext",
      "--moduleResolution",
      "NodeNext",
      "--target",
      "ES2022",
      "--skipLibCheck",
      "--rootDir",
      ".",
      "scripts/embedder/cli.ts",
    ],
    { stdio: "inherit" },
  );
  execFileSync(process.execPath, [`${out}/scripts/embedder/cli.js`, ...process.argv.slice(2)], {
    stdio: "inherit",
  });
} catch (e) {
  process.exitCode = typeof e.status === "number" ? e.status : 1;
}
