import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../src/errors.js";

describe("docs stay true", () => {
  it("docs/errors.md lists every error code with its meaning", () => {
    const doc = readFileSync(new URL("../docs/errors.md", import.meta.url), "utf8");
    const rows = new Map(
      [...doc.matchAll(/^\|\s*`([A-Z_]+)`\s*\|\s*(.+?)\s*\|\s*$/gm)].map((m) => [m[1]!, m[2]!] as const),
    );
    for (const [code, meaning] of Object.entries(ERROR_CODES)) expect(rows.get(code), code).toBe(meaning);
    expect(rows.size).toBe(Object.keys(ERROR_CODES).length);
  });
  it("the README gives the two set-up commands and the test command", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    expect(readme).toMatch(/npm ci\s+#/);
    expect(readme).toMatch(/npm run demo\s+#/);
    expect(readme).toMatch(/npm test\s+#/);
    const ci = readFileSync(new URL("../.ci/run", import.meta.url), "utf8");
    expect(ci.trim().split("\n").at(-1)).toBe("npm test");
  });
});
