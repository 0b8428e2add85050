/**
 * The PKCS#11 root provider against a real SoftHSM2 token: point keys need the token at every
 * unwrap, the token's keys cannot be read out, a puncture holds against an older copy of the
 * state file (its sealing key is destroyed), and each misconfiguration has its own code.
 */
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import type * as P11 from "pkcs11js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Pkcs11KeyProvider, type Pkcs11ProviderOptions } from "../../src/keys/pkcs11/provider.js";
import { codeOf } from "../support/backends.js";
import { spawnNode } from "../support/cli.js";
import { loginFailure } from "../../src/keys/pkcs11/token.js";
import { HAVE_SOFTHSM, newToken, SOFTHSM_MODULE, type TestToken } from "../support/softhsm.js";

const VAULT = "vlt_0123456789abcdefghjkmnpq";
const WORKER = new URL("../support/hsm-open-worker.mjs", import.meta.url).pathname;

const aad = new TextEncoder().encode("subject-key");

/** Looks into the token directly, as its user (not through the provider). */
function asTokenUser(
  token: TestToken,
  fn: (L: typeof P11, p11: P11.PKCS11, session: P11.Handle) => void,
): void {
  const L = createRequire(import.meta.url)("pkcs11js") as typeof P11;
  const p11 = new L.PKCS11();
  p11.load(SOFTHSM_MODULE);
  p11.C_Initialize();
  try {
    const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === token.label)!;
    const session = p11.C_OpenSession(slot, L.CKF_SERIAL_SESSION);
    p11.C_Login(session, L.CKU_USER, token.pin);
    try {
      fn(L, p11, session);
    } finally {
      p11.C_Logout(session);
      p11.C_CloseSession(session);
    }
  } finally {
    p11.C_Finalize();
  }
}

