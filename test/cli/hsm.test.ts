/**
 * `voxvault init --hsm` and an HSM-rooted vault used through the CLI as a real process: the PIN
 * from the environment or a file (never an argument), the root in the token, a shred that the
 * token-sealed state carries, and a token lacking a mechanism refused with its own code.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnCli } from "../support/cli.js";
import { HAVE_SOFTHSM, newToken, SOFTHSM_MODULE, type TestToken } from "../support/softhsm.js";

describe.runIf(HAVE_SOFTHSM)("voxvault with the root in an HSM (SoftHSM2)", () => {
  let root: string;
  let token: TestToken;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    token = newToken();
    root = mkdtempSync(path.join(os.tmpdir(), "vv-cli-hsm-"));
    env = {
      ...token.env,
      HOME: root,
      XDG_CONFIG_HOME: path.join(root, "config"),
      VOXVAULT_DATA_DIR: path.join(root, "data"),
      VOXVAULT_HSM_PIN: token.pin,
    };
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it("initialises, shreds and reopens with the root in the token; the state file alone opens nothing", async () => {
    const init = await spawnCli(["init", "--hsm", SOFTHSM_MODULE, "--hsm-token", token.label, "--json"], env);
    expect(init.code, init.stderr).toBe(0);
    const out = JSON.parse(init.stdout) as { vaultId: string; keyFile: string };
    expect(out.keyFile).toMatch(/\.hsm\.json$/);
    const config = JSON.parse(readFileSync(path.join(root, "data", "vault.json"), "utf8")) as {
      keyProvider: Record<string, unknown>;
    };
    expect(config.keyProvider).toEqual({
      kind: "pkcs11",
      module: SOFTHSM_MODULE,
      token: { label: token.label },
      keyLabel: `voxvault/${out.vaultId}`,
      pin: { env: "VOXVAULT_HSM_PIN" },
    });
    // Nothing in vault.json or the state file is the PIN or a key.
    expect(JSON.stringify(config)).not.toContain(token.pin);
    expect(readFileSync(out.keyFile, "utf8")).not.toContain(token.pin);

    const add = await spawnCli(["subject", "add", "--ref", "contractor-hsm-1", "--json"], env);
    expect(add.code, add.stderr).toBe(0);
    const subject = (JSON.parse(add.stdout) as { id: string }).id;
    const keep = await spawnCli(["subject", "add", "--ref", "contractor-hsm-2", "--json"], env);
    expect(keep.code, keep.stderr).toBe(0);
    const shred = await spawnCli(["subject", "shred", subject, "--now", "--yes", "--json"], env);
    expect(shred.code, shred.stderr).toBe(0);
    const list = await spawnCli(["subject", "list", "--json"], env);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain((JSON.parse(keep.stdout) as { id: string }).id);

    const wrongPin = await spawnCli(["subject", "list"], { ...env, VOXVAULT_HSM_PIN: "111111" });
    expect([wrongPin.code, wrongPin.stderr]).toEqual([
      1,
      expect.stringMatching(/^error\[HSM_PIN_INCORRECT\]/),
    ]);
    const noPin = await spawnCli(["subject", "list"], { ...env, VOXVAULT_HSM_PIN: "" });
    expect(noPin.stderr).toMatch(/^error\[HSM_PIN_INCORRECT\].*VOXVAULT_HSM_PIN/);
    const otherToken = newToken();
    const vaultJson = path.join(root, "data", "vault.json");
    const original = readFileSync(vaultJson, "utf8");
    writeFileSync(vaultJson, original.replace(token.label, otherToken.label));
    try {
      const elsewhere = await spawnCli(["subject", "list"], { ...env, VOXVAULT_HSM_PIN: otherToken.pin });
      expect(elsewhere.stderr).toMatch(/^error\[HSM_KEY_MISSING\]/);
    } finally {
      writeFileSync(vaultJson, original);
    }
  });

  it("takes the PIN from a private file", async () => {
    const t = newToken();
    const dir = path.join(root, "pin-dir");
    mkdirSync(dir, { mode: 0o700 });
    const pinFile = path.join(dir, "pin");
    writeFileSync(pinFile, `${t.pin}\n`, { mode: 0o600 });
    const e = { ...env, VOXVAULT_DATA_DIR: path.join(root, "data-pinfile"), VOXVAULT_HSM_PIN: "" };
    const init = await spawnCli(
      ["init", "--hsm", SOFTHSM_MODULE, "--hsm-token", t.label, "--hsm-pin-file", pinFile],
      e,
    );
    expect(init.code, init.stderr).toBe(0);
    expect((await spawnCli(["subject", "list"], e)).code).toBe(0);
    chmodSync(pinFile, 0o644);
    const loose = await spawnCli(["subject", "list"], e);
    expect(loose.stderr).toMatch(/^error\[INSECURE_CONFIG\]/);
  });

  it("refuses a token without AES-GCM, naming the mechanism", async () => {
    const t = newToken();
    const conf = path.join(root, "no-gcm.conf");
    const original = readFileSync(t.env.SOFTHSM2_CONF!, "utf8");
    // SoftHSM2 offers only the mechanisms listed (token.mechanisms in softhsm2.conf(5))
    writeFileSync(
      conf,
      `${original}slots.mechanisms = CKM_AES_KEY_GEN,CKM_GENERIC_SECRET_KEY_GEN,CKM_SHA256_HMAC\n`,
    );
    const e = {
      ...env,
      SOFTHSM2_CONF: conf,
      VOXVAULT_DATA_DIR: path.join(root, "data-nogcm"),
      VOXVAULT_HSM_PIN: t.pin,
    };
    const init = await spawnCli(["init", "--hsm", SOFTHSM_MODULE, "--hsm-token", t.label], e);
    expect([init.code, init.stderr]).toEqual([
      1,
      expect.stringMatching(/^error\[HSM_MECHANISM_UNSUPPORTED\].*CKM_AES_GCM/),
    ]);
  });

  it("refuses a PIN on the command line, and --seal with --hsm", async () => {
    const r = await spawnCli(
      ["init", "--hsm", SOFTHSM_MODULE, "--hsm-token", token.label, "--hsm-pin", "1234"],
      {
        ...env,
        VOXVAULT_DATA_DIR: path.join(root, "data-pin-arg"),
      },
    );
    expect(r.code).toBe(2);
    const both = await spawnCli(["init", "--hsm", SOFTHSM_MODULE, "--hsm-token", token.label, "--seal"], {
      ...env,
      VOXVAULT_DATA_DIR: path.join(root, "data-both"),
    });
    expect(both.stderr).toMatch(/^error\[USAGE\]/);
  });
});
