/**
 * Template keys: 32 bytes from the vault's key hierarchy (one per tenant and application). A
 * template carries only a commitment to its key (HMAC of a fixed label, truncated to 128 bits), so a
 * template made under another key is recognised as such instead of being compared and silently
 * scoring like a stranger. The commitment reveals nothing about the key beyond equality.
 */

import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { utf8ToBytes } from "@noble/hashes/utils.js";
import { VaultError } from "../errors.js";

export const TEMPLATE_KEY_BYTES = 32;
export const KEY_ID_BYTES = 16;
const KEY_ID_LABEL = utf8ToBytes("voxvault/template/key-id/v1");

export function checkTemplateKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== TEMPLATE_KEY_BYTES) {
    throw new VaultError("INVALID_ARGUMENT", `A template key must be ${TEMPLATE_KEY_BYTES} bytes.`);
  }
  let any = 0;
  for (const b of key) any |= b;
  if (any === 0) throw new VaultError("INVALID_ARGUMENT", "A template key must not be all zeros.");
}

/** The key commitment stored in every template: HMAC-SHA-256(key, label)[0..16). */
export function templateKeyId(key: Uint8Array): Uint8Array {
  checkTemplateKey(key);
  return hmac(sha256, key, KEY_ID_LABEL).slice(0, KEY_ID_BYTES);
}
