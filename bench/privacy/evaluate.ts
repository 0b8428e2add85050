/**
 * Entry point of the privacy evaluation (node only):
 *
 *   npx tsc --outDir /tmp/pbench --module NodeNext --moduleResolution NodeNext --target ES2022 \
 *       --skipLibCheck --rootDir . bench/privacy/evaluate.ts
 *   node /tmp/pbench/bench/privacy/evaluate.js [--corpus DIR] [--out DIR] [--hashes M] [--q Q]
 *        [--seed S] [--utterances N] [--jobs J] [--sweep m:q,m:q,...]   (--sweep "" to skip)
 *
 * Builds (or reuses) the corpus, embeds it with the STAND-IN embedder (the plumbing reference; the
 * real built-in embedder is evaluated by evaluate-builtin.ts through `node scripts/embedder/run.mjs
 * evaluate`), and writes report.md, report.json and PNG plots to bench/out/privacy. Run it from the
 * repository root.
 *
 * Only node:* modules are imported statically: compiled outside the repository, the output cannot
 * resolve the repository's node_modules (@noble/hashes), so this file first links <out>/node_modules
 * to the repository's, then loads the rest.
 */

import { existsSync, readFileSync, symlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

function repositoryRoot(): string {
  const fromEnv = process.env.VOXVAULT_ROOT;
  const starts = [fromEnv, process.cwd(), dirname(fileURLToPath(import.meta.url))].filter(
    (s): s is string => !!s,
  );
  for (const start of starts) {
    for (let dir = resolve(start); ; dir = dirname(dir)) {
      const pkg = join(dir, "package.json");
      if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "voxvault")
        return dir;
      if (dirname(dir) === dir) break;
    }
  }
  throw new Error("run from inside the voxvault repository (or set VOXVAULT_ROOT)");
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(): Promise<void> {
  const root = repositoryRoot();
  const outRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
  if (!existsSync(join(outRoot, "node_modules")))
    symlinkSync(join(root, "node_modules"), join(outRoot, "node_modules"), "dir");

  const { buildCorpus } = await import("./corpus.js");
  const { evaluatePrivacy } = await import("./runner.js");
  const { standinEmbed, STANDIN_ID } = await import("./standin-embedder.js");

  const args = process.argv.slice(2);
  const corpusDir = resolve(root, argValue(args, "--corpus") ?? "bench/out/corpus");
  const outDir = resolve(root, argValue(args, "--out") ?? "bench/out/privacy");
  const log = (l: string): void => {
    console.log(l);
  };
  const seed = argValue(args, "--seed");
  const utterances = argValue(args, "--utterances");
  const sweep = argValue(args, "--sweep");
  const manifest = await buildCorpus({
    outDir: corpusDir,
    jobs: Number(argValue(args, "--jobs") ?? 2),
    log,
    ...(seed === undefined ? {} : { seed }),
    ...(utterances === undefined ? {} : { utterancesPerSpeaker: Number(utterances) }),
  });
  const report = evaluatePrivacy(manifest, {
    corpusDir,
    outDir,
    embedder: standinEmbed,
    embedderId: STANDIN_ID,
    standIn: true,
    ...(argValue(args, "--hashes") === undefined ? {} : { hashes: Number(argValue(args, "--hashes")) }),
    ...(argValue(args, "--q") === undefined ? {} : { q: Number(argValue(args, "--q")) }),
    ...(sweep === undefined
      ? {}
      : {
          sweep: sweep
            .split(",")
            .filter((x) => x !== "")
            .map((x) => x.split(":").map(Number) as [number, number]),
        }),
    log,
  });
  console.log(report.markdown);
  console.log(`wrote ${join(outDir, "report.md")}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
