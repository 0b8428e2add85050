/**
 * The key file shared by the local and passphrase providers (docs/format.md §9).
 *
 * Plain:  {"format":"voxvault-root-key/2","vaultId":…,"kind":"local","content":CONTENT}
 * Sealed: {"format":"voxvault-root-key/2","vaultId":…,"kind":"passphrase","kdf":{…},"sealed":b64}
 *   where sealed = 0x01 ‖ nonce(12) ‖ AES-256-GCM(scrypt(passphrase, salt), CONTENT) ‖ tag(16),
 *   with the format, vault id, kind and KDF parameters as associated data.
 * Quorum: {"format":"voxvault-root-key/2","vaultId":…,"kind":"quorum","quorum":{…},"sealed":b64}
 *   the same, sealed under a random key split M-of-N among officers (src/keys/quorum.ts), with
 *   the format, vault id, kind and the quorum (threshold, officers, commitments) as associated data.
 * CONTENT = {"host":{id, publicKey, privateKey}, "applied":{"log":id,"seq":n},
 *            "generations":[{"generation":g,"createdAt":…,"key":b64(puncturable key)}]}
 *
 * Format 1 (root key versions instead of generations) is still read, so that `openVault` can
 * upgrade such a vault (src/vault/key-upgrade.ts).
 *
 * Reading uses one descriptor opened without following symlinks (no check-then-read race) and
 * refuses a file or a directory that others can write, or a file others can read.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { VaultError } from "../errors.js";
import { writeFileAtomic } from "../fsutil/atomic.js";
import { QuorumSchema } from "./quorum.js";
import { checkKeyDir, readPrivateFile } from "../fsutil/private-file.js";

export { checkKeyDir, readPrivateFile } from "../fsutil/private-file.js";

export const KEY_FILE_FORMAT = "voxvault-root-key/2" as const;
export const LEGACY_KEY_FILE_FORMAT = "voxvault-root-key/1";
/** Generous bound: a key file grows by ≈ 37 bytes × 32 per puncture. */
const MAX_KEY_FILE_BYTES = 512 * 1024 * 1024;

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);

export const LegacyVersionSchema = z.strictObject({
  version: z.number().int().positive(),
  key: b64,
  createdAt: z.string(),
});
export type LegacyVersionRecord = z.infer<typeof LegacyVersionSchema>;

export const GenerationSchema = z.strictObject({
  generation: z.number().int().positive(),
  createdAt: z.string(),
  key: b64,
});
export type GenerationRecord = z.infer<typeof GenerationSchema>;

export const ContentSchema = z.strictObject({
  host: z.strictObject({
    id: z.string().regex(/^hst_[0-9a-hjkmnp-tv-z]{26}$/),
    publicKey: b64,
    privateKey: b64,
    /** Key pairs kept until the vault confirms which one it lists (a rotation's commit). */
    pending: z
      .array(z.strictObject({ publicKey: b64, privateKey: b64 }))
      .max(8)
      .optional(),
  }),
  /** How far this host applied the vault's puncture log (a restore starts a new log id). */
  applied: z.strictObject({
    log: z.string().max(64),
    seq: z.number().int().nonnegative(),
    /** The log's hash chain at `seq` (hex), to notice a log that was rolled back and re-grown. */
    chain: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
  }),
  generations: z.array(GenerationSchema).max(1000),
  /** Root key versions of a format-1 vault while it is being upgraded. */
  legacy: z.array(LegacyVersionSchema).max(1000).optional(),
});
export type KeyFileContent = z.infer<typeof ContentSchema>;

export const ScryptParamsSchema = z.strictObject({
  name: z.literal("scrypt"),
  logN: z.number().int().min(14).max(22),
  r: z.number().int().min(8).max(32),
  p: z.number().int().min(1).max(16),
  salt: b64,
});
export type ScryptParams = z.infer<typeof ScryptParamsSchema>;

