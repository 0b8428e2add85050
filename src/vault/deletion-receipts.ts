/**
 * Deletion receipts: how a contractor fetches their deletion certificate after the shred has
 * erased their session. The secret (`vvr_` + 32 random bytes, base64url) is returned once, when
 * erasure is asked for; the vault keeps SHA-256 of it under a domain label, never the secret, so a
 * database dump yields no receipt. A receipt names one subject and answers with its state: still
 * scheduled (and until when), cancelled, or shredded with the signed certificate.
 */
import { createHash, randomBytes } from "node:crypto";
import { VaultError } from "../errors.js";
import type { MetaDb } from "../store/meta/index.js";

export const RECEIPT_PREFIX = "vvr_";
const RECEIPT_RE = /^vvr_[A-Za-z0-9_-]{43}$/;

export function receiptHash(secret: string): Buffer {
  return createHash("sha256").update("voxvault/deletion-receipt/v1\n").update(secret).digest();
}

/** Issues a receipt for the subject in the caller's transaction; returns the secret (shown once). */
export async function issueReceipt(trx: MetaDb, subjectId: string, at: string): Promise<string> {
  const secret = RECEIPT_PREFIX + randomBytes(32).toString("base64url");
  await trx
    .insertInto("deletion_receipts")
    .values({ secret_hash: receiptHash(secret), subject_id: subjectId, created_at: at })
    .execute();
  return secret;
}

/** The subject a receipt names; UNAUTHENTICATED for anything else (malformed, unknown). */
export async function receiptSubject(db: MetaDb, secret: string): Promise<string> {
  const row = RECEIPT_RE.test(secret)
    ? await db
        .selectFrom("deletion_receipts")
        .select("subject_id")
        .where("secret_hash", "=", receiptHash(secret))
        .executeTakeFirst()
    : undefined;
  if (!row) throw new VaultError("UNAUTHENTICATED", "unknown deletion receipt");
  return row.subject_id;
}
