/**
 * Resumable uploads (the tus protocol's core: create with a length, append at an offset, query
 * the offset). Each chunk is sealed at once as an encrypted part blob bound to a one-day retention
 * epoch, so nothing raw rests unencrypted and an abandoned upload is erased cryptographically by
 * `retention sweep`. When the last byte arrives the upload is queued in the same transaction
 * (src/ingest/jobs.ts) and the request returns; a worker decrypts the parts in order straight
 * into the abstraction pipeline and deletes them with the recording's commit.
 */
import { VaultError } from "../errors.js";
import { newId, parseId } from "../ids.js";
import type { UploadsTable } from "../store/meta/schema-access.js";
import { commitBlobs, deleteBlobs, discardSealed, loadBlob, openBlob, sealBlob } from "../vault/blobs.js";
import type { VaultDeps } from "../vault/deps.js";
import { loadSubject, requireActive, requireNotShredded } from "../vault/subjects.js";
import { enqueue, parts as stagedParts, RELEASED, type ClaimedJob, type JobQueue } from "./jobs.js";
import {
  decodeMetadata,
  encodeMetadata,
  parseRecordingMetadata,
  type RecordingMetadata,
} from "./metadata.js";
import type { IngestResult, IngestService, IngestStaging } from "./service.js";
import { toDerivationInfo } from "./derivation-info.js";

export const MAX_CHUNK_BYTES = 64 * 1024 * 1024;
const UPLOAD_TTL_MS = 24 * 3_600_000;

/** How long `waitFor` polls between looks at the row (other processes update it). */
const WAIT_POLL_MS = 100;
export const MAX_WAIT_MS = 60_000;

export interface UploadState {
  readonly id: string;
  readonly subjectId: string;
  readonly offset: number;
  readonly length: number;
  /** open → queued → processing → complete | failed; aborted by its principal. */
  readonly status: UploadsTable["status"];
  readonly expiresAt: string;
  readonly recordingId: string | null;
  /** Ingest attempts started by workers. */
  readonly attempts: number;
  /** Why the last attempt failed (a failed upload keeps it; a queued one is being retried). */
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly metadata?: RecordingMetadata;
}

const TERMINAL = new Set<UploadsTable["status"]>(["complete", "failed", "aborted"]);

type Deps = Pick<VaultDeps, "vaultId" | "meta" | "store" | "tree" | "actor" | "now"> & {
  readonly ingest: Pick<IngestService, "ingest">;
  readonly queue: JobQueue;
  readonly maxBytes: number;
  /** Tells workers in this process that a job is waiting (others poll). */
  readonly notify: () => void;
};

/** A new upload's row: open, no attempts, not held by any worker. */
function newUploadRow(
  subjectId: string,
  principalId: string,
  now: Date,
  metadata: RecordingMetadata | undefined,
  bytes: { readonly length: number; readonly received: number; readonly parts: readonly string[] },
): UploadsTable {
  return {
    id: newId("upl"),
    subject_id: subjectId,
    principal_id: principalId,
    length: bytes.length,
    received: bytes.received,
    parts: JSON.stringify(bytes.parts),
    created_at: now.toISOString(),
    expires_at: new Date(now.getTime() + UPLOAD_TTL_MS).toISOString(),
    status: "open",
    recording_id: null,
    attempts: 0,
    run_after_ms: null,
    ...RELEASED,
    error_code: null,
    error_message: null,
    metadata: encodeMetadata(metadata),
    updated_at: now.toISOString(),
  };
}

function view(r: UploadsTable): UploadState {
  const metadata = decodeMetadata(r.metadata);
  return {
    id: r.id,
    subjectId: r.subject_id,
    offset: r.received,
    length: r.length,
    status: r.status,
    expiresAt: r.expires_at,
    recordingId: r.recording_id,
    attempts: r.attempts,
    error: r.error_code !== null ? { code: r.error_code, message: r.error_message ?? "" } : null,
    ...(metadata ? { metadata } : {}),
  };
}

