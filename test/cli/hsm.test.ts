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
import { HAVE_SOFTHSM, hsmCliEnv, newToken, SOFTHSM_MODULE, type TestToken } from "../support/softhsm.js";

describe.runIf(HAVE_SOFTHSM)("voxvault with the root in an HSM (SoftHSM2)", () => {
  let root: string;
  let token: TestToken;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    token = newToken();
    root = mkdtempSync(path.join(os.tmpdir(), "vv-cli-hsm-"));
    env = hsmCliEnv(token, root);
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
    // doctor reports the unusable HSM as its one, critical, finding
    const doctor = await spawnCli(["doctor", "--json"], { ...env, VOXVAULT_HSM_PIN: "111111" });
    expect(doctor.code).toBe(6);
    expect(JSON.parse(doctor.stdout)).toMatchObject({
      exitStatus: 6,
      findings: [
        {
          rule: "keys.hsm-unreachable",
          severity: "critical",
          what: expect.stringContaining("HSM_PIN_INCORRECT") as string,
        },
      ],
    });
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

  it("a second host of the same token joins without copying anything, follows shreds and rotations, and can be revoked", async () => {
    const t = newToken();
    const data = path.join(root, "data-two-hosts");
    const a = {
      ...env,
      VOXVAULT_DATA_DIR: data,
      VOXVAULT_HSM_PIN: t.pin,
      XDG_CONFIG_HOME: path.join(root, "host-a"),
    };
    const b = { ...a, XDG_CONFIG_HOME: path.join(root, "host-b") };
    const init = await spawnCli(["init", "--hsm", SOFTHSM_MODULE, "--hsm-token", t.label, "--json"], a);
    expect(init.code, init.stderr).toBe(0);
    const stateA = (JSON.parse(init.stdout) as { keyFile: string }).keyFile;
    const first = await spawnCli(["subject", "add", "--ref", "two-hosts-1", "--json"], a);
    const firstId = (JSON.parse(first.stdout) as { id: string }).id;

    const join = await spawnCli(["host", "join", "--name", "host-b", "--json"], b);
    expect(join.code, join.stderr).toBe(0);
    const joined = JSON.parse(join.stdout) as { hostId: string; fingerprint: string; keyFile: string };
    expect(joined.keyFile).not.toBe(stateA);
    // pending: nothing opens yet
    expect((await spawnCli(["subject", "list"], b)).code).toBe(1);
    const approve = await spawnCli(
      ["host", "approve", joined.hostId, "--fingerprint", joined.fingerprint],
      a,
    );
    expect(approve.code, approve.stderr).toBe(0);

    const listB = await spawnCli(["subject", "list", "--json"], b);
    expect(listB.code, listB.stderr).toBe(0);
    expect(listB.stdout).toContain(firstId);
    // B shreds what A made; A holds the shred too
    const shred = await spawnCli(["subject", "shred", firstId, "--now", "--yes"], b);
    expect(shred.code, shred.stderr).toBe(0);
    const showA = await spawnCli(["subject", "show", firstId, "--json"], a);
    expect(showA.stdout).toMatch(/"status":"shredded"/);
    // A rotates the root; B receives the new generation sealed to it and goes on
    const rotate = await spawnCli(["keys", "rotate", "--root", "--json"], a);
    expect(rotate.code, rotate.stderr).toBe(0);
    const second = await spawnCli(["subject", "add", "--ref", "two-hosts-2", "--json"], b);
    expect(second.code, second.stderr).toBe(0);
    const keysB = await spawnCli(["keys", "status", "--json"], b);
    expect(keysB.stdout).toMatch(/"activeGeneration":2/);
    // the two hosts' state files are their own: neither is the other's
    expect(readFileSync(joined.keyFile, "utf8")).not.toEqual(readFileSync(stateA, "utf8"));

    const revoke = await spawnCli(["host", "revoke", joined.hostId], a);
    expect(revoke.code, revoke.stderr).toBe(0);
    const afterRevoke = await spawnCli(["subject", "list"], b);
    expect(afterRevoke.code).toBe(1);
    expect((await spawnCli(["subject", "list"], a)).code).toBe(0);
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
