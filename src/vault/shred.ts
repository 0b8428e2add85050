/**
 * Crypto-shredding (docs/architecture.md §Shredding). One write transaction deletes every version
 * of the subject's key and its sealed external reference, records the puncture of the subject's
 * slot in the root's puncture log, and records the event and the certificate; after commit this
 * host's provider applies the puncture (every other host within one sync period). Cost: O(1) in
 * the subject's data (counters are kept on the subject row); ciphertext objects are removed
 * later by `sweep`, and are undecryptable from the commit on.
 */
import { recordEvent } from "../audit/record.js";
import { fromBase64, wipe } from "../crypto/bytes.js";
import { VaultError } from "../errors.js";
import { newId } from "../ids.js";
import type { MetaDb } from "../store/meta/index.js";
import { canonicalJson } from "../crypto/jcs.js";
import {
  certificateKeyId,
  CERT_SECRET,
  CERT_TYPE,
  DeletionCertificateSchema,
  signCertificate,
  verifyCertificate,
  type DeletionCertificate,
} from "./certificates.js";
import type { VaultDeps } from "./deps.js";
import { parseDuration } from "./duration.js";
import { issueReceipt, receiptSubject } from "./deletion-receipts.js";
import { eraseSubjectData, eraseSubjectRecords } from "./erasure.js";
import { liveGenerations, syncRoot } from "./root-sync.js";
import { slotPoint } from "../keys/points.js";
import { loadSubject, toSubjectInfo, type SubjectInfo } from "./subjects.js";

export type ShredOutcome = (
  | { readonly status: "shredded"; readonly certificate: DeletionCertificate }
  | { readonly status: "scheduled"; readonly subject: SubjectInfo; readonly shredAfter: string }
) & {
  /** With `receipt: true`: the secret that fetches the certificate later (src/vault/deletion-receipts.ts). */
  readonly receipt?: string;
};

/** What a deletion receipt shows: the subject's erasure as it stands. */
export type ErasureStatus =
  | { readonly status: "shredded"; readonly certificate: DeletionCertificate }
  | { readonly status: "scheduled"; readonly shredAfter: string }
  | { readonly status: "cancelled" };

type Deps = Pick<VaultDeps, "vaultId" | "config" | "meta" | "tree" | "provider" | "actor" | "now">;

export const CERT_PUBLIC_KEY_META = "deletion_certificate_public_key";
/** JSON array of base64 public keys that signed certificates before a rotation. */
export const CERT_RETIRED_KEYS_META = "deletion_certificate_retired_keys";

export async function retiredCertificateKeys(db: MetaDb): Promise<Uint8Array[]> {
  const row = await db
    .selectFrom("vault_meta")
    .select("value")
    .where("key", "=", CERT_RETIRED_KEYS_META)
    .executeTakeFirst();
  if (!row) return [];
  return (JSON.parse(row.value) as string[]).map((k) => fromBase64(k));
}