export function createUploadService(deps: Deps) {
  /** `principalId` undefined: the local operator (CLI, library), who sees every upload. */
  async function load(id: string, principalId: string | undefined): Promise<UploadsTable> {
    const row = await deps.meta.db
      .selectFrom("uploads")
      .selectAll()
      .where("id", "=", parseId("upl", id, "upload id"))
      .executeTakeFirst();
    // Someone else's upload is not found, not forbidden.
    if (!row || (principalId !== undefined && row.principal_id !== principalId))
      throw new VaultError("NOT_FOUND", `no upload ${id}`);
    return row;
  }

  async function assemble(row: UploadsTable, parts: string[], staging: IngestStaging): Promise<IngestResult> {
    const subject = await loadSubject(deps.meta.db, row.subject_id);
    async function* source(): AsyncGenerator<Uint8Array, void, undefined> {
      for (const id of parts) {
        const b = await loadBlob(deps.meta.db, id);
        yield* (await openBlob(deps, b, subject)).stream;
      }
    }
    const metadata = decodeMetadata(row.metadata);
    return deps.ingest.ingest({ subjectId: row.subject_id, source: source(), metadata }, staging);
  }

  return {
    async create(
      subjectId: string,
      principalId: string,
      length: number,
      metadata?: RecordingMetadata,
    ): Promise<UploadState> {
      const meta = parseRecordingMetadata(metadata);
      if (!Number.isSafeInteger(length) || length <= 0)
        throw new VaultError("BAD_REQUEST", "upload length must be a positive integer");
      if (length > deps.maxBytes) throw new VaultError("PAYLOAD_TOO_LARGE", "upload exceeds the size limit");
      return deps.meta.write(async (trx) => {
        const s = await loadSubject(trx, subjectId);
        requireActive(s);
        const row = newUploadRow(s.id, principalId, deps.now(), meta, { length, received: 0, parts: [] });
        await trx.insertInto("uploads").values(row).execute();
        return view(row);
      });
    },

    async status(id: string, principalId?: string): Promise<UploadState> {
      return view(await load(id, principalId));
    },

    /**
     * Waits up to `ms` (at most MAX_WAIT_MS) for the upload to leave open/queued/processing, then
     * returns its state; the recording with its derivations once it is complete.
     */
    async waitFor(
      id: string,
      principalId: string | undefined,
      ms: number,
    ): Promise<{ state: UploadState; recording?: IngestResult }> {
      const until = Date.now() + Math.min(Math.max(0, ms), MAX_WAIT_MS);
      let row = await load(id, principalId);
      while (!TERMINAL.has(row.status) && row.status !== "open" && Date.now() < until) {
        await new Promise((r) => setTimeout(r, Math.min(WAIT_POLL_MS, Math.max(1, until - Date.now()))));
        row = await load(id, principalId);
      }
      return { state: view(row), ...(await recordingOf(row)) };
    },

    /** Every upload of a subject, newest first (operators and the contractor, by the route's rule). */
    async list(subjectId: string, filter: { status?: UploadsTable["status"] } = {}): Promise<UploadState[]> {
      const subject = await loadSubject(deps.meta.db, subjectId);
      requireNotShredded(subject);
      let q = deps.meta.db
        .selectFrom("uploads")
        .selectAll()
        .where("subject_id", "=", subject.id)
        .orderBy("created_at", "desc")
        .orderBy("id", "desc");
      if (filter.status !== undefined) q = q.where("status", "=", filter.status);
      return (await q.execute()).map(view);
    },

    subjectOf: async (id: string, principalId?: string) => (await load(id, principalId)).subject_id,

    /** Appends a chunk at `offset`; the last byte queues the upload for a worker. */
    async append(
      id: string,
      principalId: string | undefined,
      offset: number,
      chunk: AsyncIterable<Uint8Array>,
      /** `enqueue: false` leaves a complete upload open until `enqueue` (an importer checks it first). */
      options: { readonly enqueue?: boolean } = {},
    ): Promise<{ state: UploadState }> {
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
          const parts = [...stagedParts(now), sealed.row.id];
          const next: UploadsTable = { ...now, received: now.received + got, parts: JSON.stringify(parts) };
          await trx
            .updateTable("uploads")
            .set({ received: next.received, parts: next.parts, updated_at: deps.now().toISOString() })
            .where("id", "=", row.id)
            .execute();
          if (next.received < next.length || options.enqueue === false) return next;
          await enqueue(trx, deps, next);
          return { ...next, status: "queued" as const, run_after_ms: deps.now().getTime() };
        });
      } catch (e) {
        await discardSealed(deps.store, [sealed]);
        throw e;
      }
      if (updated.status === "queued") deps.notify();
      return { state: view(updated) };
    },

    /**
     * Takes a whole recording in one stream (the API's direct upload, whose length may be
     * unknown): seals it as one staged part, then records the upload and queues it in one
     * transaction. Nothing is decoded here; a worker ingests it as any other upload.
     */
    async submit(
      subjectId: string,
      principalId: string,
      source: AsyncIterable<Uint8Array>,
      metadata?: RecordingMetadata,
    ): Promise<UploadState> {
      const meta = parseRecordingMetadata(metadata);
      requireActive(await loadSubject(deps.meta.db, subjectId)); // refuse before reading the body
      let got = 0;
      async function* bounded(): AsyncGenerator<Uint8Array, void, undefined> {
        for await (const c of source) {
          got += c.length;
          if (got > deps.maxBytes) throw new VaultError("PAYLOAD_TOO_LARGE", "upload exceeds the size limit");
          yield c;
        }
      }
      const sealed = await sealBlob(deps, {
        subjectId,
        kind: "upload-part",
        data: bounded(),
        retention: { expiresAt: new Date(deps.now().getTime() + UPLOAD_TTL_MS) },
      });
      if (got === 0) {
        await discardSealed(deps.store, [sealed]);
        throw new VaultError("BAD_REQUEST", "empty upload");
      }
      let queued: UploadsTable;
      try {
        queued = await deps.meta.write(async (trx) => {
          const s = await loadSubject(trx, subjectId);
          requireActive(s);
          await commitBlobs(trx, deps, s.id, [sealed]);
          const now = deps.now();
          const row = newUploadRow(s.id, principalId, now, meta, {
            length: got,
            received: got,
            parts: [sealed.row.id],
          });
          await trx.insertInto("uploads").values(row).execute();
          await enqueue(trx, deps, row);
          return { ...row, status: "queued" as const, run_after_ms: now.getTime() };
        });
      } catch (e) {
        await discardSealed(deps.store, [sealed]);
        throw e;
      }
      deps.notify();
      return view(queued);
    },

    /** Queues a fully received upload that `append` left open. */
    async enqueue(id: string, principalId?: string): Promise<UploadState> {
      const row = await load(id, principalId);
      const queued = await deps.meta.write(async (trx) => {
        const now = await trx
          .selectFrom("uploads")
          .selectAll()
          .where("id", "=", row.id)
          .executeTakeFirstOrThrow();
        if (now.status !== "open" || now.received !== now.length)
          throw new VaultError("CONFLICT", `upload is ${now.status}, ${now.received} of ${now.length} bytes`);
        await enqueue(trx, deps, now);
        return { ...now, status: "queued" as const, run_after_ms: deps.now().getTime() };
      });
      deps.notify();
      return view(queued);
    },

    /**
     * Ingests a claimed job (called by workers, src/ingest/worker.ts): decrypts the staged parts
     * in order into the pipeline and commits the recording, the upload's completion and the
     * deletion of its part rows in one transaction; the part objects go after the commit.
     */
    ingestJob: async (job: ClaimedJob): Promise<IngestResult> => {
      let staged: string[] = [];
      const recording = await assemble(job, stagedParts(job), {
        uploadId: job.id,
        within: async (trx, recordingId) => {
          staged = await deps.queue.completeIn(trx, job, recordingId);
        },
      });
      await deps.queue.deleteObjects(staged);
      return recording;
    },

    /** Aborts an upload that has not ended; a worker holding it finds it gone at its commit. */
    async abort(id: string, principalId?: string): Promise<UploadState> {
      const row = await load(id, principalId);
      const doomed = await deps.meta.write(async (trx) => {
        const now = await trx
          .selectFrom("uploads")
          .selectAll()
          .where("id", "=", row.id)
          .executeTakeFirstOrThrow();
        if (TERMINAL.has(now.status)) throw new VaultError("CONFLICT", `upload is ${now.status}`);
        const parts = stagedParts(now);
        await deleteBlobs(trx, deps, now.subject_id, parts, "upload_aborted");
        await trx
          .updateTable("uploads")
          .set({
            status: "aborted",
            parts: "[]",
            ...RELEASED,
            updated_at: deps.now().toISOString(),
          })
          .where("id", "=", row.id)
          .execute();
        return parts;
      });
      await deps.queue.deleteObjects(doomed);
      return { ...view(row), status: "aborted" };
    },
  };

  async function recordingOf(row: UploadsTable): Promise<{ recording?: IngestResult }> {
    if (row.status !== "complete" || row.recording_id === null) return {};
    const rec = await deps.meta.db
      .selectFrom("recordings")
      .selectAll()
      .where("id", "=", row.recording_id)
      .executeTakeFirst();
    if (!rec) return {};
    const derivations = await deps.meta.db
      .selectFrom("derivations")
      .selectAll()
      .where("recording_id", "=", rec.id)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    const source = JSON.parse(rec.source) as IngestResult["format"];
    const metadata = decodeMetadata(rec.metadata);
    return {
      recording: {
        id: rec.id,
        subjectId: rec.subject_id,
        format: {
          container: source.container,
          codec: source.codec,
          sampleRate: source.sampleRate,
          channels: source.channels,
        },
        durationSec: rec.duration_ms / 1000,
        speechSec: (rec.speech_ms ?? 0) / 1000,
        derivations: derivations.map(toDerivationInfo),
        ...(metadata ? { metadata } : {}),
      },
    };
  }
}

export type UploadService = ReturnType<typeof createUploadService>;
