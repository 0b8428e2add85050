/**
 * The HSM provider's state file: the root generations' PRF state, sealed with AES-256-GCM under a
 * token key named by its CKA_ID (src/keys/pkcs11/provider.ts). Same rules as the key file: a
 * private directory, mode 0600, no symbolic links, atomic replacement with the old copy
 * overwritten; parsed strictly.
 */
import path from "node:path";
import { z } from "zod";
import { VaultError } from "../../errors.js";
import { checkKeyDir } from "../../fsutil/private-file.js";
import { readReplacedJson, writePrivateJson } from "../key-file.js";

const MAX_STATE_FILE_BYTES = 256 * 1024 * 1024;
const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);

const StateFileSchema = z.strictObject({
  format: z.literal("voxvault-hsm-state/1"),
  vaultId: z.string(),
  /** CKA_ID of the token key the content is sealed under. */
  sealKey: b64,
  /** CKA_LABEL of that key: `<keyLabel>/state/<host id>` (absent: `<keyLabel>/state`, one host). */
  sealLabel: z.string().max(300).optional(),
  iv: b64,
  sealed: b64,
});
export type StateFile = z.infer<typeof StateFileSchema>;

const PositionSchema = z.strictObject({
  log: z.string(),
  seq: z.number().int().min(0),
  chain: z.string().optional(),
});

const PairSchema = z.strictObject({ publicKey: b64, privateKey: b64 });

export const StateContentSchema = z.strictObject({
  hostId: z.string(),
  /** This host's X25519 key pair, to which other hosts seal new generations (absent before v2). */
  host: z.strictObject({ pair: PairSchema, pending: z.array(PairSchema).max(8).optional() }).optional(),
  applied: PositionSchema,
  generations: z.array(
    z.strictObject({
      generation: z.number().int().positive(),
      createdAt: z.string(),
      /** CKA_ID of the generation's HMAC key on the token. */
      keyId: b64,
      prf: b64,
    }),
  ),
});
export type StateContent = z.infer<typeof StateContentSchema>;

export async function readStateFile(file: string): Promise<StateFile> {
  await checkKeyDir(path.dirname(file));
  const json = await readReplacedJson(file, "HSM state file", MAX_STATE_FILE_BYTES);
  const parsed = StateFileSchema.safeParse(json);
  if (!parsed.success) throw new VaultError("ROOT_KEY_INVALID", `HSM state file ${file} is malformed`);
  return parsed.data;
}

/** The content once opened: strict, so a sealed but malformed state fails closed. */
export function parseStateContent(json: unknown, file: string): StateContent {
  const parsed = StateContentSchema.safeParse(json);
  if (!parsed.success)
    throw new VaultError("ROOT_KEY_INVALID", `HSM state file ${file} holds a malformed state`);
  return parsed.data;
}

export function writeStateFile(
  file: string,
  content: StateFile,
  options: { create: boolean },
): Promise<void> {
  return writePrivateJson(file, content, "an HSM state file", options);
}
