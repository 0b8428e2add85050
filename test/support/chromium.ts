/** Debian's Chromium, headless, as the browser tests launch it. */
import { existsSync } from "node:fs";
import { chromium, type BrowserContext } from "playwright-core";
import { need } from "./tools.js";

export const CHROMIUM = process.env.VOXVAULT_CHROMIUM ?? "/usr/bin/chromium";

export const HAVE_CHROMIUM = need(
  "Chromium",
  existsSync(CHROMIUM),
  `no browser at ${CHROMIUM} (apt-get install chromium)`,
);

/** A fresh persistent context in `profileDir`, no network side traffic, plus `extraArgs`. */
export function launchChromium(
  profileDir: string,
  extraArgs: readonly string[] = [],
): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      ...extraArgs,
    ],
  });
}
