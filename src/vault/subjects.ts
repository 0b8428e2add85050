/**
 * Subjects (contractors). A subject has a random id, a slot (its point in the root, src/keys/
 * points.ts), a versioned subject key, and an external reference (e.g. the platform's user id or
 * e-mail) that is stored only as an index entry whose key a shred erases and as padded ciphertext
 * under the subject's own key (src/vault/refs.ts).
 */
import { recordEvent } from "../audit/record.js";
import { wipe } from "../crypto/bytes.js";
import { VaultError } from "../errors.js";
import { newId, parseId } from "../ids.js";
import { MAX_SLOTS } from "../keys/tree.js";
import type { MetaDb } from "../store/meta/index.js";
import type { SubjectRole, SubjectStatus, SubjectsTable } from "../store/meta/schema.js";
import type { VaultDeps } from "./deps.js";
import { indexEntry, lookupHashes, openRef, refKeyVersion, sealRef } from "./refs.js";

export { openRef, refKeyVersion, sealRef } from "./refs.js";

const MAX_REF_LENGTH = 512;
const TENANT_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** A subject that exists: active, or scheduled for shredding (`shredAfter`) and still cancellable. */
export interface LiveSubjectInfo {
  readonly id: string;
  readonly tenant: string;
  readonly status: Exclude<SubjectStatus, "shredded">;
  /** contractor, or staff (an interviewer voice, excluded when ingest picks the contractor). */
  readonly role: SubjectRole;
  readonly createdAt: string;
  readonly shredAfter: string | null;
  readonly shreddedAt: null;
  readonly blobCount: number;
  readonly blobBytes: number;
}

/**
 * All that is shown of a shredded subject: that it is gone, since when, and the deletion
 * certificate that proves it (`null` only for a certificate that never committed).
 */
export interface ShreddedSubjectInfo {
  readonly id: string;
  readonly status: "shredded";
  readonly shreddedAt: string;
  readonly certificateId: string | null;
}

export type SubjectInfo = LiveSubjectInfo | ShreddedSubjectInfo;

export interface ListSubjectsOptions {
  readonly tenant?: string | undefined;
  readonly status?: SubjectStatus | undefined;
  /** Return subjects whose id sorts after this one (keyset pagination). */
  readonly after?: string | undefined;
  readonly limit?: number | undefined;
}

type Deps = Pick<VaultDeps, "vaultId" | "config" | "meta" | "tree" | "actor" | "now">;

export function normaliseRef(ref: string): string {
  if (typeof ref !== "string")
    throw new VaultError("INVALID_ARGUMENT", "external reference must be a string");
  const n = ref.normalize("NFC");
  if (n.length === 0 || n.length > MAX_REF_LENGTH) {
    throw new VaultError("INVALID_ARGUMENT", `external reference must be 1..${MAX_REF_LENGTH} characters`);
  }
  // eslint-disable-next-line no-control-regex -- rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(n) || n.trim() !== n) {
    throw new VaultError(
      "INVALID_ARGUMENT",
      "external reference has control characters or surrounding spaces",
    );
  }
  return n;
}

export function checkTenant(tenant: string): string {
  if (!TENANT_RE.test(tenant))
    throw new VaultError("INVALID_ARGUMENT", "tenant must match [a-z0-9][a-z0-9-]{0,62}");
  return tenant;
}

export function toSubjectInfo(r: SubjectsTable, certificateId: string | null = null): SubjectInfo {
  if (r.status === "shredded")
    return { id: r.id, status: "shredded", shreddedAt: r.shredded_at ?? "", certificateId };
  return liveInfo(r, r.status);
}

function liveInfo(r: SubjectsTable, status: LiveSubjectInfo["status"]): LiveSubjectInfo {
  return {
    id: r.id,
    tenant: r.tenant,
    status,
    role: r.role,
    createdAt: r.created_at,
    shredAfter: r.shred_after,
    shreddedAt: null,
    blobCount: r.blob_count,
    blobBytes: r.blob_bytes,
  };
}

