// Screenshots of the contractor portal for docs/portal.md, taken in Debian's Chromium against a
// throwaway vault (dist/, so `npm run build` first): the sign-in page, the signed-in page at a
// phone's width, and the erasure scheduled with its receipt. Writes docs/img/portal-*.png.
// Usage: node scripts/portal-screenshots.mjs   (needs chromium and flite)
import { execFileSync } from "node:child_process";
import { createReadStream, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { initVault } from "../dist/index.js";
import { buildServer } from "../dist/server/app.js";
import { PolicyEngine } from "../dist/policy/engine.js";

const root = mkdtempSync(path.join(os.tmpdir(), "vv-shots-"));
const out = path.resolve("docs/img");
let origin = "";
const vault = await initVault({
  dataDir: path.join(root, "data"),
  keyFile: path.join(root, "root.key"),
  softDeleteWindow: "7d",
});
try {
  await vault.access.consentTexts.publish("quality-review", {
    en: "We keep quality figures of your recordings (length, loudness, noise) to check that they are usable.\nThey cannot be turned back into your voice. We keep them for 90 days.",
    de: "Wir speichern Qualitätswerte Ihrer Aufnahmen (Länge, Lautstärke, Rauschen), um zu prüfen, ob sie brauchbar sind.\nSie lassen sich nicht in Ihre Stimme zurückverwandeln. Wir speichern sie 90 Tage.",
  });
  await vault.access.consentTexts.publish("identity-verification", {
    en: "We keep a protected voiceprint to check that later interviews are you and not someone answering for you.\nIt is locked with a key and cannot be compared anywhere else.",
  });
  const s = await vault.subjects.add({ ref: "screenshot-contractor" });
  const wav = path.join(root, "speech.wav");
  execFileSync("flite", [
    "-voice",
    "slt",
    "-t",
    "I have worked on speech annotation projects for three years, mostly interviews.",
    "-o",
    wav,
  ]);
  await vault.recordings.ingest({ subjectId: s.id, source: createReadStream(wav) });
  const app = await buildServer({ vault, engine: await PolicyEngine.load(), publicUrl: () => origin });
  await app.listen({ port: 0, host: "127.0.0.1" });
  origin = `http://localhost:${app.server.address().port}`;
  const browser = await chromium.launch({
    executablePath: process.env.VOXVAULT_CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
  const page = await (
    await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1, locale: "en-GB" })
  ).newPage();
  const link = async () =>
    `${origin}/enrol#${(await vault.access.tokens.create({ role: "contractor", subjectId: s.id, kind: "enrolment", maxUses: 1 })).token}`;

  await page.goto(`${origin}/portal`);
  await page.waitForSelector("main[data-ready]");
  await page.screenshot({ path: path.join(out, "portal-sign-in.png") });

  await page.goto(await link());
  await page.waitForSelector('#activity [data-log="verified"]');
  await page.locator('[data-purpose="quality-review"]').getByRole("button", { name: "I agree" }).click();
  await page.locator('[data-purpose="quality-review"] .state-active').waitFor();
  await page.screenshot({ path: path.join(out, "portal-home.png"), fullPage: true });

  await page.locator("#erase").getByRole("button", { name: "Erase all my voice data" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Yes, erase" }).click();
  await page.locator("#erase [data-receipt]").waitFor();
  await page.locator("#erase").screenshot({ path: path.join(out, "portal-erase.png") });
  await browser.close();
  await app.close();
  console.log(
    `wrote ${["portal-sign-in.png", "portal-home.png", "portal-erase.png"].map((f) => path.join("docs/img", f)).join(", ")}`,
  );
} finally {
  await vault.close().catch(() => undefined);
  rmSync(root, { recursive: true, force: true });
}
