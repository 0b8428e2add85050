/**
 * Blobs: ciphertext objects in the blob store, one random data key each, wrapped under the
 * subject's key (so subject-key rotation rewraps metadata only) and bound to tenant, subject,
 * blob id and kind by the blob format's associated data.
 */
import { recordEvent } from "../audit/record.js";
import { concatBytes, encodeFields, randomBytes, wipe } from "../crypto/bytes.js";
import { unwrapKey, wrapKey } from "../crypto/keywrap.js";
import { VaultError } from "../errors.js";
import {
  DEFAULT_SEGMENT_LOG2,
  openRange,
  openStream,
  sealStream,
  type BlobContext,
} from "../format/index.js";
import { toAsync } from "../format/io.js";
import { newId, parseId } from "../ids.js";
import type { MetaDb } from "../store/meta/index.js";
import type { BlobsTable } from "../store/meta/schema.js";
import type { VaultDeps } from "./deps.js";
import { epochExpired, epochFor, epochSecretName, retentionKek } from "./retention-keys.js";
import { latestKeyVersion, loadSubject, requireActive, requireNotShredded } from "./subjects.js";
import { epochPoint } from "../keys/points.js";

const KIND_RE = /^[a-z][a-z0-9._-]{0,63}$/;

export interface BlobInfo {
  readonly id: string;
  readonly subjectId: string;
  readonly kind: string;
  /** Ciphertext bytes in the store. */
  readonly size: number;
  readonly plaintextSize: number;
  readonly keyVersion: number;
  readonly createdAt: string;
  /** UTC day (YYYYMMDD) after which the blob's key is destroyed; null when kept without limit. */
  readonly retentionEpoch: string | null;
}

export interface PutBlobInput {
  readonly subjectId: string;
  readonly kind: string;
  readonly data: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
  readonly segmentLog2?: number | undefined;
  /** Bind the blob's key to a retention epoch: undecryptable after `expiresAt` (end of that UTC day). */
  readonly retention?: { readonly expiresAt: Date } | undefined;
}

export interface ReadBlobOptions {
  readonly start?: number | undefined;
  readonly end?: number | undefined;
}

export interface BlobRead {
  readonly info: BlobInfo;
  readonly start: number;
  readonly end: number;
  /** Decrypted bytes; each segment is released only after its tag verified. */
  readonly stream: AsyncGenerator<Uint8Array, void, undefined>;
}

type Deps = Pick<VaultDeps, "vaultId" | "meta" | "store" | "tree" | "actor" | "now">;

export function checkKind(kind: string): string {
  if (!KIND_RE.test(kind))
    throw new VaultError("INVALID_ARGUMENT", "blob kind must match [a-z][a-z0-9._-]{0,63}");
  return kind;
}

export function toBlobInfo(r: BlobsTable): BlobInfo {
  return {
    id: r.id,
    subjectId: r.subject_id,
    kind: r.kind,
    size: r.size,
    plaintextSize: r.plaintext_size,
    keyVersion: r.key_version,
    createdAt: r.created_at,
    retentionEpoch: r.retention_epoch,
  };
}

export function dekAad(
  vaultId: string,
  blobId: string,
  subjectId: string,
  kind: string,
  version: number,
  epoch: string | null = null,
): Uint8Array {
  const fields = ["voxvault/blob-dek/v1", vaultId, blobId, subjectId, kind, String(version)];
  return encodeFields(epoch === null ? fields : [...fields, epoch]);
}

/**
 * The key that wraps a blob's DEK: the subject key, or for retention-bound blobs a key derived
 * from the subject key and the epoch secret. Caller wipes the result when it differs from `subjectKey`.
 */
export async function dekWrappingKey(
  db: MetaDb,
  tree: Pick<VaultDeps["tree"], "secret">,
  subjectKey: Uint8Array,
  epoch: string | null,
  now: Date,
): Promise<Uint8Array> {
  if (epoch === null) return subjectKey;
  if (epochExpired(epoch, now))
    throw new VaultError("RETENTION_EXPIRED", `retention epoch ${epoch} has ended`);
  let secret: Uint8Array;
  try {
    secret = (await tree.secret(db, epochSecretName(epoch))).value;
  } catch (e) {
    throw new VaultError("RETENTION_EXPIRED", `the key of retention epoch ${epoch} was destroyed`, {
      cause: e,
    });
  }
  const kek = retentionKek(subjectKey, secret, epoch);
  wipe(secret);
  return kek;
}

