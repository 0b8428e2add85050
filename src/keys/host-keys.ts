/**
 * A host's X25519 key pairs as both root providers keep them (key file, HSM state): the current
 * pair, and earlier ones kept until the vault confirms which one it lists (a rotation's
 * transaction may not commit). Generations other hosts seal to this host open with any of them.
 */
import { wipe } from "../crypto/bytes.js";
import { generateHostKey, openSealedToHost, type HostKeyPair } from "../crypto/host-seal.js";
import { VaultError } from "../errors.js";

export interface HostKeys {
  pair: HostKeyPair;
  pending: HostKeyPair[];
}

/** A new current pair; the old one waits in `pending`. Returns the new public key. */
export function rotateHostKeys(keys: HostKeys): Uint8Array {
  keys.pending.push(keys.pair);
  keys.pair = generateHostKey();
  return keys.pair.publicKey.slice();
}

/**
 * Keeps only the pair whose public key the vault lists, wiping the others (forward secrecy for
 * copies sealed to them). Returns false when there was nothing to change.
 */
export function settleHostKeys(
  keys: HostKeys,
  listed: Uint8Array,
  hostId: string,
  location: string,
): boolean {
  const same = (p: HostKeyPair) => Buffer.from(p.publicKey).equals(Buffer.from(listed));
  if (same(keys.pair) && keys.pending.length === 0) return false;
  const all = [keys.pair, ...keys.pending];
  const keep = all.find(same);
  if (!keep)
    throw new VaultError(
      "ROOT_KEY_MISMATCH",
      `the vault lists a host key for ${hostId} that is not in ${location} (host key lost): join again`,
    );
  for (const p of all) if (p !== keep) wipe(p.privateKey);
  keys.pair = keep;
  keys.pending = [];
  return true;
}

/** Opens something sealed to this host with whichever of its pairs it was sealed to. */
export function openWithHostKeys(keys: HostKeys, sealed: Uint8Array, aad: Uint8Array): Uint8Array {
  let lastError: unknown;
  for (const pair of [keys.pair, ...keys.pending]) {
    try {
      return openSealedToHost(pair, sealed, aad);
    } catch (e) {
      lastError = e;
    }
  }
  throw lastError;
}