describe.runIf(HAVE_SOFTHSM)("PKCS#11 root provider (SoftHSM2)", () => {
  let token: TestToken;
  let dir: string;
  let o: Pkcs11ProviderOptions;
  beforeAll(() => {
    token = newToken();
    dir = mkdtempSync(path.join(os.tmpdir(), "vv-hsm-state-"));
    o = {
      vaultId: VAULT,
      module: SOFTHSM_MODULE,
      token: { label: token.label },
      keyLabel: `voxvault/${VAULT}`,
      pin: token.pin,
      stateFile: path.join(dir, "keys", "root.hsm.json"),
    };
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("wraps and unwraps under generation 1, and a reopened provider opens the same", async () => {
    const p = await Pkcs11KeyProvider.create({ ...o, generations: [1] });
    const secret = new Uint8Array(32).fill(7);
    const wrapped = await p.wrap(1, 42, secret, aad);
    expect(await p.unwrap(1, 42, wrapped, aad)).toEqual(secret);
    const check = await p.checkValue(1);
    await p.close();
    const q = await Pkcs11KeyProvider.open(o);
    try {
      expect(await q.generations()).toEqual([1]);
      expect(await q.unwrap(1, 42, wrapped, aad)).toEqual(secret);
      expect(await q.checkValue(1)).toEqual(check);
      expect(await codeOf(q.unwrap(1, 43, wrapped, aad))).not.toBe("");
    } finally {
      await q.close();
    }
  });

  it("keeps its keys inside the token: sensitive, never extractable, value unreadable", () => {
    asTokenUser(token, (L, p11, session) => {
      p11.C_FindObjectsInit(session, [{ type: L.CKA_CLASS, value: L.CKO_SECRET_KEY }]);
      const keys = p11.C_FindObjects(session, 100);
      p11.C_FindObjectsFinal(session);
      expect(keys.length).toBe(2); // generation 1's HMAC key and the state's sealing key
      for (const k of keys) {
        const [sensitive, extractable, label] = p11.C_GetAttributeValue(session, k, [
          { type: L.CKA_SENSITIVE },
          { type: L.CKA_EXTRACTABLE },
          { type: L.CKA_LABEL },
        ]);
        expect(sensitive!.value).toEqual(Buffer.from([1]));
        expect(extractable!.value).toEqual(Buffer.from([0]));
        expect(label!.value.toString()).toMatch(
          new RegExp(`^voxvault/${VAULT}/(g1|state/hst_[0-9a-z]{26})$`),
        );
        expect(() => p11.C_GetAttributeValue(session, k, [{ type: L.CKA_VALUE }])).toThrow(
          /ATTRIBUTE_SENSITIVE/,
        );
      }
    });
  });

  it("a puncture holds against an older copy of the state file: its sealing key is gone", async () => {
    const p = await Pkcs11KeyProvider.open(o);
    const secret = new Uint8Array(32).fill(9);
    const wrapped = await p.wrap(1, 1000, secret, aad);
    const before = path.join(dir, "state-before-puncture.json");
    copyFileSync(o.stateFile, before);
    await p.puncture([1000], { log: "test-log", seq: 1 });
    expect(await codeOf(p.unwrap(1, 1000, wrapped, aad))).toBe("KEY_UNAVAILABLE");
    expect(await p.isPunctured(1, 1000)).toBe(true);
    expect(await p.applied()).toMatchObject({ log: "test-log", seq: 1 });
    await p.close();
    // The attacker's move: put the old state file back (a restored backup).
    const current = path.join(dir, "state-current.json");
    copyFileSync(o.stateFile, current);
    copyFileSync(before, o.stateFile);
    expect(await codeOf(Pkcs11KeyProvider.open(o))).toBe("HSM_KEY_MISSING");
    copyFileSync(current, o.stateFile);
    const q = await Pkcs11KeyProvider.open(o);
    try {
      expect(await codeOf(q.unwrap(1, 1000, wrapped, aad))).toBe("KEY_UNAVAILABLE");
    } finally {
      await q.close();
    }
  });

  it("opens nothing without the token: the state file on another token is refused", async () => {
    const other = newToken();
    expect(
      await codeOf(Pkcs11KeyProvider.open({ ...o, token: { label: other.label }, pin: other.pin })),
    ).toBe("HSM_KEY_MISSING");
  });

  it("new generations get their own token key; destroying one destroys its key in the token", async () => {
    const p = await Pkcs11KeyProvider.open(o);
    try {
      await p.createGeneration(2);
      expect(await p.generations()).toEqual([1, 2]);
      const w2 = await p.wrap(2, 5, new Uint8Array(32).fill(1), aad);
      expect(await p.checkValue(2)).not.toEqual(await p.checkValue(1));
      await p.destroyGeneration(2);
      expect(await p.generations()).toEqual([1]);
      expect(await codeOf(p.unwrap(2, 5, w2, aad))).toBe("KEY_UNAVAILABLE");
    } finally {
      await p.close();
    }
    asTokenUser(token, (L, p11, session) => {
      p11.C_FindObjectsInit(session, [{ type: L.CKA_LABEL, value: `voxvault/${VAULT}/g2` }]);
      expect(p11.C_FindObjects(session, 10)).toEqual([]);
      p11.C_FindObjectsFinal(session);
    });
  });

  it("refuses a second vault's keys on the same labels, and names each misconfiguration", async () => {
    expect(
      await codeOf(
        Pkcs11KeyProvider.create({ ...o, stateFile: path.join(dir, "k2", "s.json"), generations: [1] }),
      ),
    ).toBe("VAULT_EXISTS");
    expect(await codeOf(Pkcs11KeyProvider.open({ ...o, pin: "000000" }))).toBe("HSM_PIN_INCORRECT");
    expect(await codeOf(Pkcs11KeyProvider.open({ ...o, token: { label: "no-such-token" } }))).toBe(
      "HSM_TOKEN_NOT_FOUND",
    );
    expect(await codeOf(Pkcs11KeyProvider.open({ ...o, module: path.join(dir, "missing.so") }))).toBe(
      "HSM_MODULE_UNAVAILABLE",
    );
    expect(
      await codeOf(Pkcs11KeyProvider.open({ ...o, stateFile: path.join(dir, "keys", "absent.json") })),
    ).toBe("ROOT_KEY_MISSING");
  });

  it("eight processes opening the token at once all get in", async () => {
    // Each login rewrites SoftHSM2's token file; a process reading it meanwhile sees the token
    // absent or gets CKR_GENERAL_ERROR / CKR_USER_PIN_NOT_INITIALIZED. Before the open was
    // retried as a whole, about 3 % of such opens failed (128 of 3840 in a stress run).
    const vaultId = "vlt_concurrentopens0000000000";
    const own = {
      ...o,
      vaultId,
      keyLabel: `voxvault/${vaultId}`,
      stateFile: path.join(dir, "concurrent", "root.hsm.json"),
    };
    await (await Pkcs11KeyProvider.create({ ...own, generations: [1] })).close();
    const runs = Array.from({ length: 8 }, () => spawnNode(WORKER, [JSON.stringify(own), "30"], token.env));
    const results = await Promise.all(runs);
    for (const r of results) {
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual([]);
    }
  }, 60_000);
});

describe("PKCS#11 login failures", () => {
  it("map the token's return values to codes an operator can act on", () => {
    const fail = (code: number) => loginFailure(Object.assign(new Error("p11"), { code }), "token x").code;
    expect(fail(0xa4)).toBe("HSM_TOKEN_LOCKED"); // CKR_PIN_LOCKED
    expect(fail(0xa0)).toBe("HSM_PIN_INCORRECT"); // CKR_PIN_INCORRECT
    expect(fail(0xa2)).toBe("HSM_PIN_INCORRECT"); // CKR_PIN_LEN_RANGE
    expect(fail(0xe0)).toBe("KEY_UNAVAILABLE"); // CKR_TOKEN_NOT_PRESENT
    const notInitialised = loginFailure(Object.assign(new Error("p11"), { code: 0x102 }), "token x");
    expect([notInitialised.code, notInitialised.message]).toEqual([
      "KEY_UNAVAILABLE",
      "the user PIN of token x is not initialised",
    ]);
  });
});
