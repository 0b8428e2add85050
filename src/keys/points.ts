/**
 * The points of the root's puncturable PRF (src/keys/pprf.ts, 32-bit domain). Each erasable
 * thing has its own point, so erasing it punctures exactly that point:
 *
 *   [0, 2^28)                 subject slots: the subject's keys (all versions)
 *   2^28                      vault secrets that live as long as the vault (signing seeds, …)
 *   2^29 + day                retention epochs (day = days since 1970-01-01, < 2^20)
 *   2^30 + bucket·2^16 + v    reference-lookup keys: 4,096 buckets, 2^16 versions each
 *   2^32 − 1                  the generation's check value (never punctured, wraps nothing)
 */
import { VaultError } from "../errors.js";

export const MAX_SLOTS = 2 ** 28;
/** Never wraps anything: a generation's check value (a fingerprint of the generation) derives from it. */
export const CHECK_POINT = 2 ** 32 - 1;
export const VAULT_SECRETS_POINT = 2 ** 28;
const EPOCH_BASE = 2 ** 29;
const MAX_DAYS = 2 ** 20;
const REF_BASE = 2 ** 30;
export const REF_BUCKETS = 4096;
export const MAX_REF_BUCKET_VERSION = 2 ** 16 - 1;

export function slotPoint(slot: number): number {
  if (!Number.isSafeInteger(slot) || slot < 0 || slot >= MAX_SLOTS) {
    throw new VaultError("VAULT_CORRUPT", `subject slot ${slot} is out of range`);
  }
  return slot;
}

/** Point of a retention epoch "YYYYMMDD". */
export function epochPoint(epoch: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(epoch);
  const day = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 86_400_000 : Number.NaN;
  if (!Number.isSafeInteger(day) || day < 0 || day >= MAX_DAYS) {
    throw new VaultError("VAULT_CORRUPT", `malformed retention epoch ${epoch}`);
  }
  return EPOCH_BASE + day;
}

export function refBucketPoint(bucket: number, version: number): number {
  if (!Number.isSafeInteger(bucket) || bucket < 0 || bucket >= REF_BUCKETS) {
    throw new VaultError("VAULT_CORRUPT", `reference bucket ${bucket} is out of range`);
  }
  if (!Number.isSafeInteger(version) || version < 1 || version > MAX_REF_BUCKET_VERSION) {
    throw new VaultError("VAULT_CORRUPT", `reference bucket version ${version} is out of range`);
  }
  return REF_BASE + bucket * 2 ** 16 + version;
}