export async function loadBlob(db: MetaDb, id: string): Promise<BlobsTable> {
  const blobId = parseId("blb", id, "blob id");
  const row = await db.selectFrom("blobs").selectAll().where("id", "=", blobId).executeTakeFirst();
  if (!row) throw new VaultError("BLOB_NOT_FOUND", `no blob ${blobId}`);
  return row;
}

/**
 * Unwraps a blob's key and returns a lazy decrypting stream of [start, end), recording nothing:
 * callers record the access themselves (blobs.read records `blob.read`; the HTTP API records
 * `derivation.served` in the same transaction as the budget charge). Not exported from the package.
 */
export async function openBlob(
  deps: Pick<VaultDeps, "vaultId" | "meta" | "store" | "tree" | "now">,
  row: BlobsTable,
  subject: { readonly id: string; readonly slot: number; readonly tenant: string },
  options: ReadBlobOptions = {},
): Promise<BlobRead> {
  const plainSize = row.plaintext_size;
  const start = options.start ?? 0;
  const end = options.end ?? plainSize;
  if (
    !Number.isSafeInteger(start) ||
    !Number.isSafeInteger(end) ||
    start < 0 ||
    end < start ||
    end > plainSize
  ) {
    throw new VaultError("BLOB_RANGE_INVALID", `range ${start}..${end} outside 0..${plainSize}`);
  }
  const subjectKey = await deps.tree.subjectKey(deps.meta.db, subject.id, subject.slot, row.key_version);
  let dek: Uint8Array;
  try {
    const kek = await dekWrappingKey(deps.meta.db, deps.tree, subjectKey, row.retention_epoch, deps.now());
    dek = unwrapKey(
      kek,
      row.wrapped_dek,
      dekAad(deps.vaultId, row.id, subject.id, row.kind, row.key_version, row.retention_epoch),
    );
    if (kek !== subjectKey) wipe(kek);
  } finally {
    wipe(subjectKey);
  }
  const context: BlobContext = {
    tenant: subject.tenant,
    subject: subject.id,
    blobId: row.id,
    kind: row.kind,
  };
  const store = deps.store;
  const whole = start === 0 && end === plainSize;
  async function* stream(): AsyncGenerator<Uint8Array, void, undefined> {
    try {
      if (whole) {
        yield* openStream(dek, context, store.get(row.id), { expectedLength: row.size });
        return;
      }
      const obj = await store.open(row.id);
      try {
        if (obj.size !== row.size) {
          throw new VaultError(
            obj.size < row.size ? "BLOB_TRUNCATED" : "BLOB_TRAILING_DATA",
            "stored object size differs from its recorded size",
          );
        }
        yield* openRange(dek, context, obj, start, end);
      } finally {
        await obj.close();
      }
    } finally {
      wipe(dek);
    }
  }
  return { info: toBlobInfo(row), start, end, stream: stream() };
}

/** A blob whose ciphertext is in the store but whose metadata is not committed yet. */
export interface SealedBlob {
  readonly row: BlobsTable;
  readonly subjectId: string;
}

/**
 * Writes a blob's ciphertext to the store without metadata. The caller commits it with
 * `commitBlobs` in a write transaction, or removes it with `discardSealed`; until committed it is
 * an orphan that `sweep` removes after its grace period.
 */
