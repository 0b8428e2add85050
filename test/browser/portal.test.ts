/**
 * The contractor portal in real Chromium against a real server and vault: an enrolment link signs
 * the contractor in (the secret leaves the address bar; nothing lands in storage or cookies),
 * consent is given to the exact words shown (a text changed meanwhile is refused and shown anew),
 * withdrawn, what is kept is described, erasure is asked, cancelled, asked again, and after the
 * shred the receipt fetches the certificate. Pages are checked with axe-core (WCAG 2.2 A/AA) on a
 * phone-sized viewport, and every request stays on the vault's origin.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consentTextHash } from "../../src/access/consent-texts.js";
import { PAGE_CSP, loadPortal } from "../../src/server/web.js";
import { HAVE_AUDIO_TOOLS, speech } from "../support/audio.js";
import { BACKENDS } from "../support/backends.js";
import { CHROMIUM, HAVE_CHROMIUM } from "../support/chromium.js";
import { CONSENT_TEXT, makeWorld, SENTENCE, type Party, type World } from "../server/helpers.js";

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

interface AxeResult {
  violations: { id: string; impact: string; nodes: { target: string[] }[] }[];
}

describe.runIf(HAVE_CHROMIUM && HAVE_AUDIO_TOOLS)("browser: the contractor portal", () => {
  let w: World;
  let base = "";
  let browser: Browser;
  let context: BrowserContext;
  const requests: string[] = [];
  /** Script errors and console errors other than the failed requests listed in `failures`. */
  const problems: string[] = [];
  const failures: string[] = [];

  beforeAll(async () => {
    // The portal as `npm run build` bundles it, from the sources under test.
    const dir = mkdtempSync(path.join(tmpdir(), "vv-portal-"));
    execFileSync(process.execPath, [path.join(import.meta.dirname, "../../scripts/bundle-web.mjs"), dir]);
    // localhost, not 127.0.0.1: an IP address cannot be a WebAuthn RP ID.
    w = await makeWorld(BACKENDS[0]!, {
      softDeleteWindow: "1d",
      portal: loadPortal(dir),
      publicUrl: () => base,
    });
    await w.app.listen({ port: 0, host: "127.0.0.1" });
    base = `http://localhost:${(w.app.server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
      ],
    });
    context = await browser.newContext({ viewport: { width: 390, height: 800 }, locale: "de-DE" });
    context.on("request", (r) => requests.push(r.url()));
    context.on("response", (r) => {
      if (r.status() >= 400)
        failures.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
    });
    context.on("console", (m) => {
      if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(m.text());
    });
  }, 120_000);

  afterAll(async () => {
    await (context as BrowserContext | undefined)?.close();
    await (browser as Browser | undefined)?.close();
    await (w as World | undefined)?.close();
  });

  async function enrolmentLink(p: Party): Promise<string> {
    const link = await w.vault.access.tokens.create({
      role: "contractor",
      subjectId: p.id,
      kind: "enrolment",
      maxUses: 1,
    });
    return `${base}/enrol#${link.token}`;
  }

  async function open(url: string): Promise<Page> {
    const page = await context.newPage();
    page.on("pageerror", (e) => problems.push(e.message));
    await page.goto(url);
    await page.waitForSelector("main[data-ready]");
    return page;
  }

  /** Storage holds no token (only the log's pinned keys and last checkpoint), and there is no cookie. */
  async function expectNoCredentialStored(page: Page): Promise<void> {
    const values = await page.evaluate<string[]>(
      "[...Object.values(localStorage), ...Object.values(sessionStorage), document.cookie]",
    );
    expect(values.filter((x) => /vv[sea]_/.test(x))).toEqual([]);
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
    expect(await page.evaluate("document.cookie")).toBe("");
  }

  const card = (page: Page, purpose: string) => page.locator(`[data-purpose="${purpose}"]`);

  const axe = async (page: Page) => axeHtml(await page.content());

  /** axe-core on a copy of the page's DOM with its stylesheet, in a context without the CSP (axe injects code). */
  async function axeHtml(html: string): Promise<AxeResult["violations"]> {
    const check = await browser.newContext({ viewport: { width: 390, height: 800 }, bypassCSP: true });
    try {
      const copy = await check.newPage();
      await copy.setContent(html);
      await copy.addStyleTag({ content: await (await fetch(`${base}/portal/portal.css`)).text() });
      await copy.evaluate(AXE);
      const r = await copy.evaluate<AxeResult>(
        `axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"] } })`,
      );
      return r.violations;
    } finally {
      await check.close();
    }
  }

  it("serves pages under a strict policy: own-origin scripts only, Trusted Types, no framing", async () => {
    const r = await fetch(`${base}/enrol`);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-security-policy")).toBe(PAGE_CSP);
    expect(PAGE_CSP).not.toContain("unsafe");
    expect(r.headers.get("x-frame-options")).toBe("DENY");
    expect(r.headers.get("referrer-policy")).toBe("no-referrer");
    const html = await r.text();
    expect(html).not.toMatch(/<script>(?!<\/script>)|\son\w+=|style=/);
    // The accessibility check finds what it should (an unlabelled field, an image without text).
    const bad = await axeHtml(
      '<html lang="en"><title>x</title><main><input type="text"><img src="x.png"></main></html>',
    );
    expect(bad.map((v) => v.id)).toEqual(expect.arrayContaining(["label", "image-alt"]));
    // The API keeps its own, stricter policy.
    expect((await fetch(`${base}/healthz`)).headers.get("content-security-policy")).toBe(
      "default-src 'none'; frame-ancestors 'none'",
    );
  });

  it("signs in from the link, takes consent to the words shown, and asks again when they change", async () => {
    const p = await w.fresh(false, "awb");
    const page = await open(await enrolmentLink(p));
    expect(page.url()).toBe(`${base}/enrol`); // the secret left the address bar
    await expectNoCredentialStored(page);
    expect(await context.cookies()).toEqual([]);

    await card(page, "quality-review").getByRole("button", { name: "I agree" }).click();
    await card(page, "quality-review").locator(".state-active").waitFor();
    expect(await w.vault.access.consentActive(p.id, "quality-review")).toBe(true);
    const mine = (await w.vault.access.consents.list(p.id)).find((c) => c.purpose === "quality-review");
    expect(mine?.textHash).toBe(consentTextHash(CONSENT_TEXT));

    // A new version (two languages) published while the old text is on screen.
    const en = "We keep utterance-level statistics of your voice for research, for two years.";
    const de = "Wir speichern Statistiken Ihrer Stimme zwei Jahre lang für die Forschung.";
    await w.vault.access.consentTexts.publish("research-aggregates", { en, de });
    await card(page, "research-aggregates").getByRole("button", { name: "I agree" }).click();
    await page.locator("#status", { hasText: "The text changed" }).waitFor();
    expect(await w.vault.access.consentActive(p.id, "research-aggregates")).toBe(false);
    // Shown anew, in the reader's language (de-DE), and agreed to in it.
    await card(page, "research-aggregates").locator(".consent-text[lang=de]", { hasText: de }).waitFor();
    await card(page, "research-aggregates").getByRole("button", { name: "I agree" }).click();
    await card(page, "research-aggregates").locator(".state-active").waitFor();
    const agreed = (await w.vault.access.consents.list(p.id)).find(
      (c) => c.purpose === "research-aggregates",
    );
    expect(agreed?.textHash).toBe(consentTextHash(de));

    await card(page, "quality-review").getByRole("button", { name: "Withdraw" }).click();
    await card(page, "quality-review").locator(".state-inactive").waitFor();
    expect(await w.vault.access.consentActive(p.id, "quality-review")).toBe(false);

    // What is kept, in plain words; the protected template is said not to be reversible.
    const kept = page.locator('[data-derivation="speaker-template"]');
    await expect(kept.textContent()).resolves.toContain("voiceprint");
    await expect(kept.textContent()).resolves.toContain("Could be turned back into your voice: no.");

    expect(await axe(page)).toEqual([]);
    await page.close();
  });

  it("asks for erasure, cancels it, asks again, and fetches the certificate with the receipt", async () => {
    const p = await w.fresh(false);
    const page = await open(await enrolmentLink(p));
    const erase = page.locator("#erase");
    await erase.getByRole("button", { name: "Erase all my voice data" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByRole("button", { name: "Keep my data" }).click();
    expect((await w.vault.subjects.get(p.id)).status).toBe("active");
    await erase.getByRole("button", { name: "Erase all my voice data" }).click();
    await dialog.getByRole("button", { name: "Yes, erase" }).click();
    const receipt1 = (await erase.locator("[data-receipt]").textContent())!;
    expect(receipt1).toMatch(/^vvr_/);
    expect((await w.vault.subjects.get(p.id)).status).toBe("shred_pending");

    await erase.getByRole("button", { name: "Cancel the erasure" }).click();
    await erase.getByRole("button", { name: "Erase all my voice data" }).waitFor();
    expect((await w.vault.subjects.get(p.id)).status).toBe("active");

    await erase.getByRole("button", { name: "Erase all my voice data" }).click();
    await dialog.getByRole("button", { name: "Yes, erase" }).click();
    const receipt2 = (await erase.locator("[data-receipt]").textContent())!;
    await page.close();

    w.clock.advance(86_400_000 + 1000);
    try {
      await w.vault.shredding.runDue();
    } finally {
      w.clock.advance(-(86_400_000 + 1000));
    }
    // No session any more: the receipt is what opens the certificate.
    const later = await open(`${base}/portal`);
    await later.getByLabel("Your deletion receipt").fill(receipt2);
    await later.getByRole("button", { name: "Check" }).click();
    await later.locator("#receipt-result", { hasText: "The data was erased" }).waitFor();
    const download = later.waitForEvent("download");
    await later.getByRole("button", { name: "Save the deletion certificate" }).click();
    const file = await (await download).path();
    const cert = JSON.parse(readFileSync(file, "utf8")) as { subjectId: string; signature: unknown };
    expect(cert.subjectId).toBe(p.id);
    await later.getByLabel("Your deletion receipt").fill(`vvr_${"x".repeat(43)}`);
    await later.getByRole("button", { name: "Check" }).click();
    await later.locator("#receipt-result", { hasText: "That receipt is not known." }).waitFor();
    expect(await axe(later)).toEqual([]);
    await later.close();
    expect(receipt1).not.toBe(receipt2);
  });

  it("registers a passkey from the first session and signs in with it on the next visit", async () => {
    const p = await w.fresh(false);
    const page = await context.newPage();
    page.on("pageerror", (e) => problems.push(e.message));
    // Chromium's virtual authenticator (DevTools WebAuthn domain): a platform authenticator with
    // user verification, which keeps discoverable credentials for this page across navigations.
    const cdp = await context.newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport: "internal",
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    await page.goto(await enrolmentLink(p));
    await page.waitForSelector("main[data-ready]");
    const spare = await w.vault.access.tokens.create({
      role: "contractor",
      subjectId: p.id,
      kind: "enrolment",
      maxUses: 1,
    });
    await page.getByRole("button", { name: "Create a passkey" }).click();
    await page.locator("#passkey .state-active").waitFor();
    expect(await w.vault.access.passkeys.list(p.id)).toHaveLength(1);
    // The spare link died with the registration; no operator can make another.
    expect(
      (
        await fetch(`${base}/v1/enrol`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ token: spare.token }),
        })
      ).status,
    ).toBe(401);

    // The next visit: no link, no stored session; the passkey signs in.
    await page.goto(`${base}/portal`);
    await page.getByRole("button", { name: "Sign in with a passkey" }).click();
    await page.locator("#consent .card").first().waitFor();
    await expectNoCredentialStored(page);
    const used = (await w.vault.audit.list({ type: "passkey.used", limit: 1000 })).map((e) => e.event);
    expect(used).toContainEqual(expect.objectContaining({ subjectId: p.id }));
    await page.close();
  });

  it("shows the contractor's activity checked against the signed log, and a failed check as failed", async () => {
    const p = await w.fresh(false);
    const page = await open(await enrolmentLink(p));
    await page.locator('#activity [data-log]').waitFor();
    expect(await page.locator('#activity').textContent()).not.toContain("FAILED");
    await page.locator('#activity [data-log="verified"]').waitFor();
    await page.locator('#activity [data-event="subject.created"]').waitFor();
    await page.locator('#activity [data-event="enrolment.completed"]').waitFor();
    const stored = await page.evaluate<string | null>('localStorage.getItem("voxvault.log.lastCheckpoint")');
    expect(stored).toContain(await w.vault.log.origin());
    await page.close();

    // The server (or someone between) alters one event: the page says the check failed.
    const q = await w.fresh(false);
    const tampered = await context.newPage();
    await tampered.route("**/v1/me/audit", async (route) => {
      const res = await route.fetch();
      const bundle = (await res.json()) as { events: { record: string }[] };
      bundle.events[0]!.record = bundle.events[0]!.record.replace('"subject.created"', '"subject.creatEd"');
      await route.fulfill({ response: res, json: bundle });
    });
    tampered.on("pageerror", (e) => problems.push(e.message));
    await tampered.goto(await enrolmentLink(q));
    await tampered.locator('#activity [data-log="failed"]').waitFor();
    expect(await tampered.locator("#activity li").count()).toBe(0);
    await tampered.close();
  });

  it("uploads a recording in chunks with progress, resuming after a lost chunk", async () => {
    const p = await w.fresh(false);
    const page = await open(await enrolmentLink(p));
    const long = Array.from({ length: 4 }, () => SENTENCE).join(" ");
    const file = speech(long, "awb");
    const size = statSync(file).size;
    expect(size).toBeGreaterThan(2 * 256 * 1024); // three chunks or more
    // The network drops the second chunk once; the portal resumes from the vault's offset.
    let patches = 0;
    let dropped = 0;
    await page.route("**/v1/uploads/*", async (route) => {
      if (route.request().method() === "PATCH" && ++patches === 2) {
        dropped++;
        await route.abort("connectionreset");
      } else await route.continue();
    });
    await page.getByLabel("Recording file").setInputFiles(file);
    await page.getByRole("button", { name: "Upload" }).click();
    await page.locator("#upload-result", { hasText: "received and processed" }).waitFor({ timeout: 60_000 });
    expect(dropped).toBe(1);
    expect(
      await page.locator("#upload-progress").evaluate((e) => (e as unknown as { value: number }).value),
    ).toBe(size);
    await page.locator("#data", { hasText: "Recordings received: 1" }).waitFor();
    const recordings = await w.vault.recordings.recordings(p.id);
    expect(recordings).toHaveLength(1);
    expect(recordings[0]!.durationSec).toBeGreaterThan(10);
    await page.close();
  });

  it("says so when a link was already used, and keeps every request on the vault's origin", async () => {
    const p = await w.fresh(false);
    const link = await enrolmentLink(p);
    (await open(link)).close().catch(() => undefined);
    const again = await open(link);
    await again.getByRole("alert").filter({ hasText: "expired or was already used" }).waitFor();
    await again.close();
    expect(requests.filter((u) => !u.startsWith(base) && !u.startsWith("blob:"))).toEqual([]);
    expect(problems).toEqual([]);
    // Only the deliberate failures: a text changed while shown, an unknown receipt, a used link.
    expect([...new Set(failures)].sort()).toEqual([
      "401 POST /v1/deletion-certificate",
      "401 POST /v1/enrol",
      "409 PUT /v1/me/consents/research-aggregates",
    ]);
  });
});