export const KeyFileSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    format: z.literal(KEY_FILE_FORMAT),
    vaultId: z.string().min(1),
    kind: z.literal("local"),
    content: ContentSchema,
  }),
  z.strictObject({
    format: z.literal(KEY_FILE_FORMAT),
    vaultId: z.string().min(1),
    kind: z.literal("passphrase"),
    kdf: ScryptParamsSchema,
    sealed: b64,
  }),
  z.strictObject({
    format: z.literal(KEY_FILE_FORMAT),
    vaultId: z.string().min(1),
    kind: z.literal("quorum"),
    quorum: QuorumSchema,
    sealed: b64,
  }),
]);
export type KeyFile = z.infer<typeof KeyFileSchema>;

const LegacyKeyFileSchema = z.discriminatedUnion("kind", [
  z.strictObject({
    format: z.literal(LEGACY_KEY_FILE_FORMAT),
    vaultId: z.string().min(1),
    kind: z.literal("local"),
    versions: z.array(LegacyVersionSchema).max(1000),
  }),
  z.strictObject({
    format: z.literal(LEGACY_KEY_FILE_FORMAT),
    vaultId: z.string().min(1),
    kind: z.literal("passphrase"),
    kdf: ScryptParamsSchema,
    sealed: b64,
  }),
]);
export type LegacyKeyFile = z.infer<typeof LegacyKeyFileSchema>;

/** Default location: outside the data directory, so a copy of the data directory holds no root key. */
export function defaultKeyFile(vaultId: string, env: NodeJS.ProcessEnv = process.env): string {
  const home = env.HOME ?? env.USERPROFILE ?? "/";
  const base =
    env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME)
      ? env.XDG_CONFIG_HOME
      : path.join(home, ".config");
  return path.join(base, "voxvault", "keys", `${vaultId}.key.json`);
}

/** Where an HSM-rooted vault's sealed root state goes by default: beside where a key file would. */
export function defaultHsmStateFile(vaultId: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(path.dirname(defaultKeyFile(vaultId, env)), `${vaultId}.hsm.json`);
}

/** Reads and validates a key file of either format. */
/**
 * Reads a private JSON file that writers replace atomically and whose replaced copy they overwrite
 * (src/fsutil/atomic.ts): a reader that opened the old copy just before the rename may read the
 * overwrite. That read is retried from the path (which names the new copy by then); only a file
 * that stays unparseable is malformed.
 */
export async function readReplacedJson(file: string, what: string, maxBytes: number): Promise<unknown> {
  for (let attempt = 0; ; attempt++) {
    const raw = (await readPrivateFile(file, what, maxBytes)).toString("utf8");
    try {
      return JSON.parse(raw);
    } catch {
      if (attempt >= 2) throw new VaultError("ROOT_KEY_INVALID", `${what} ${file} is not valid JSON`);
      await new Promise((r) => setTimeout(r, 20 * (attempt + 1)));
    }
  }
}

export async function readKeyFile(file: string): Promise<KeyFile | LegacyKeyFile> {
  await checkKeyDir(path.dirname(file));
  const json = await readReplacedJson(file, "root key file", MAX_KEY_FILE_BYTES);
  const format = (json as { format?: unknown } | null)?.format;
  const parsed =
    format === LEGACY_KEY_FILE_FORMAT ? LegacyKeyFileSchema.safeParse(json) : KeyFileSchema.safeParse(json);
  if (!parsed.success) throw new VaultError("ROOT_KEY_INVALID", `root key file ${file} is malformed`);
  return parsed.data;
}

/**
 * Writes a private JSON file the way root material is written: mode 0600 in a private directory,
 * replaced atomically with the old copy overwritten; with `create`, refused if one exists.
 */
export async function writePrivateJson(
  file: string,
  content: unknown,
  what: string,
  options: { create: boolean },
): Promise<void> {
  const data = new TextEncoder().encode(JSON.stringify(content) + "\n");
  const dir = path.dirname(file);
  if (options.create) {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    try {
      await fs.lstat(file);
      throw new VaultError("VAULT_EXISTS", `${what} already exists at ${file}`);
    } catch (e) {
      if (e instanceof VaultError) throw e;
    }
  }
  await checkKeyDir(dir);
  await writeFileAtomic(file, data, { mode: 0o600, overwriteOld: !options.create });
}

export function writeKeyFile(file: string, content: KeyFile, options: { create: boolean }): Promise<void> {
  return writePrivateJson(file, content, "a root key file", options);
}