export async function sealBlob(deps: Deps, input: PutBlobInput): Promise<SealedBlob> {
  const kind = checkKind(input.kind);
  const subject = await loadSubject(deps.meta.db, input.subjectId);
  requireActive(subject);
  const version = await latestKeyVersion(deps.meta.db, subject.id);
  const blobId = newId("blb");
  let epoch: string | null = null;
  if (input.retention) {
    epoch = epochFor(input.retention.expiresAt);
    if (epochExpired(epoch, deps.now()))
      throw new VaultError("INVALID_ARGUMENT", "retention expiry is in the past");
    const name = epochSecretName(epoch);
    const point = epochPoint(epoch);
    wipe((await deps.meta.write((trx) => deps.tree.secretOrCreate(trx, name, point))).value);
  }
  const dek = randomBytes(32);
  const subjectKey = await deps.tree.subjectKey(deps.meta.db, subject.id, subject.slot, version);
  const kek = await dekWrappingKey(deps.meta.db, deps.tree, subjectKey, epoch, deps.now());
  const wrapped = Buffer.from(
    wrapKey(kek, dek, dekAad(deps.vaultId, blobId, subject.id, kind, version, epoch)),
  );
  if (kek !== subjectKey) wipe(kek);
  wipe(subjectKey);
  const context: BlobContext = { tenant: subject.tenant, subject: subject.id, blobId, kind };
  const segmentLog2 = input.segmentLog2 ?? DEFAULT_SEGMENT_LOG2;
  let plaintextSize = 0;
  async function* counted(): AsyncGenerator<Uint8Array, void, undefined> {
    for await (const c of toAsync(input.data)) {
      plaintextSize += c.length;
      yield c;
    }
  }
  let size: number;
  try {
    ({ size } = await deps.store.put(blobId, sealStream(dek, context, counted(), { segmentLog2 })));
  } finally {
    wipe(dek);
  }
  return {
    subjectId: subject.id,
    row: {
      id: blobId,
      subject_id: subject.id,
      kind,
      size,
      plaintext_size: plaintextSize,
      segment_log2: segmentLog2,
      key_version: version,
      wrapped_dek: wrapped,
      created_at: deps.now().toISOString(),
      retention_epoch: epoch,
    },
  };
}

/**
 * Commits sealed blobs of one subject inside the caller's write transaction: re-checks that the
 * subject is still active and its key versions still exist, inserts the rows, updates counters
 * and records one `blob.written` event per blob.
 */
export async function commitBlobs(
  trx: MetaDb,
  deps: Pick<VaultDeps, "actor">,
  subjectId: string,
  sealed: readonly SealedBlob[],
): Promise<void> {
  const subject = await loadSubject(trx, subjectId);
  requireActive(subject); // shredded or scheduled while we were writing
  const versions = new Set(
    (
      await trx.selectFrom("subject_keys").select("version").where("subject_id", "=", subject.id).execute()
    ).map((r) => r.version),
  );
  let bytes = 0;
  for (const b of sealed) {
    if (b.subjectId !== subject.id) throw new VaultError("INTERNAL", "sealed blob of another subject");
    if (!versions.has(b.row.key_version)) {
      throw new VaultError("VAULT_BUSY", "the subject's key was rotated during the write; retry");
    }
    await trx.insertInto("blobs").values(b.row).execute();
    bytes += b.row.size;
    await recordEvent(trx, deps.actor, {
      type: "blob.written",
      subjectId: subject.id,
      blobId: b.row.id,
      kind: b.row.kind,
      size: b.row.size,
    });
  }
  await trx
    .updateTable("subjects")
    .set({ blob_count: subject.blob_count + sealed.length, blob_bytes: subject.blob_bytes + bytes })
    .where("id", "=", subject.id)
    .execute();
}

/** Removes the objects of sealed blobs that will not be committed (best effort; sweep catches the rest). */
export async function discardSealed(store: VaultDeps["store"], sealed: readonly SealedBlob[]): Promise<void> {
  for (const b of sealed) await store.delete(b.row.id).catch(() => undefined);
}