/** Loads a subject row; SUBJECT_NOT_FOUND for an unknown or malformed id. */
export async function loadSubject(db: MetaDb, id: string): Promise<SubjectsTable> {
  const subjectId = parseId("sub", id, "subject id");
  const row = await db.selectFrom("subjects").selectAll().where("id", "=", subjectId).executeTakeFirst();
  if (!row) throw new VaultError("SUBJECT_NOT_FOUND", `no subject ${subjectId}`);
  return row;
}

/** A subject whose data may be used: active. Pending and shredded subjects are refused. */
export function requireActive(row: SubjectsTable): void {
  if (row.status === "shredded") throw new VaultError("SUBJECT_SHREDDED", `subject ${row.id} was shredded`);
  if (row.status === "shred_pending") {
    throw new VaultError(
      "SHRED_PENDING",
      `subject ${row.id} is scheduled for shredding (cancel it to use the subject)`,
    );
  }
}

/**
 * Listings of a subject's material (recordings, derivations, blobs, consents): refused once it
 * is shredded, whatever rows remain until `sweep`; during the soft-delete window they stay
 * visible, because the shred can still be cancelled.
 */
export function requireNotShredded(row: SubjectsTable): void {
  if (row.status === "shredded") throw new VaultError("SUBJECT_SHREDDED", `subject ${row.id} was shredded`);
}

export async function latestKeyVersion(db: MetaDb, subjectId: string): Promise<number> {
  const r = await db
    .selectFrom("subject_keys")
    .select((eb) => eb.fn.max("version").as("v"))
    .where("subject_id", "=", subjectId)
    .executeTakeFirst();
  if (r?.v == null) throw new VaultError("KEY_UNAVAILABLE", `subject ${subjectId} has no key`);
  return r.v;
}

async function certificateIdOf(db: MetaDb, subjectId: string): Promise<string | null> {
  const row = await db
    .selectFrom("deletion_certificates")
    .select("id")
    .where("subject_id", "=", subjectId)
    .executeTakeFirst();
  return row?.id ?? null;
}

