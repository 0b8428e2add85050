/**
 * `voxvault consent publish|texts`: a text file becomes the purpose's next version, hashed as the
 * vault hashes it (a UTF-8 BOM dropped, CRLF read as LF); a file that is not UTF-8 is refused with
 * nothing published; the listing shows what the library holds.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consentTextHash } from "../../src/access/consent-texts.js";
import { BACKENDS, sandbox, type Sandbox } from "../support/backends.js";
import { cliVault, type CliResult } from "../support/cli.js";

describe.each(BACKENDS)("consent texts from the CLI ($name)", (backend) => {
  let sb: Sandbox;
  let run: (...args: string[]) => Promise<CliResult>;
  beforeAll(async () => {
    sb = sandbox(backend);
    const made = await cliVault(sb);
    run = made.run;
    const init = made.init;
    expect(init.code, init.stderr).toBe(0);
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  it("publishes versions from files and lists them", async () => {
    const en = path.join(sb.root, "en.txt");
    const pt = path.join(sb.root, "pt-BR.txt");
    writeFileSync(en, "\ufeffWe check that it is you.\r\nNothing else.\r\n");
    writeFileSync(pt, "Verificamos que é você.\n");
    const out = await run(
      "--json",
      "consent",
      "publish",
      "identity-verification",
      "--text",
      `en=${en}`,
      `pt-BR=${pt}`,
    );
    expect(out.code, out.stderr).toBe(0);
    const published = JSON.parse(out.stdout) as {
      version: { version: number; texts: { lang: string; textHash: string }[] };
    };
    expect(published.version.version).toBe(1);
    expect(published.version.texts).toEqual([
      expect.objectContaining({
        lang: "en",
        textHash: consentTextHash("We check that it is you.\nNothing else.\n"),
      }),
      expect.objectContaining({ lang: "pt-BR", textHash: consentTextHash("Verificamos que é você.\n") }),
    ]);

    writeFileSync(en, Buffer.from([0x57, 0x65, 0xff, 0x0a])); // not UTF-8
    const bad = await run("--json", "consent", "publish", "identity-verification", "--text", `en=${en}`);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("INVALID_ARGUMENT");
    const missing = await run("consent", "publish", "identity-verification", "--text", `en=${en}.absent`);
    expect(missing.stderr).toContain("FILE_UNREADABLE");
    const usage = await run("consent", "publish", "identity-verification", "--text", en);
    expect(usage.stderr).toContain("USAGE");

    const listed = JSON.parse((await run("--json", "consent", "texts", "identity-verification")).stdout) as {
      versions: { version: number }[];
    };
    expect(listed.versions.map((x) => x.version)).toEqual([1]);
    const text = (await run("consent", "texts")).stdout;
    expect(text).toContain("identity-verification version 1");
    expect(text).toContain(consentTextHash("Verificamos que é você.\n"));
  });
});
