/**
 * Template keys: one per (tenant, application), derived from a vault secret so that templates of
 * two applications (or of the vault and an application) are unlinkable, and renewable by
 * rotating the secret (ISO/IEC 24745 §5: renewability).
 *   key = HKDF(template-master_v, salt = "", info = fields("voxvault/template-key/v1", tenant, application, v))
 */
import { encodeFields, wipe } from "../crypto/bytes.js";
import { hkdfSha256 } from "../crypto/kdf.js";
import type { KeyTree } from "../keys/tree.js";
import type { MetaDb } from "../store/meta/index.js";

export const TEMPLATE_SECRET = "template-master";
/** The application name under which the vault itself keeps templates for verify-speaker. */
export const VAULT_APPLICATION = "vault";

export interface TemplateKey {
  readonly key: Uint8Array;
  readonly version: number;
}

export function deriveTemplateKey(
  master: Uint8Array,
  version: number,
  tenant: string,
  application: string,
): Uint8Array {
  return hkdfSha256(
    master,
    new Uint8Array(0),
    encodeFields(["voxvault/template-key/v1", tenant, application, String(version)]),
    32,
  );
}

/** The current template key for a tenant and application (creates the master on first use: write transaction). */
export async function templateKey(
  trx: MetaDb,
  tree: Pick<KeyTree, "secretOrCreate">,
  tenant: string,
  application: string,
): Promise<TemplateKey> {
  const { version, value } = await tree.secretOrCreate(trx, TEMPLATE_SECRET);
  const key = deriveTemplateKey(value, version, tenant, application);
  wipe(value);
  return { key, version };
}
