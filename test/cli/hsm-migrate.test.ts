/**
 * `voxvault keys migrate --to hsm` (issue 14 §1): a key-file vault's root moves into a SoftHSM2
 * token. Everything stays readable; the key file is gone, and a copy of it kept from before opens
 * nothing written after the migration, with the vault as it is or with its old configuration.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { openVault } from "../../src/platform/lifecycle.js";
import { spawnCli } from "../support/cli.js";
import { HAVE_SOFTHSM, hsmCliEnv, newToken, SOFTHSM_MODULE, type TestToken } from "../support/softhsm.js";

describe.runIf(HAVE_SOFTHSM)("moving a key-file root into an HSM", () => {
  let root: string;
  let token: TestToken;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    token = newToken();
    root = mkdtempSync(path.join(os.tmpdir(), "vv-cli-migrate-"));
    env = hsmCliEnv(token, root);
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });

  const json = (r: { stdout: string }): Record<string, unknown> =>
    JSON.parse(r.stdout) as Record<string, unknown>;
  const idOf = (r: { stdout: string }) => json(r).id as string;

  it("moves the root, keeps the data readable, and leaves the old key file useless", async () => {
    const init = await spawnCli(["init", "--json"], env);
    expect(init.code, init.stderr).toBe(0);
    const keyFile = json(init).keyFile as string;
    const keep = { id: idOf(await spawnCli(["subject", "add", "--ref", "keep@example.org", "--json"], env)) };
    const gone = { id: idOf(await spawnCli(["subject", "add", "--ref", "gone@example.org", "--json"], env)) };
    const plain = path.join(root, "sample.bin");
    writeFileSync(plain, Buffer.from("the voice of a contractor, encrypted".repeat(100)));
    const put = await spawnCli(["blob", "put", plain, "--subject", keep.id, "--kind", "raw", "--json"], env);
    expect(put.code, put.stderr).toBe(0);
    const blobId = idOf(put);
    expect((await spawnCli(["subject", "shred", gone.id, "--now", "--yes"], env)).code).toBe(0);

    // what an attacker or a careless backup kept from before
    const oldKey = path.join(root, "old.key.json");
    copyFileSync(keyFile, oldKey);
    const vaultJson = path.join(root, "data", "vault.json");
    const oldConfig = readFileSync(vaultJson, "utf8");

    const unconfirmed = await spawnCli(
      ["keys", "migrate", "--to", "hsm", "--hsm", SOFTHSM_MODULE, "--hsm-token", token.label],
      env,
    );
    expect(unconfirmed.stderr).toMatch(/^error\[USAGE\]: .*add --yes/);
    const migrate = await spawnCli(
      [
        "keys",
        "migrate",
        "--to",
        "hsm",
        "--hsm",
        SOFTHSM_MODULE,
        "--hsm-token",
        token.label,
        "--yes",
        "--json",
      ],
      env,
    );
    expect(migrate.code, migrate.stderr).toBe(0);
    const report = json(migrate);
    expect(report).toMatchObject({ resumed: false, toGeneration: 2, destroyed: [1] });
    expect(existsSync(keyFile)).toBe(false);
    const config = JSON.parse(readFileSync(vaultJson, "utf8")) as { keyProvider: Record<string, unknown> };
    expect(config.keyProvider).toMatchObject({ kind: "pkcs11", token: { label: token.label } });
    expect(config.keyProvider.migratingFrom).toBeUndefined();

    // the vault as before: the kept subject and its blob, the shred still holds
    const got = await spawnCli(["blob", "get", blobId, "--out", path.join(root, "out.bin")], env);
    expect(got.code, got.stderr).toBe(0);
    expect(readFileSync(path.join(root, "out.bin"))).toEqual(readFileSync(plain));
    const list = await spawnCli(["subject", "list", "--json"], env);
    expect(list.stdout).toContain(keep.id);
    const again = await spawnCli(["keys", "migrate", "--to", "hsm", "--yes"], env);
    expect(again.stderr).toMatch(/^error\[CONFLICT\]: the root is already in an HSM/);
    const events = await spawnCli(["audit", "events", "--type", "keys.root_migrated", "--json"], env);
    expect(events.stdout).toMatch(/"destroyedGenerations":\[1\]/);

    // the copied key file with today's vault: it is not how the vault opens any more, and
    // pointed at directly (the old configuration put back) it opens nothing
    writeFileSync(vaultJson, oldConfig);
    const withOld = await spawnCli(
      ["blob", "get", blobId, "--key-file", oldKey, "--out", path.join(root, "x.bin")],
      env,
    );
    expect(withOld.code).toBe(1);
    expect(withOld.stderr).toMatch(/^error\[(KEY_UNAVAILABLE|ROOT_KEY_\w+|RESTORE_REQUIRED)\]/);
    expect(existsSync(path.join(root, "x.bin"))).toBe(false);
  });

  it("resumes a migration whose process was killed midway", async () => {
    const t = newToken();
    const e = { ...env, VOXVAULT_DATA_DIR: path.join(root, "data-resume"), VOXVAULT_HSM_PIN: t.pin };
    const init = await spawnCli(["init", "--json"], e);
    expect(init.code, init.stderr).toBe(0);
    // enough subjects that the rotation into the token takes a while
    const v = await openVault({ dataDir: e.VOXVAULT_DATA_DIR, env: e });
    const ids: string[] = [];
    for (let i = 0; i < 400; i++) ids.push((await v.subjects.add({ ref: `resume-${i}@example.org` })).id);
    await v.close();
    const vaultJson = path.join(e.VOXVAULT_DATA_DIR, "vault.json");
    const MAIN = new URL("../../dist/bin/voxvault.js", import.meta.url).pathname;
    const child = spawn(
      process.execPath,
      [MAIN, "keys", "migrate", "--to", "hsm", "--hsm", SOFTHSM_MODULE, "--hsm-token", t.label, "--yes"],
      { env: e, stdio: "ignore" },
    );
    const exited = new Promise<void>((r) =>
      child.on("exit", () => {
        r();
      }),
    );
    // killed as soon as the migration is recorded in vault.json, before the rotation can finish
    for (;;) {
      if (child.exitCode !== null) break;
      if (readFileSync(vaultJson, "utf8").includes("migratingFrom")) {
        child.kill("SIGKILL");
        break;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    await exited;
    expect(child.signalCode, "the migration finished before it could be interrupted").toBe("SIGKILL");
    expect(readFileSync(vaultJson, "utf8")).toContain("migratingFrom");

    const resumed = await spawnCli(["keys", "migrate", "--to", "hsm", "--yes", "--json"], e);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(json(resumed)).toMatchObject({
      resumed: true,
      destroyed: [1],
    });
    const list = await spawnCli(["subject", "list", "--json", "--limit", "1000"], e);
    expect(list.code, list.stderr).toBe(0);
    for (const id of ids.slice(0, 5).concat(ids.slice(-5))) expect(list.stdout).toContain(id);
    const rotated = await spawnCli(
      ["audit", "events", "--type", "keys.root_generation_rotated", "--json"],
      e,
    );
    expect(rotated.stdout.trim().split("\n")).toHaveLength(1); // one rotation, resumed, not two
  });
});
