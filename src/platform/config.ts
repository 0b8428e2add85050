/**
 * vault.json, the vault's non-secret configuration inside the data directory. It names where the
 * root key lives but never holds key material or credentials (the PostgreSQL URL comes from the
 * environment). Parsed strictly and frozen.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { VaultError } from "../errors.js";
import { writeFileAtomic } from "../fsutil/atomic.js";
import { parseDuration } from "../vault/duration.js";
import { AbstractionConfigSchema } from "../ingest/config.js";
import { AccessConfigSchema } from "../access/config.js";
import { BlobStoreConfigSchema } from "../store/blob/drivers.js";

export const VAULT_FORMAT = "voxvault-vault";
export const VAULT_FORMAT_VERSION = 1;

const duration = z.string().refine((s) => {
  try {
    parseDuration(s);
    return true;
  } catch {
    return false;
  }
}, "not a duration");

/** A root held in an HSM (src/keys/pkcs11): where the token is and where its PIN comes from. */
export const Pkcs11ConfigSchema = z.strictObject({
  kind: z.literal("pkcs11"),
  /** Absolute path of the PKCS#11 module. */
  module: z.string().refine((p) => p.startsWith("/"), "an absolute path"),
  token: z.union([
    z.strictObject({ label: z.string().min(1).max(32) }),
    z.strictObject({ slot: z.number().int().min(0) }),
  ]),
  /** Prefix of the labels of the vault's keys on the token. */
  keyLabel: z.string().min(1).max(200),
  /** Where the PIN comes from: an environment variable or a private file, never the config itself. */
  pin: z.union([
    z.strictObject({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/) }),
    z.strictObject({ file: z.string().refine((p) => p.startsWith("/"), "an absolute path") }),
  ]),
  /** The sealed root state file, when not the default next to where a key file would be. */
  file: z.string().optional(),
  /** `keys migrate --to hsm` in progress: the key file whose generations are being moved out. */
  migratingFrom: z
    .strictObject({ file: z.string().refine((p) => p.startsWith("/"), "an absolute path") })
    .optional(),
});
export type Pkcs11Config = z.infer<typeof Pkcs11ConfigSchema>;

export const VaultConfigSchema = z.strictObject({
  format: z.literal(VAULT_FORMAT),
  formatVersion: z.number().int().positive(),
  vaultId: z.string().regex(/^vlt_[0-9a-z]{26}$/),
  createdAt: z.string(),
  defaultTenant: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/),
  keyProvider: z.discriminatedUnion("kind", [
    z.strictObject({
      /** How init sealed the key file; each host's key file says how it is sealed now. */
      kind: z.enum(["local", "passphrase", "quorum"]),
      /** Absolute path when not the default location under the user's config directory. */
      file: z.string().optional(),
    }),
    Pkcs11ConfigSchema,
  ]),
  metadata: z.discriminatedUnion("driver", [
    z.strictObject({ driver: z.literal("sqlite") }),
    z.strictObject({ driver: z.literal("postgres"), schema: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/) }),
  ]),
  /** Where ciphertext objects live (src/store/blob/drivers.ts). */
  blobStore: BlobStoreConfigSchema,
  shred: z.strictObject({ softDeleteWindow: duration }),
  keyCache: z.strictObject({
    maxEntries: z.number().int().min(1).max(1_000_000),
    ttlSeconds: z.number().int().min(0).max(3600),
  }),
  /** Abstraction pipeline: purposes, retention, input limits, embedder (src/ingest/config.ts). */
  abstraction: AbstractionConfigSchema.optional(),
  /** HTTP API access: token lifetimes, egress budgets, break-glass (src/access/config.ts). */
  access: AccessConfigSchema.optional(),
});
export type VaultConfig = Readonly<z.infer<typeof VaultConfigSchema>>;

export const LAYOUT = {
  config: "vault.json",
  sqlite: "meta.sqlite",
  blobs: "blobs",
} as const;

export function configPath(dataDir: string): string {
  return path.join(dataDir, LAYOUT.config);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object") {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

export async function readVaultConfig(dataDir: string): Promise<VaultConfig> {
  let raw: string;
  try {
    raw = await fs.readFile(configPath(dataDir), "utf8");
  } catch (e) {
    if ((e as { code?: unknown }).code === "ENOENT") {
      throw new VaultError("VAULT_NOT_FOUND", `no vault at ${dataDir} (run voxvault init)`);
    }
    throw new VaultError("STORE_IO", `cannot read ${configPath(dataDir)}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new VaultError("CONFIG_INVALID", `${configPath(dataDir)} is not valid JSON`);
  }
  const version = (json as { formatVersion?: unknown }).formatVersion;
  if (typeof version === "number" && version > VAULT_FORMAT_VERSION) {
    throw new VaultError(
      "VAULT_NEWER_VERSION",
      `this vault was written by a newer voxvault (format ${version}, this build reads ${VAULT_FORMAT_VERSION})`,
    );
  }
  const parsed = VaultConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new VaultError(
      "CONFIG_INVALID",
      `${configPath(dataDir)}: ${issue ? `${issue.path.join(".") || "(root)"}: ${issue.message}` : "invalid"}`,
    );
  }
  return deepFreeze(parsed.data);
}

export async function writeVaultConfig(dataDir: string, config: VaultConfig): Promise<void> {
  await writeFileAtomic(
    configPath(dataDir),
    new TextEncoder().encode(JSON.stringify(config, null, 2) + "\n"),
    {
      mode: 0o600,
    },
  );
}
