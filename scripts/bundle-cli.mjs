// Bundles the built CLI (dist/cli/main.js, after tsc) into dist/bin/ for a fast start-up
// (docs/benchmarks.md, "CLI start-up"). Node 20 has no compile cache, and resolving and compiling
// the ~1,500 ESM files of kysely, zod and our modules one by one cost ~1 s per command; one file per
// command group (code splitting at each `await import()`) costs a fraction of that.
//
// Packages with native code, WebAssembly loaded from their own directory, or only needed by `serve`
// or the audio pipeline stay external: resolved from node_modules at run time, as before.
// dist/bin/ sits as deep as dist/<dir>/, so `../../policies` and `../../models` resolve the same;
// the decoder worker is bundled beside the chunks, where worker-host looks for `./worker.js`, and
// so is the analysis worker (src/ingest/analysis-thread.ts looks for `./analysis-worker.js`).
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { build } from "esbuild";

const require = createRequire(import.meta.url);
const OUT = "dist/bin";

const external = [
  "better-sqlite3",
  "pg",
  "onnxruntime-node",
  "@cedar-policy/cedar-wasm",
  "fastify",
  "ajv-formats",
  "audio-decode",
  "@wasm-audio-decoders/*",
  "mpg123-decoder",
  // FAAD2 (GPL-2.0) and opencore-amr stay separate packages, loaded at run time, never bundled.
  "@audio/*",
  "ogg-opus-decoder",
  // native, and only HSM-rooted vaults load it (src/keys/pkcs11/token.ts)
  "pkcs11js",
  // only vaults on S3 load the AWS SDK (src/store/blob/s3/driver.ts, a dynamic import)
  "@aws-sdk/*",
];

// zod's `z` namespace re-exports every locale (half of zod's code); voxvault sets none, and zod
// itself configures English from its own module, so the bundle keeps English only.
const zodEnglishOnly = {
  name: "zod-english-only",
  setup(b) {
    const en = require.resolve("zod/v4/locales/en.js");
    b.onResolve({ filter: /locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${path.sep}zod${path.sep}`)
        ? { path: "zod-locales", namespace: "zod-locales" }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "zod-locales" }, () => ({
      contents: `export { default as en } from ${JSON.stringify(en)};`,
      loader: "js",
      resolveDir: path.dirname(en),
    }));
  },
};

rmSync(OUT, { recursive: true, force: true });
const result = await build({
  entryPoints: {
    voxvault: "dist/cli/main.js",
    worker: "dist/audio/decode/worker.js",
    "analysis-worker": "dist/ingest/analysis-worker.js",
  },
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  chunkNames: "chunk-[hash]",
  external,
  plugins: [zodEnglishOnly],
  // Smaller to parse; identifiers keep their names so stack traces (VOXVAULT_DEBUG=1) stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  // CommonJS packages bundled into ESM (commander) call require() for Node's built-in modules.
  banner: {
    js: "import { createRequire as __vvRequire } from 'node:module'; const require = __vvRequire(import.meta.url);",
  },
  logLevel: "warning",
  metafile: process.env.VOXVAULT_BUNDLE_META !== undefined,
});
chmodSync(path.join(OUT, "voxvault.js"), 0o755);
// VOXVAULT_BUNDLE_META=FILE writes esbuild's metafile (what each chunk holds) for size work.
if (result.metafile) writeFileSync(process.env.VOXVAULT_BUNDLE_META, JSON.stringify(result.metafile));
