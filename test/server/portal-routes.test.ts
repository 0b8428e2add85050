/**
 * The portal's routes without a browser: the built files are served with the page policy, the
 * API's routes keep theirs, and a server without a built portal says so instead of serving
 * something else.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPortal, PAGE_CSP } from "../../src/server/web.js";
import { BACKENDS } from "../support/backends.js";
import { call, codeOf, makeWorld, type World } from "./helpers.js";

describe("portal routes", () => {
  let built: World;
  let bare: World;
  beforeAll(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "vv-portal-"));
    execFileSync(process.execPath, [path.join(import.meta.dirname, "../../scripts/bundle-web.mjs"), dir]);
    built = await makeWorld(BACKENDS[0]!, { portal: loadPortal(dir) });
    bare = await makeWorld(BACKENDS[0]!, { portal: loadPortal(path.join(dir, "absent")) });
  }, 60_000);
  afterAll(async () => {
    await built.close();
    await bare.close();
  });

  it("serves the shell, script, stylesheet and icon with the page policy", async () => {
    const types: Record<string, string> = {
      "/enrol": "text/html",
      "/portal": "text/html",
      "/portal/portal.js": "text/javascript",
      "/portal/portal.css": "text/css",
      "/portal/icon.svg": "image/svg+xml",
    };
    for (const [url, type] of Object.entries(types)) {
      const r = await call(built.app, { method: "GET", url });
      expect([url, r.status]).toEqual([url, 200]);
      expect(String(r.headers["content-type"])).toContain(type);
      expect(r.headers["content-security-policy"]).toBe(PAGE_CSP);
      expect(r.headers["x-content-type-options"]).toBe("nosniff");
    }
    const html = (await call(built.app, { method: "GET", url: "/enrol" })).text;
    expect(html).toContain('src="/portal/portal.js"');
    const api = await call(built.app, { method: "GET", url: "/healthz" });
    expect(api.headers["content-security-policy"]).toBe("default-src 'none'; frame-ancestors 'none'");
  });

  it("answers 404 with a reason when the portal was not built", async () => {
    const r = await call(bare.app, { method: "GET", url: "/enrol" });
    expect([r.status, codeOf(r)]).toEqual([404, "NOT_FOUND"]);
    expect(r.text).toContain("not built");
    expect(r.headers["content-security-policy"]).toBe("default-src 'none'; frame-ancestors 'none'");
  });
});
