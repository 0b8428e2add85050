/**
 * Per-application pseudonyms for consumers: HMAC(pseudonym key, application || subject id). Two
 * applications see unrelated pseudonyms for the same person, and neither sees the vault's ids.
 */
import { encodeFields, wipe } from "../crypto/bytes.js";
import { hmacSha256 } from "../crypto/kdf.js";
import type { KeyTree } from "../keys/tree.js";
import type { DialectDriver } from "../store/meta/index.js";
import { PSEUDONYM_SECRET } from "../vault/secret-names.js";

const SECRET = PSEUDONYM_SECRET;
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

export async function pseudonymKey(deps: {
  readonly meta: DialectDriver;
  readonly tree: KeyTree;
}): Promise<Uint8Array> {
  const { meta, tree } = deps;
  return (await meta.write((trx) => tree.secretOrCreate(trx, SECRET))).value;
}

export function pseudonym(key: Uint8Array, application: string, subjectId: string): string {
  const mac = hmacSha256(key, encodeFields(["voxvault/pseudonym/v1", application, subjectId]));
  let out = "";
  for (let i = 0; i < 26; i++) out += ALPHABET.charAt(mac[i]! & 31);
  wipe(mac);
  return `psn_${out}`;
}
