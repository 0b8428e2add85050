// Bundles the contractor portal (web/portal, browser TypeScript) into dist/web/: one ES module
// script, the stylesheet and the HTML shell. Everything the pages load is served by the vault
// itself (no CDN), under a Content-Security-Policy that allows only these files
// (src/server/web.ts). Run by `npm run build`; tests that serve the portal call bundleWeb().
import { copyFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Builds the portal into `outDir` (default dist/web); returns the directory. */
export async function bundleWeb(outDir = path.join(ROOT, "dist/web")) {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [path.join(ROOT, "web/portal/main.ts")],
    outfile: path.join(outDir, "portal.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["chrome120", "firefox121", "safari17"],
    minify: true,
    sourcemap: false,
    legalComments: "none",
    logLevel: "warning",
  });
  for (const f of ["index.html", "portal.css", "icon.svg"]) copyFileSync(path.join(ROOT, "web/portal", f), path.join(outDir, f));
  return outDir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = await bundleWeb(process.argv[2]);
  console.log(`portal bundled into ${path.relative(process.cwd(), out) || "."}`);
}
