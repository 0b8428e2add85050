/**
 * Retention epochs: reconstructable material kept for a limited time (raw audio, frame features)
 * has its data key wrapped under a key derived from the subject key AND a per-day vault secret.
 * Each day's secret is wrapped at its own root point (src/keys/points.ts). When the day has
 * passed, `retention sweep` deletes the secret and punctures its point (the shred mechanism,
 * applied to one secret), so expired material is undecryptable from any copy, backups included,
 * not merely deleted. Expiry is rounded up to the end of its UTC day.
 */
import { concatBytes, utf8Bytes } from "../crypto/bytes.js";
import { hkdfSha256 } from "../crypto/kdf.js";
import { VaultError } from "../errors.js";

export const EPOCH_SECRET_PREFIX = "retention-epoch/";
const DAY_MS = 86_400_000;

/** The epoch (UTC day, YYYYMMDD) whose end bounds material that expires at `expiresAt`. */
export function epochFor(expiresAt: Date): string {
  if (Number.isNaN(expiresAt.getTime())) throw new VaultError("INVALID_ARGUMENT", "invalid expiry time");
  return expiresAt.toISOString().slice(0, 10).replaceAll("-", "");
}

export function epochSecretName(epoch: string): string {
  if (!/^\d{8}$/.test(epoch)) throw new VaultError("VAULT_CORRUPT", `malformed retention epoch ${epoch}`);
  return EPOCH_SECRET_PREFIX + epoch;
}

/** The instant the epoch's key may be destroyed: the start of the following UTC day. */
export function epochEnd(epoch: string): Date {
  const start = Date.UTC(Number(epoch.slice(0, 4)), Number(epoch.slice(4, 6)) - 1, Number(epoch.slice(6, 8)));
  return new Date(start + DAY_MS);
}

export function epochExpired(epoch: string, now: Date): boolean {
  return now.getTime() >= epochEnd(epoch).getTime();
}

/** KEK for a retention-bound data key: HKDF(subject key, salt = epoch secret). */
export function retentionKek(subjectKey: Uint8Array, epochSecret: Uint8Array, epoch: string): Uint8Array {
  return hkdfSha256(
    subjectKey,
    epochSecret,
    concatBytes(utf8Bytes("voxvault/retention-kek/v1/"), utf8Bytes(epoch)),
    32,
  );
}
