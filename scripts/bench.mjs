// Compiles the benchmarks and runs the named ones (default: all of bench/vault and bench/api).
// Usage: node scripts/bench.mjs [bench/vault/crypto.ts ...]
import { execFileSync } from "node:child_process";
import { cpSync, existsSync } from "node:fs";

const targets = process.argv.slice(2);
const list = targets.length
  ? targets
  : [
      "bench/vault/crypto.ts",
      "bench/vault/stream-rss.ts",
      "bench/vault/shred.ts",
      "bench/api/authz.ts",
      "bench/api/http.ts",
      "bench/api/budget.ts",
      "bench/ingest/e2e.ts",
    ];
execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.bench.json"], {
  stdio: "inherit",
});
// The compiled code loads its Cedar schema and default policies from ../../policies/ and the
// built-in embedder's model from ../../models/.
cpSync("policies", "bench/out/build/policies", { recursive: true });
cpSync("models", "bench/out/build/models", { recursive: true });
for (const t of list) {
  const js = "bench/out/build/" + t.replace(/\.ts$/, ".js");
  if (!existsSync(js)) throw new Error(`no compiled bench for ${t}`);
  console.log(`\n## ${t}\n`);
  execFileSync(process.execPath, ["--expose-gc", js], { stdio: "inherit" });
}