export function createShredService(deps: Deps) {
  async function publicKey(db: MetaDb): Promise<Uint8Array> {
    const row = await db
      .selectFrom("vault_meta")
      .select("value")
      .where("key", "=", CERT_PUBLIC_KEY_META)
      .executeTakeFirst();
    if (!row) throw new VaultError("VAULT_CORRUPT", "the vault has no certificate key");
    return fromBase64(row.value);
  }

  /** When the shred was asked for: the scheduling event's time for a scheduled shred, else now. */
  async function requestTime(trx: MetaDb, subjectId: string, pending: boolean): Promise<string | undefined> {
    if (!pending) return undefined;
    const ev = await trx
      .selectFrom("audit_events")
      .select("at")
      .where("subject_id", "=", subjectId)
      .where("type", "=", "subject.shred_scheduled")
      .orderBy("seq", "desc")
      .executeTakeFirst();
    return ev?.at;
  }

  async function execute(
    subjectId: string,
    withReceipt = false,
  ): Promise<{ certificate: DeletionCertificate; receipt?: string }> {
    let receipt: string | undefined;
    const certificate = await deps.meta.write(async (trx) => {
      const row = await loadSubject(trx, subjectId);
      if (row.status === "shredded")
        throw new VaultError("SUBJECT_SHREDDED", `subject ${row.id} was already shredded`);
      const requestedAt = await requestTime(trx, row.id, row.status === "shred_pending");
      const versions = (
        await trx
          .selectFrom("subject_keys")
          .select("version")
          .where("subject_id", "=", row.id)
          .orderBy("version")
          .execute()
      ).map((r) => r.version);
      await trx.deleteFrom("subject_keys").where("subject_id", "=", row.id).execute();
      const shreddedAt = deps.now().toISOString();
      const erased = await eraseSubjectRecords(deps, trx, row, shreddedAt);
      await deps.tree.recordPunctures(
        trx,
        [slotPoint(row.slot), ...erased.points],
        "subject.shredded",
        shreddedAt,
      );
      const generations = await liveGenerations(trx);
      await trx
        .updateTable("subjects")
        .set({
          status: "shredded",
          ref_hash: null,
          ref_enc: null,
          ref_bucket: null,
          shredded_at: shreddedAt,
          shred_after: null,
        })
        .where("id", "=", row.id)
        .execute();
      const certificateId = newId("crt");
      const event = await recordEvent(trx, deps.actor, {
        type: "subject.shredded",
        subjectId: row.id,
        certificateId,
        blobs: row.blob_count,
        bytes: row.blob_bytes,
        subjectKeyVersions: versions,
        rootGenerations: generations,
      });
      const { value: seed } = await deps.tree.secret(trx, CERT_SECRET);
      const cert = signCertificate(
        {
          type: CERT_TYPE,
          certificateId,
          vaultId: deps.vaultId,
          subjectId: row.id,
          tenant: row.tenant,
          requestedAt: requestedAt ?? shreddedAt,
          shreddedAt,
          destroyed: {
            subjectKeyVersions: versions,
            rootGenerationsPunctured: generations,
            externalReference: row.ref_enc !== null,
            recordsErased: erased.records,
          },
          counts: { blobs: row.blob_count, bytes: row.blob_bytes },
          auditEventId: event.id,
        },
        seed,
        await publicKey(trx),
      );
      wipe(seed);
      await trx
        .insertInto("deletion_certificates")
        .values({
          id: certificateId,
          subject_id: row.id,
          issued_at: shreddedAt,
          body: JSON.stringify(cert),
        })
        .execute();
      if (withReceipt) receipt = await issueReceipt(trx, row.id, shreddedAt);
      return cert;
    });
    deps.tree.forgetSubject(subjectId);
    await eraseSubjectData(deps, subjectId).catch(() => undefined); // sweep repeats it if this fails
    // The puncture is in the committed log; apply it to this host's root now. If this fails or the
    // process dies first, the next sync (at open, on the timer, on any host) applies it.
    await deps.meta.write((trx) => syncRoot(deps, trx)).catch(() => undefined);
    await deps.meta.flushErased?.().catch(() => undefined); // best effort: readers may hold the WAL
    return receipt === undefined ? { certificate } : { certificate, receipt };
  }

  return {
    /**
     * Shreds now, or schedules the shred when the vault has a soft-delete window (and `now` is
     * not forced). A scheduled shred can be cancelled until `sweep` runs it.
     */
    async request(
      subjectId: string,
      options: { immediate?: boolean; receipt?: boolean } = {},
    ): Promise<ShredOutcome> {
      const windowMs = parseDuration(deps.config.shred.softDeleteWindow);
      if (windowMs === 0 || options.immediate) {
        return { status: "shredded", ...(await execute(subjectId, options.receipt === true)) };
      }
      return deps.meta.write(async (trx) => {
        const row = await loadSubject(trx, subjectId);
        if (row.status === "shredded")
          throw new VaultError("SUBJECT_SHREDDED", `subject ${row.id} was already shredded`);
        const at = deps.now().toISOString();
        const receipt = options.receipt ? { receipt: await issueReceipt(trx, row.id, at) } : {};
        if (row.status === "shred_pending") {
          return {
            status: "scheduled",
            subject: toSubjectInfo(row),
            shredAfter: row.shred_after!,
            ...receipt,
          } as const;
        }
        const shredAfter = new Date(deps.now().getTime() + windowMs).toISOString();
        await trx
          .updateTable("subjects")
          .set({ status: "shred_pending", shred_after: shredAfter })
          .where("id", "=", row.id)
          .execute();
        await recordEvent(trx, deps.actor, {
          type: "subject.shred_scheduled",
          subjectId: row.id,
          shredAfter,
        });
        return {
          status: "scheduled",
          subject: toSubjectInfo({ ...row, status: "shred_pending", shred_after: shredAfter }),
          shredAfter,
          ...receipt,
        } as const;
      });
    },

    async cancel(subjectId: string): Promise<SubjectInfo> {
      return deps.meta.write(async (trx) => {
        const row = await loadSubject(trx, subjectId);
        if (row.status !== "shred_pending")
          throw new VaultError("SHRED_NOT_PENDING", `subject ${row.id} has no pending shred`);
        await trx
          .updateTable("subjects")
          .set({ status: "active", shred_after: null })
          .where("id", "=", row.id)
          .execute();
        await recordEvent(trx, deps.actor, { type: "subject.shred_cancelled", subjectId: row.id });
        return toSubjectInfo({ ...row, status: "active", shred_after: null });
      });
    },

    /** Runs every scheduled shred whose window has passed. */
    async runDue(): Promise<DeletionCertificate[]> {
      const due = await deps.meta.db
        .selectFrom("subjects")
        .select("id")
        .where("status", "=", "shred_pending")
        .where("shred_after", "<=", deps.now().toISOString())
        .orderBy("shred_after")
        .execute();
      const out: DeletionCertificate[] = [];
      for (const s of due) out.push((await execute(s.id)).certificate);
      return out;
    },

    /** The erasure a deletion receipt names (UNAUTHENTICATED for an unknown receipt). */
    async byReceipt(secret: string): Promise<ErasureStatus> {
      const subjectId = await receiptSubject(deps.meta.db, secret);
      const row = await loadSubject(deps.meta.db, subjectId);
      if (row.status === "shred_pending") return { status: "scheduled", shredAfter: row.shred_after! };
      if (row.status !== "shredded") return { status: "cancelled" };
      const cert = await deps.meta.db
        .selectFrom("deletion_certificates")
        .select("body")
        .where("subject_id", "=", row.id)
        .executeTakeFirst();
      if (!cert) throw new VaultError("VAULT_CORRUPT", `subject ${row.id} is shredded without a certificate`);
      return { status: "shredded", certificate: DeletionCertificateSchema.parse(JSON.parse(cert.body)) };
    },

    async certificate(subjectId: string): Promise<DeletionCertificate | undefined> {
      const row = await loadSubject(deps.meta.db, subjectId);
      const cert = await deps.meta.db
        .selectFrom("deletion_certificates")
        .select("body")
        .where("subject_id", "=", row.id)
        .executeTakeFirst();
      return cert ? DeletionCertificateSchema.parse(JSON.parse(cert.body)) : undefined;
    },

    async certificatePublicKey(): Promise<Uint8Array> {
      return publicKey(deps.meta.db);
    },

    /** Keys that signed certificates before a rotation; certificates they signed stay valid. */
    async retiredCertificatePublicKeys(): Promise<Uint8Array[]> {
      return retiredCertificateKeys(deps.meta.db);
    },

    async verify(certificate: unknown): Promise<DeletionCertificate> {
      const db = deps.meta.db;
      const current = await publicKey(db);
      const cert = verifyCertificate(certificate, [current, ...(await retiredCertificateKeys(db))]);
      // A retired key's seed may be in old copies: what it signed counts only if the vault issued
      // exactly that certificate (a forger holding the old seed cannot add to the vault's records).
      if (cert.signature.keyId !== certificateKeyId(current)) {
        const row = await db
          .selectFrom("deletion_certificates")
          .select("body")
          .where("id", "=", cert.certificateId)
          .executeTakeFirst();
        const issued = row ? DeletionCertificateSchema.safeParse(JSON.parse(row.body)) : undefined;
        if (!issued?.success || canonicalJson(issued.data) !== canonicalJson(cert)) {
          throw new VaultError(
            "INVALID_ARGUMENT",
            "signed by a retired certificate key, but this vault did not issue this certificate",
          );
        }
      }
      if (cert.vaultId !== deps.vaultId)
        throw new VaultError("INVALID_ARGUMENT", "certificate was issued by another vault");
      return cert;
    },
  };
}

export type ShredService = ReturnType<typeof createShredService>;
