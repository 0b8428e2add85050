/** Where a sealed root key's passphrase may come from (issue: passphrase files and the environment). */
import { chmodSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sandbox, type Sandbox } from "../support/backends.js";
import { cli } from "../support/cli.js";

describe("passphrase sources", () => {
  let sb: Sandbox;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    sb = sandbox({ name: "sqlite" });
    env = { ...sb.env, VOXVAULT_DATA_DIR: sb.dataDir };
  });
  afterEach(async () => {
    await sb.cleanup();
  });

  it("takes a private file, refuses a readable one and the environment variable", async () => {
    const file = path.join(sb.root, "pass.txt");
    writeFileSync(file, "correct horse battery staple\n", { mode: 0o644 });
    chmodSync(file, 0o644);
    const loose = await cli(["init", "--seal", "--passphrase-file", file], env);
    expect(loose.code).toBe(1);
    expect(loose.stderr).toMatch(
      /^error\[INSECURE_CONFIG\]: passphrase file .* accessible to group or others/,
    );
    const inEnv = await cli(["init", "--seal"], {
      ...env,
      VOXVAULT_PASSPHRASE: "correct horse battery staple",
    });
    expect(inEnv.stderr).toMatch(/^error\[INSECURE_CONFIG\]: VOXVAULT_PASSPHRASE is not read/);
    chmodSync(file, 0o600);
    const ok = await cli(["init", "--seal", "--passphrase-file", file, "--json"], env);
    expect(ok.code, ok.stderr).toBe(0);
    const listed = await cli(["subject", "list"], { ...env, VOXVAULT_PASSPHRASE_FILE: file });
    expect(listed.code, listed.stderr).toBe(0);
    // once the vault exists, the variable is refused as well, even next to a good file
    const both = await cli(["subject", "list"], {
      ...env,
      VOXVAULT_PASSPHRASE_FILE: file,
      VOXVAULT_PASSPHRASE: "x",
    });
    expect(both.stderr).toMatch(/^error\[INSECURE_CONFIG\]/);
  });
});
