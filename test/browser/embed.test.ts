/**
 * The abstraction code (features → built-in embedder → protected template) runs in a browser and
 * gives the same template bytes as Node for the same PCM: the browser entry is bundled by esbuild
 * for the browser platform (any node:* import fails the build) and run in headless Chromium from
 * a page served over http://127.0.0.1.
 */

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { abstractPcm, type AbstractionResult } from "../../src/embed/browser-entry.js";
import { builtinModelPaths } from "../../src/embed/node.js";
import { speechLike } from "../embed/signals.js";
import { HAVE_CHROMIUM, launchChromium } from "../support/chromium.js";

const ENTRY = join(import.meta.dirname, "../../src/embed/browser-entry.ts");
const KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 29 + 7) & 0xff);

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

describe.skipIf(!HAVE_CHROMIUM)("browser: features → embedder → template in headless Chromium", () => {
  let server: Server;
  let base = "";
  let bundle = "";
  const profileDir = mkdtempSync(join(tmpdir(), "vv-chromium-"));
  const paths = builtinModelPaths();
  const model = readFileSync(paths.model);
  const calibration = readFileSync(paths.calibration);
  // 6 s of speech-like signal and 3 s of a different "voice", as raw float32.
  const pcms = [speechLike(6, { seed: 21 }), speechLike(3, { seed: 22, f0: 220, formants: [750, 2100] })];

  beforeAll(async () => {
    const out = await build({
      entryPoints: [ENTRY],
      bundle: true,
      platform: "browser",
      format: "iife",
      globalName: "voxvault",
      target: "es2022",
      write: false,
      logLevel: "silent",
    });
    bundle = out.outputFiles[0]!.text;
    server = createServer((req, res) => {
      const send = (type: string, body: string | Uint8Array): void => {
        res.writeHead(200, { "content-type": type, "cache-control": "no-store" });
        res.end(body);
      };
      const m = /^\/pcm(\d)\.f32$/.exec(req.url ?? "");
      if (req.url === "/")
        send("text/html", '<!doctype html><meta charset="utf-8"><script src="/bundle.js"></script>');
      else if (req.url === "/bundle.js") send("text/javascript", bundle);
      else if (req.url === "/model.json") send("application/json", model);
      else if (req.url === "/calibration.json") send("application/json", calibration);
      else if (m) {
        const p = pcms[Number(m[1])]!;
        send("application/octet-stream", new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => {
      if ((server as Server | undefined) === undefined) resolve();
      else
        server.close(() => {
          resolve();
        });
    });
    rmSync(profileDir, { recursive: true, force: true });
  });

  it("the bundle imports nothing Node-only", () => {
    expect(bundle.length).toBeGreaterThan(10_000);
    expect(bundle).not.toMatch(/\brequire\(|["']node:|\bprocess\.|\bBuffer\b/);
  });

  it("gives the same template bytes as Node, whatever the chunking", async () => {
    const node: AbstractionResult[] = [];
    for (const p of pcms) node.push(await abstractPcm(model, calibration, KEY, p, 16000));
    // Node itself: chunking does not matter.
    const again = await abstractPcm(model, calibration, KEY, pcms[0]!, 4096);
    expect(hex(again.template)).toBe(hex(node[0]!.template));

    const context = await launchChromium(profileDir);
    try {
      const page = await context.newPage();
      await page.goto(base + "/");
      const browser = await page.evaluate(
        async ({ key, n }) => {
          const get = async (u: string): Promise<Uint8Array> =>
            new Uint8Array(await (await fetch(u)).arrayBuffer());
          const g = globalThis as unknown as {
            voxvault: { abstractPcm: typeof abstractPcm };
            process?: unknown;
          };
          const model = await get("/model.json");
          const cal = await get("/calibration.json");
          const out = [];
          for (let i = 0; i < n; i++) {
            const pcm = new Float32Array((await get(`/pcm${i}.f32`)).buffer);
            const r = await g.voxvault.abstractPcm(
              model,
              cal,
              Uint8Array.from(key),
              pcm,
              i === 0 ? 3000 : 16000,
            );
            out.push({
              embedderId: r.embedderId,
              template: Array.from(r.template, (x) => x.toString(16).padStart(2, "0")).join(""),
              speechSec: r.speechSec,
              threshold: r.threshold,
            });
          }
          return {
            out,
            ua: (globalThis as unknown as { navigator: { userAgent: string } }).navigator.userAgent,
            hasProcess: typeof g.process !== "undefined",
          };
        },
        { key: Array.from(KEY), n: pcms.length },
      );
      expect(browser.ua).toMatch(/Chrome/);
      expect(browser.hasProcess).toBe(false);
      browser.out.forEach((b, i) => {
        expect(b.embedderId).toBe(node[i]!.embedderId);
        expect(b.speechSec).toBe(node[i]!.speechSec);
        expect(b.threshold).toBe(node[i]!.threshold);
        expect(b.template).toBe(hex(node[i]!.template));
      });
      // Two different voices give different templates.
      expect(browser.out[0]!.template).not.toBe(browser.out[1]!.template);
    } finally {
      await context.close();
    }
  });
});
