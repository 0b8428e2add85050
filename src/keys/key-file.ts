/**
 * The key file shared by the local and passphrase providers (docs/format.md §9).
 *
 * Plain:  {"format":"voxvault-root-key/1","vaultId":…,"kind":"local","versions":[{"version":1,"key":b64,"createdAt":…}]}
 * Sealed: {"format":"voxvault-root-key/1","vaultId":…,"kind":"passphrase","kdf":{…},"sealed":b64}
 *   where sealed = nonce(12) || AES-256-GCM(scrypt(passphrase), versions JSON) || tag(16),
 *   with the format, vault id, kind and KDF parameters as associated data.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { VaultError } from "../errors.js";
import { GROUP_OTHER_BITS, writeFileAtomic } from "../fsutil/atomic.js";

export const KEY_FILE_FORMAT = "voxvault-root-key/1";

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);
export const KeyVersionSchema = z.strictObject({
  version: z.number().int().positive(),
  key: b64,
  createdAt: z.string(),
});
export const VersionsSchema = z.array(KeyVersionSchema).max(1000);
export type KeyVersionRecord = z.infer<typeof KeyVersionSchema>;

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
    versions: VersionsSchema,
  }),
  z.strictObject({
    format: z.literal(KEY_FILE_FORMAT),
    vaultId: z.string().min(1),
    kind: z.literal("passphrase"),
    kdf: ScryptParamsSchema,
    sealed: b64,
  }),
]);
export type KeyFile = z.infer<typeof KeyFileSchema>;

/** Default location: outside the data directory, so a copy of the data directory holds no root key. */
export function defaultKeyFile(vaultId: string, env: NodeJS.ProcessEnv = process.env): string {
  const home = env.HOME ?? env.USERPROFILE ?? "/";
  const base =
    env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME)
      ? env.XDG_CONFIG_HOME
      : path.join(home, ".config");
  return path.join(base, "voxvault", "keys", `${vaultId}.key.json`);
}

/** Reads and validates a key file; refuses one that group or others can read or write. */
export async function readKeyFile(file: string): Promise<KeyFile> {
  let raw: string;
  try {
    const st = await fs.stat(file);
    if ((st.mode & GROUP_OTHER_BITS) !== 0) {
      throw new VaultError(
        "INSECURE_CONFIG",
        `root key file ${file} is accessible to group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`,
      );
    }
    if (typeof process.getuid === "function" && st.uid !== process.getuid()) {
      throw new VaultError("INSECURE_CONFIG", `root key file ${file} is owned by another user`);
    }
    raw = await fs.readFile(file, "utf8");
  } catch (e) {
    if (e instanceof VaultError) throw e;
    if ((e as { code?: string }).code === "ENOENT") {
      throw new VaultError("ROOT_KEY_MISSING", `root key file not found: ${file}`);
    }
    throw new VaultError("ROOT_KEY_MISSING", `cannot read root key file ${file}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new VaultError("ROOT_KEY_INVALID", `root key file ${file} is not valid JSON`);
  }
  const parsed = KeyFileSchema.safeParse(json);
  if (!parsed.success) throw new VaultError("ROOT_KEY_INVALID", `root key file ${file} is malformed`);
  return parsed.data;
}

export async function writeKeyFile(
  file: string,
  content: KeyFile,
  options: { create: boolean },
): Promise<void> {
  const data = new TextEncoder().encode(JSON.stringify(content) + "\n");
  if (options.create) {
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    try {
      await fs.access(file);
      throw new VaultError("VAULT_EXISTS", `a root key file already exists at ${file}`);
    } catch (e) {
      if (e instanceof VaultError) throw e;
    }
  }
  await writeFileAtomic(file, data, { mode: 0o600, overwriteOld: !options.create });
}
