/** The metadata backends every vault test loops over (kysely's habit: same tests, real backends). */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { initVault, openVault, type InitOptions, type OpenOptions } from "../../src/platform/index.js";
import type { Vault } from "../../src/platform/vault.js";
import { FileKeyProvider } from "../../src/keys/file-provider.js";
import { defaultHsmStateFile, defaultKeyFile } from "../../src/keys/key-file.js";
import { Pkcs11KeyProvider } from "../../src/keys/pkcs11/provider.js";
import type { RootKeyProvider } from "../../src/keys/provider.js";
import { newToken, SOFTHSM_MODULE, type TestToken } from "./softhsm.js";
import { need } from "./tools.js";
import { defaultEmbedderFactory } from "../../src/embed-factory.js";

/** Built decoder worker (npm test builds first); vault tests run the real worker from dist. */
export const DECODER_WORKER = new URL("../../dist/audio/decode/worker.js", import.meta.url);

export interface Backend {
  readonly name: "sqlite" | "postgres";
  readonly pgUrl?: string;
}

const PG_URL = process.env.VOXVAULT_TEST_PG_URL;

/** Vaults made by `sandbox` keep their root in a SoftHSM2 token (the HSM run of the suite). */
export const HSM_ROOT = process.env.VOXVAULT_TEST_ROOT === "pkcs11";

export const BACKENDS: Backend[] = [
  { name: "sqlite" },
  ...(need("PostgreSQL", PG_URL !== undefined, "VOXVAULT_TEST_PG_URL is not set")
    ? [{ name: "postgres" as const, pgUrl: PG_URL! }]
    : []),
];

export interface Sandbox {
  readonly root: string;
  readonly dataDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly backend: Backend;
  readonly schema: string;
  /** The SoftHSM2 token holding the root, in the HSM run of the suite. */
  readonly token?: TestToken | undefined;
  init(extra?: Partial<InitOptions>): Promise<Vault>;
  open(extra?: Partial<OpenOptions>): Promise<Vault>;
  cleanup(): Promise<void>;
}

/** A temp root holding a data dir and a separate config home (where the root key goes). */
export function sandbox(backend: Backend): Sandbox {
  const root = mkdtempSync(path.join(os.tmpdir(), "vv-test-"));
  // The suite once more with the root in an HSM (VOXVAULT_TEST_ROOT=pkcs11; vitest.config.ts).
  const token = HSM_ROOT ? newToken() : undefined;
  const env = {
    ...process.env,
    XDG_CONFIG_HOME: path.join(root, "config"),
    HOME: root,
    ...(token ? { VOXVAULT_HSM_PIN: token.pin } : {}),
  };
  const dataDir = path.join(root, "data");
  const schema = `t_${randomBytes(6).toString("hex")}`;
  return {
    root,
    dataDir,
    env,
    backend,
    schema,
    token,
    init: (extra = {}) =>
      initVault({
        dataDir,
        env,
        scryptLogN: 14,
        decoder: { workerUrl: DECODER_WORKER },
        embedderFactory: defaultEmbedderFactory,
        ...(backend.name === "postgres" ? { postgres: { url: backend.pgUrl!, schema } } : {}),
        ...(token && extra.passphrase === undefined
          ? {
              hsm: {
                module: SOFTHSM_MODULE,
                token: { label: token.label },
                pin: { env: "VOXVAULT_HSM_PIN" },
              },
            }
          : {}),
        ...extra,
      }),
    open: (extra = {}) =>
      openVault({
        dataDir,
        env,
        postgresUrl: backend.pgUrl,
        decoder: { workerUrl: DECODER_WORKER },
        embedderFactory: defaultEmbedderFactory,
        ...extra,
      }),
    async cleanup() {
      if (backend.name === "postgres") {
        const c = new pg.Client({ connectionString: backend.pgUrl });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await c.end();
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Chunks as an async byte source (what ingest and blob puts take). */
export async function* bytesOf(...chunks: readonly Uint8Array[]): AsyncGenerator<Uint8Array> {
  await Promise.resolve();
  yield* chunks;
}

export async function collectBytes(src: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of src) parts.push(Buffer.from(p));
  return Buffer.concat(parts);
}

export async function codeOf(p: Promise<unknown> | (() => Promise<unknown>)): Promise<string> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    return (e as { code?: string }).code ?? `non-vault error: ${String(e)}`;
  }
  return "no error";
}

/** This host's root file: the key file, or in the HSM run the token-sealed state file. */
export function rootFileOf(sb: Sandbox, vaultId: string): string {
  return sb.token ? defaultHsmStateFile(vaultId, sb.env) : defaultKeyFile(vaultId, sb.env);
}

/** Opens a root file directly (as an attacker holding it, and the token where there is one, would). */
export function openRootFile(sb: Sandbox, file: string, vaultId: string): Promise<RootKeyProvider> {
  if (!sb.token) return FileKeyProvider.open({ file, vaultId });
  return Pkcs11KeyProvider.open({
    vaultId,
    module: SOFTHSM_MODULE,
    token: { label: sb.token.label },
    keyLabel: `voxvault/${vaultId}`,
    pin: sb.token.pin,
    stateFile: file,
  });
}
