/**
 * The contractor portal's pages and assets, served by the vault itself (no CDN): the HTML shell at
 * /enrol (where enrolment links point) and /portal, and the bundled script and stylesheet built by
 * scripts/bundle-web.mjs into dist/web. Files are read once when the server is built; a missing
 * build answers 404 with a message saying so.
 *
 * Pages get their own Content-Security-Policy (the API's is `default-src 'none'`): scripts, styles
 * and connections to this origin only, no inline code, Trusted Types required (the portal never
 * assigns HTML strings), no framing, no form submission, no base URL change, no referrer.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { VaultError } from "../errors.js";
import { RATE, route, type AnyRoute } from "./route.js";

/** dist/web, from src/server (tests) and dist/server or dist/bin (the built CLI) alike. */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL("../../dist/web/", import.meta.url));

export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join("; ");

const ASSETS = {
  "index.html": "text/html; charset=utf-8",
  "portal.js": "text/javascript; charset=utf-8",
  "portal.css": "text/css; charset=utf-8",
  "icon.svg": "image/svg+xml",
} as const;
type AssetName = keyof typeof ASSETS;

export type PortalAssets = ReadonlyMap<AssetName, Buffer>;

/** Reads the built portal; an empty map when it was not built (the routes then answer 404). */
export function loadPortal(dir: string = DEFAULT_WEB_DIR): PortalAssets {
  const out = new Map<AssetName, Buffer>();
  for (const name of Object.keys(ASSETS) as AssetName[]) {
    try {
      out.set(name, readFileSync(path.join(dir, name)));
    } catch {
      return new Map();
    }
  }
  return out;
}

export function webRoutes(assets: PortalAssets): AnyRoute[] {
  const serve = (url: string, name: AssetName, summary: string): AnyRoute =>
    route({
      method: "GET",
      url,
      summary,
      tags: ["portal"],
      auth: "public",
      rateLimit: RATE.public,
      response: {
        200: {
          raw: true,
          description: summary,
          content: { [ASSETS[name]]: "text" },
        },
      },
      async handler(ctx) {
        const body = assets.get(name);
        if (!body) throw new VaultError("NOT_FOUND", "the portal is not built (npm run build)");
        return ctx.reply.type(ASSETS[name]).header("content-security-policy", PAGE_CSP).send(body);
      },
    });
  return [
    serve(
      "/enrol",
      "index.html",
      "The contractor portal, where enrolment links land (the secret is in the fragment)",
    ),
    serve("/portal", "index.html", "The contractor portal"),
    serve("/portal/portal.js", "portal.js", "The portal's script"),
    serve("/portal/portal.css", "portal.css", "The portal's stylesheet"),
    serve("/portal/icon.svg", "icon.svg", "The portal's icon"),
  ];
}