export function createSubjectService(deps: Deps) {
  async function findRow(db: MetaDb, tenant: string, ref: string): Promise<SubjectsTable | undefined> {
    const hashes = await lookupHashes(db, deps.tree, tenant, ref);
    if (hashes.length === 0) return undefined;
    return db
      .selectFrom("subjects")
      .selectAll()
      .where("tenant", "=", tenant)
      .where("ref_hash", "in", hashes)
      .executeTakeFirst();
  }

  return {
    async add(input: {
      ref: string;
      tenant?: string | undefined;
      role?: SubjectRole | undefined;
    }): Promise<LiveSubjectInfo> {
      const ref = normaliseRef(input.ref);
      const role: string = input.role ?? "contractor";
      if (role !== "contractor" && role !== "staff") {
        throw new VaultError("INVALID_ARGUMENT", "role must be contractor or staff");
      }
      const tenant = checkTenant(input.tenant ?? deps.config.defaultTenant);
      return deps.meta.write(async (trx) => {
        const existing = await findRow(trx, tenant, ref);
        if (existing)
          throw new VaultError("SUBJECT_EXISTS", `a subject with that reference exists: ${existing.id}`);
        const slotRow = await trx
          .selectFrom("vault_meta")
          .select("value")
          .where("key", "=", "next_slot")
          .executeTakeFirst();
        let slot = Number(slotRow?.value ?? "0");
        while (slot < MAX_SLOTS && (await deps.tree.isPunctured(trx, slot))) slot++;
        if (slot >= MAX_SLOTS) throw new VaultError("INVALID_ARGUMENT", "the vault's key tree is full");
        await trx
          .updateTable("vault_meta")
          .set({ value: String(slot + 1) })
          .where("key", "=", "next_slot")
          .execute();
        const id = newId("sub");
        const createdAt = deps.now().toISOString();
        const row: SubjectsTable = {
          id,
          tenant,
          slot,
          ref_hash: null,
          ref_enc: null,
          ref_bucket: null,
          status: "active",
          role,
          created_at: createdAt,
          shred_after: null,
          shredded_at: null,
          blob_count: 0,
          blob_bytes: 0,
        };
        await trx.insertInto("subjects").values(row).execute();
        const key = await deps.tree.createSubjectKey(trx, id, slot, 1);
        const sealed = sealRef(deps.vaultId, id, 1, key, ref);
        wipe(key);
        const entry = await indexEntry(trx, deps.tree, tenant, ref);
        await trx
          .updateTable("subjects")
          .set({ ref_enc: sealed, ref_hash: entry.hash, ref_bucket: entry.bucket })
          .where("id", "=", id)
          .execute();
        await recordEvent(trx, deps.actor, { type: "subject.created", subjectId: id, tenant });
        return liveInfo(row, "active");
      });
    },

    /** One subject; a shredded one is a tombstone (status, time, certificate id). */
    async get(id: string): Promise<SubjectInfo> {
      const row = await loadSubject(deps.meta.db, id);
      return toSubjectInfo(
        row,
        row.status === "shredded" ? await certificateIdOf(deps.meta.db, row.id) : null,
      );
    },

    async list(options: ListSubjectsOptions = {}): Promise<SubjectInfo[]> {
      let q = deps.meta.db
        .selectFrom("subjects")
        .leftJoin("deletion_certificates", "deletion_certificates.subject_id", "subjects.id")
        .selectAll("subjects")
        .select("deletion_certificates.id as certificate_id")
        .orderBy("subjects.id");
      if (options.tenant !== undefined) q = q.where("subjects.tenant", "=", checkTenant(options.tenant));
      if (options.status !== undefined) q = q.where("subjects.status", "=", options.status);
      if (options.after !== undefined) q = q.where("subjects.id", ">", parseId("sub", options.after));
      const limit = Math.min(Math.max(1, options.limit ?? 100), 10_000);
      return (await q.limit(limit).execute()).map(({ certificate_id, ...row }) =>
        toSubjectInfo(row, certificate_id),
      );
    },

    /** Decrypts the external reference. Audited: it is personal data. */
    async revealRef(id: string): Promise<string> {
      return deps.meta.write(async (trx) => {
        const row = await loadSubject(trx, id);
        if (row.status === "shredded" || !row.ref_enc) {
          throw new VaultError("SUBJECT_SHREDDED", `subject ${row.id} was shredded`);
        }
        const key = await deps.tree.subjectKey(trx, row.id, row.slot, refKeyVersion(row.ref_enc));
        const ref = openRef(deps.vaultId, row.id, key, row.ref_enc);
        wipe(key);
        await recordEvent(trx, deps.actor, { type: "subject.reference_revealed", subjectId: row.id });
        return ref;
      });
    },

    /** Finds a subject by external reference (keyed-hash lookup). Audited. */
    async findByRef(ref: string, tenant?: string): Promise<SubjectInfo | undefined> {
      const r = normaliseRef(ref);
      const t = checkTenant(tenant ?? deps.config.defaultTenant);
      return deps.meta.write(async (trx) => {
        const row = await findRow(trx, t, r);
        if (!row) return undefined;
        await recordEvent(trx, deps.actor, { type: "subject.looked_up", subjectId: row.id });
        return toSubjectInfo(row);
      });
    },

    async keyVersions(id: string): Promise<number[]> {
      const row = await loadSubject(deps.meta.db, id);
      const rows = await deps.meta.db
        .selectFrom("subject_keys")
        .select("version")
        .where("subject_id", "=", row.id)
        .orderBy("version")
        .execute();
      return rows.map((r) => r.version);
    },
  };
}

export type SubjectService = ReturnType<typeof createSubjectService>;