export function createBlobService(deps: Deps) {
  return {
    async put(input: PutBlobInput): Promise<BlobInfo> {
      const sealed = await sealBlob(deps, input);
      try {
        await deps.meta.write((trx) => commitBlobs(trx, deps, sealed.subjectId, [sealed]));
      } catch (e) {
        await discardSealed(deps.store, [sealed]);
        throw e;
      }
      return toBlobInfo(sealed.row);
    },

    async info(id: string): Promise<BlobInfo> {
      return toBlobInfo(await loadBlob(deps.meta.db, id));
    },

    async list(subjectId: string): Promise<BlobInfo[]> {
      const subject = await loadSubject(deps.meta.db, subjectId);
      requireNotShredded(subject);
      const rows = await deps.meta.db
        .selectFrom("blobs")
        .selectAll()
        .where("subject_id", "=", subject.id)
        .orderBy("created_at")
        .orderBy("id")
        .execute();
      return rows.map(toBlobInfo);
    },

    /** Opens a blob (or a byte range of it) for reading; the access is audited before any byte flows. */
    async read(id: string, options: ReadBlobOptions = {}): Promise<BlobRead> {
      const row = await loadBlob(deps.meta.db, id);
      const subject = await loadSubject(deps.meta.db, row.subject_id);
      requireActive(subject);
      const opened = await openBlob(deps, row, subject, options);
      try {
        await deps.meta.write(async (trx) => {
          requireActive(await loadSubject(trx, subject.id));
          await recordEvent(trx, deps.actor, {
            type: "blob.read",
            subjectId: subject.id,
            blobId: row.id,
            kind: row.kind,
            start: opened.start,
            end: opened.end,
          });
        });
      } catch (e) {
        await opened.stream.return(undefined);
        throw e;
      }
      return opened;
    },
  };
}

export type BlobService = ReturnType<typeof createBlobService>;

/**
 * Decrypts a small blob whole, inside the caller's transaction and without a `blob.read` event:
 * for service-internal reads whose own event records the access (e.g. `speaker.verified`).
 */
export async function readSmallBlob(
  db: MetaDb,
  deps: Pick<VaultDeps, "vaultId" | "store" | "tree" | "now">,
  row: BlobsTable,
  subject: { readonly id: string; readonly slot: number; readonly tenant: string },
  maxBytes = 1 << 20,
): Promise<Uint8Array> {
  if (row.plaintext_size > maxBytes) throw new VaultError("INTERNAL", "blob too large for an in-memory read");
  const subjectKey = await deps.tree.subjectKey(db, subject.id, subject.slot, row.key_version);
  const kek = await dekWrappingKey(db, deps.tree, subjectKey, row.retention_epoch, deps.now());
  const dek = unwrapKey(
    kek,
    row.wrapped_dek,
    dekAad(deps.vaultId, row.id, subject.id, row.kind, row.key_version, row.retention_epoch),
  );
  if (kek !== subjectKey) wipe(kek);
  wipe(subjectKey);
  try {
    const context: BlobContext = {
      tenant: subject.tenant,
      subject: subject.id,
      blobId: row.id,
      kind: row.kind,
    };
    const parts: Uint8Array[] = [];
    for await (const p of openStream(dek, context, deps.store.get(row.id), { expectedLength: row.size }))
      parts.push(p);
    return concatBytes(...parts);
  } finally {
    wipe(dek);
  }
}

/**
 * Deletes committed blobs of one subject inside the caller's transaction (rows, counters, one
 * `blobs.removed` event); the caller removes the objects after commit.
 */
export async function deleteBlobs(
  trx: MetaDb,
  deps: Pick<VaultDeps, "actor">,
  subjectId: string,
  blobIds: readonly string[],
  reason: "upload_assembled" | "upload_aborted" | "upload_failed",
): Promise<void> {
  if (blobIds.length === 0) return;
  const rows = await trx
    .selectFrom("blobs")
    .select(["id", "size"])
    .where("subject_id", "=", subjectId)
    .where("id", "in", [...blobIds])
    .execute();
  if (rows.length === 0) return;
  await trx
    .deleteFrom("blobs")
    .where(
      "id",
      "in",
      rows.map((r) => r.id),
    )
    .execute();
  const s = await trx
    .selectFrom("subjects")
    .select(["blob_count", "blob_bytes"])
    .where("id", "=", subjectId)
    .executeTakeFirstOrThrow();
  await trx
    .updateTable("subjects")
    .set({
      blob_count: s.blob_count - rows.length,
      blob_bytes: s.blob_bytes - rows.reduce((a, r) => a + r.size, 0),
    })
    .where("id", "=", subjectId)
    .execute();
  await recordEvent(trx, deps.actor, { type: "blobs.removed", subjectId, count: rows.length, reason });
}
