/**
 * Resumable uploads (the tus protocol's core: create with a length, append at an offset, query
 * the offset). Each chunk is sealed at once as an encrypted part blob bound to a one-day retention
 * epoch, so nothing raw rests unencrypted and an abandoned upload is erased cryptographically by
 * `retention sweep`. When the last byte arrives the parts are decrypted in order straight into
 * the abstraction pipeline, then deleted.
 */
import { VaultError } from "../errors.js";
import { newId, parseId } from "../ids.js";
import type { UploadsTable } from "../store/meta/schema-access.js";
import { commitBlobs, deleteBlobs, discardSealed, loadBlob, openBlob, sealBlob } from "../vault/blobs.js";
import type { VaultDeps } from "../vault/deps.js";
import { loadSubject, requireActive } from "../vault/subjects.js";
import type { IngestResult, IngestService } from "./service.js";

export const MAX_CHUNK_BYTES = 64 * 1024 * 1024;
const UPLOAD_TTL_MS = 24 * 3_600_000;

export interface UploadState {
  readonly id: string;
  readonly subjectId: string;
  readonly offset: number;
  readonly length: number;
  readonly status: UploadsTable["status"];
  readonly expiresAt: string;
  readonly recordingId: string | null;
}

type Deps = Pick<VaultDeps, "vaultId" | "meta" | "store" | "tree" | "actor" | "now"> & {
  readonly ingest: Pick<IngestService, "ingest">;
  readonly maxBytes: number;
};

function view(r: UploadsTable): UploadState {
  return {
    id: r.id,
    subjectId: r.subject_id,
    offset: r.received,
    length: r.length,
    status: r.status,
    expiresAt: r.expires_at,
    recordingId: r.recording_id,
  };
}

export function createUploadService(deps: Deps) {
  async function load(id: string, principalId: string): Promise<UploadsTable> {
    const row = await deps.meta.db
      .selectFrom("uploads")
      .selectAll()
      .where("id", "=", parseId("upl", id, "upload id"))
      .executeTakeFirst();
    // Someone else's upload is not found, not forbidden.
    if (row?.principal_id !== principalId) throw new VaultError("NOT_FOUND", `no upload ${id}`);
    return row;
  }

  async function assemble(row: UploadsTable, parts: string[]): Promise<IngestResult> {
    const subject = await loadSubject(deps.meta.db, row.subject_id);
    async function* source(): AsyncGenerator<Uint8Array, void, undefined> {
      for (const id of parts) {
        const b = await loadBlob(deps.meta.db, id);
        yield* (await openBlob(deps, b, subject)).stream;
      }
    }
    return deps.ingest.ingest({ subjectId: row.subject_id, source: source() });
  }

  return {
    async create(subjectId: string, principalId: string, length: number): Promise<UploadState> {
      if (!Number.isSafeInteger(length) || length <= 0)
        throw new VaultError("BAD_REQUEST", "upload length must be a positive integer");
      if (length > deps.maxBytes) throw new VaultError("PAYLOAD_TOO_LARGE", "upload exceeds the size limit");
      return deps.meta.write(async (trx) => {
        const s = await loadSubject(trx, subjectId);
        requireActive(s);
        const now = deps.now();
        const row: UploadsTable = {
          id: newId("upl"),
          subject_id: s.id,
          principal_id: principalId,
          length,
          received: 0,
          parts: "[]",
          created_at: now.toISOString(),
          expires_at: new Date(now.getTime() + UPLOAD_TTL_MS).toISOString(),
          status: "open",
          recording_id: null,
        };
        await trx.insertInto("uploads").values(row).execute();
        return view(row);
      });
    },

    async status(id: string, principalId: string): Promise<UploadState> {
      return view(await load(id, principalId));
    },

    subjectOf: async (id: string, principalId: string) => (await load(id, principalId)).subject_id,

    /** Appends a chunk at `offset`; on the last byte, ingests and returns the recording. */
    async append(
      id: string,
      principalId: string,
      offset: number,
      chunk: AsyncIterable<Uint8Array>,
    ): Promise<{ state: UploadState; recording?: IngestResult }> {
      const row = await load(id, principalId);
      if (row.status !== "open") throw new VaultError("CONFLICT", `upload is ${row.status}`);
      if (Date.parse(row.expires_at) <= deps.now().getTime())
        throw new VaultError("CONFLICT", "upload expired");
      if (offset !== row.received) throw new VaultError("CONFLICT", `offset must be ${row.received}`);
      const remaining = row.length - row.received;
      let got = 0;
      async function* bounded(): AsyncGenerator<Uint8Array, void, undefined> {
        for await (const c of chunk) {
          got += c.length;
          if (got > remaining || got > MAX_CHUNK_BYTES)
            throw new VaultError(
              "PAYLOAD_TOO_LARGE",
              "chunk exceeds the upload's remaining length or the chunk limit",
            );
          yield c;
        }
      }
      const sealed = await sealBlob(deps, {
        subjectId: row.subject_id,
        kind: "upload-part",
        data: bounded(),
        retention: { expiresAt: new Date(deps.now().getTime() + UPLOAD_TTL_MS) },
      });
      if (got === 0) {
        await discardSealed(deps.store, [sealed]);
        throw new VaultError("BAD_REQUEST", "empty chunk");
      }
      let updated: UploadsTable;
      try {
        updated = await deps.meta.write(async (trx) => {
          const now = await trx
            .selectFrom("uploads")
            .selectAll()
            .where("id", "=", row.id)
            .executeTakeFirstOrThrow();
          if (now.received !== row.received || now.status !== "open")
            throw new VaultError("CONFLICT", "concurrent append");
          await commitBlobs(trx, deps, row.subject_id, [sealed]);
          const parts = [...(JSON.parse(now.parts) as string[]), sealed.row.id];
          const next = { ...now, received: now.received + got, parts: JSON.stringify(parts) };
          await trx
            .updateTable("uploads")
            .set({ received: next.received, parts: next.parts })
            .where("id", "=", row.id)
            .execute();
          return next;
        });
      } catch (e) {
        await discardSealed(deps.store, [sealed]);
        throw e;
      }
      if (updated.received < updated.length) return { state: view(updated) };
      const parts = JSON.parse(updated.parts) as string[];
      let recording: IngestResult;
      try {
        recording = await assemble(updated, parts);
      } catch (e) {
        await this.abort(id, principalId).catch(() => undefined);
        throw e;
      }
      await deps.meta.write(async (trx) => {
        await deleteBlobs(trx, deps, updated.subject_id, parts, "upload_assembled");
        await trx
          .updateTable("uploads")
          .set({ status: "complete", recording_id: recording.id, parts: "[]" })
          .where("id", "=", row.id)
          .execute();
      });
      for (const p of parts) await deps.store.delete(p);
      return { state: { ...view(updated), status: "complete", recordingId: recording.id }, recording };
    },

    async abort(id: string, principalId: string): Promise<UploadState> {
      const row = await load(id, principalId);
      const parts = JSON.parse(row.parts) as string[];
      await deps.meta.write(async (trx) => {
        await deleteBlobs(trx, deps, row.subject_id, parts, "upload_aborted");
        await trx
          .updateTable("uploads")
          .set({ status: "aborted", parts: "[]" })
          .where("id", "=", row.id)
          .execute();
      });
      for (const p of parts) await deps.store.delete(p);
      return { ...view(row), status: "aborted" };
    },
  };
}

export type UploadService = ReturnType<typeof createUploadService>;
