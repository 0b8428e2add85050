/**
 * Throwaway SoftHSM2 tokens (PKCS#11): each gets its own token directory and config file, so
 * tests never share a token. SOFTHSM2_CONF is read by the module at C_Initialize, once per
 * process: every token of a test process lives under one config pointing at one directory.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { hasCommand, need } from "./tools.js";

export const SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so";

function pkcs11jsInstalled(): boolean {
  try {
    createRequire(import.meta.url)("pkcs11js");
    return true;
  } catch {
    return false;
  }
}

export const HAVE_SOFTHSM = need(
  "SoftHSM2",
  existsSync(SOFTHSM_MODULE) && hasCommand("softhsm2-util") && pkcs11jsInstalled(),
  `needs ${SOFTHSM_MODULE}, softhsm2-util (Debian softhsm2) and the pkcs11js package`,
);

let root: string | undefined;

/** This process's SoftHSM2 config and token directory (made once; SOFTHSM2_CONF set here). */
function softhsmRoot(): string {
  if (root) return root;
  root = mkdtempSync(path.join(os.tmpdir(), "vv-hsm-"));
  mkdirSync(path.join(root, "tokens"), { mode: 0o700 });
  writeFileSync(
    path.join(root, "softhsm2.conf"),
    `directories.tokendir = ${path.join(root, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n`,
  );
  process.env.SOFTHSM2_CONF = path.join(root, "softhsm2.conf");
  process.on("exit", () => {
    rmSync(root!, { recursive: true, force: true });
  });
  return root;
}

export interface TestToken {
  readonly label: string;
  readonly pin: string;
  readonly soPin: string;
  /** Environment for a child process that should see the same tokens. */
  readonly env: NodeJS.ProcessEnv;
}

let n = 0;
/** A fresh, initialised token with its own label. */
export function newToken(): TestToken {
  const dir = softhsmRoot();
  const label = `vv-test-${process.pid}-${++n}`;
  const pin = "246813579";
  const soPin = "975318642";
  const env = { ...process.env, SOFTHSM2_CONF: path.join(dir, "softhsm2.conf") };
  execFileSync(
    "softhsm2-util",
    ["--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", soPin],
    {
      env,
      stdio: "ignore",
    },
  );
  return { label, pin, soPin, env };
}

/**
 * The environment of a CLI process on an HSM-rooted vault in `root`: the token's SoftHSM2
 * configuration and PIN, and a home, config and data directory of its own.
 */
export function hsmCliEnv(token: TestToken, root: string): NodeJS.ProcessEnv {
  return {
    ...token.env,
    HOME: root,
    XDG_CONFIG_HOME: path.join(root, "config"),
    VOXVAULT_DATA_DIR: path.join(root, "data"),
    VOXVAULT_HSM_PIN: token.pin,
  };
}
