/**
 * The ingest queue: a completed upload is a job, and its row in `uploads` is the job's state
 * (migration 0007). Claims, lease renewals and outcomes are short transactions under the vault's
 * write lock, so any number of workers in any number of processes and machines sharing one
 * metadata store agree on who holds a job, with one code path for SQLite and PostgreSQL.
 *
 * Delivery is at least once: a worker that dies keeps its job until the lease passes, then another
 * takes it over. Exactly one recording per upload comes from the commit, not from the queue: the
 * recording names its upload (a unique column) and the commit checks that the job is still being
 * processed, so a late or duplicate attempt finds the upload done and discards what it sealed.
 */
import { recordEvent } from "../audit/record.js";
import { VaultError } from "../errors.js";
import type { UploadsTable } from "../store/meta/schema-access.js";
import type { MetaDb } from "../store/meta/types.js";
import { deleteBlobs } from "../vault/blobs.js";
import type { VaultDeps } from "../vault/deps.js";

export interface QueueOptions {
  /** How long a claim holds a job without a renewal; a dead worker's job waits this long. */
  readonly leaseMs: number;
  /** Attempts before a job that keeps failing for a transient reason (or losing its worker) fails. */
  readonly maxAttempts: number;
  /** Backoff after the n-th transient failure: base · 2^(n-1), capped, with ±25 % jitter. */
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
}

export const DEFAULT_QUEUE_OPTIONS: QueueOptions = Object.freeze({
  leaseMs: 60_000,
  maxAttempts: 8,
  backoffBaseMs: 2_000,
  backoffMaxMs: 5 * 60_000,
});

/**
 * Errors worth another attempt: the store, the database or the key provider were unavailable, or
 * something unexpected happened. Everything else is about the recording itself (format, length,
 * speech, a subject shredded meanwhile) and would fail the same way again.
 */
const TRANSIENT = new Set(["STORE_IO", "METADATA_UNAVAILABLE", "VAULT_BUSY", "KEY_UNAVAILABLE", "INTERNAL"]);

export function isTransient(code: string): boolean {
  return TRANSIENT.has(code);
}

export function backoffMs(attempt: number, o: QueueOptions, random: () => number = Math.random): number {
  const base = Math.min(o.backoffMaxMs, o.backoffBaseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.75 + 0.5 * random()));
}

type Deps = Pick<VaultDeps, "meta" | "store" | "actor" | "now">;

/** The lease columns of a job that no worker holds. */
export const RELEASED = { lease_owner: null, lease_until_ms: null } as const;

export type ClaimedJob = UploadsTable & { readonly lease_owner: string };

export function parts(row: Pick<UploadsTable, "parts">): string[] {
  return JSON.parse(row.parts) as string[];
}

/** Marks a fully received upload queued, in the caller's transaction (the last chunk's). */
export async function enqueue(trx: MetaDb, deps: Pick<VaultDeps, "actor" | "now">, row: UploadsTable) {
  const now = deps.now();
  await trx
    .updateTable("uploads")
    .set({ status: "queued", run_after_ms: now.getTime(), updated_at: now.toISOString() })
    .where("id", "=", row.id)
    .execute();
  await recordEvent(trx, deps.actor, {
    type: "upload.queued",
    subjectId: row.subject_id,
    uploadId: row.id,
    bytes: row.length,
  });
}

export function createJobQueue(deps: Deps, options: QueueOptions) {
  /** Ends a job as failed: its staged parts are deleted with the same commit (rows), then objects. */
  async function failIn(trx: MetaDb, row: UploadsTable, code: string, message: string): Promise<string[]> {
    const staged = parts(row);
    await deleteBlobs(trx, deps, row.subject_id, staged, "upload_failed");
    await trx
      .updateTable("uploads")
      .set({
        status: "failed",
        parts: "[]",
        error_code: code,
        error_message: message.slice(0, 500),
        ...RELEASED,
        updated_at: deps.now().toISOString(),
      })
      .where("id", "=", row.id)
      .execute();
    await recordEvent(trx, deps.actor, {
      type: "upload.failed",
      subjectId: row.subject_id,
      uploadId: row.id,
      code,
      attempts: row.attempts,
    });
    return staged;
  }

  async function deleteObjects(ids: readonly string[]): Promise<void> {
    // Rows are gone; an object left by a failure here is an orphan that `sweep` removes.
    for (const id of ids) await deps.store.delete(id).catch(() => undefined);
  }

  return {
    /**
     * Takes the next due job (queued and past its backoff, or processing with a lapsed lease) for
     * `owner`. Jobs whose staged parts expired, or that lost their worker `maxAttempts` times,
     * fail here instead of being handed out.
     */
    async claim(owner: string): Promise<ClaimedJob | undefined> {
      for (;;) {
        const doomed: string[] = [];
        const result = await deps.meta.write(async (trx): Promise<ClaimedJob | "again" | undefined> => {
          const nowMs = deps.now().getTime();
          const row = await trx
            .selectFrom("uploads")
            .selectAll()
            .where((eb) =>
              eb.or([
                eb.and([eb("status", "=", "queued"), eb("run_after_ms", "<=", nowMs)]),
                eb.and([eb("status", "=", "processing"), eb("lease_until_ms", "<", nowMs)]),
              ]),
            )
            .orderBy("run_after_ms")
            .orderBy("id")
            .limit(1)
            .executeTakeFirst();
          if (!row) return undefined;
          if (Date.parse(row.expires_at) <= nowMs) {
            doomed.push(
              ...(await failIn(
                trx,
                row,
                "RETENTION_EXPIRED",
                "the upload's staged parts expired before a worker could ingest them",
              )),
            );
            return "again";
          }
          if (row.status === "processing" && row.attempts >= options.maxAttempts) {
            doomed.push(
              ...(await failIn(
                trx,
                row,
                "INGEST_FAILED",
                `the worker ingesting this upload stopped ${row.attempts} times`,
              )),
            );
            return "again";
          }
          const claimed: ClaimedJob = {
            ...row,
            status: "processing",
            attempts: row.attempts + 1,
            lease_owner: owner,
            lease_until_ms: nowMs + options.leaseMs,
            updated_at: new Date(nowMs).toISOString(),
          };
          await trx
            .updateTable("uploads")
            .set({
              status: "processing",
              attempts: claimed.attempts,
              lease_owner: owner,
              lease_until_ms: claimed.lease_until_ms,
              updated_at: claimed.updated_at,
            })
            .where("id", "=", row.id)
            .execute();
          return claimed;
        });
        await deleteObjects(doomed);
        if (result !== "again") return result;
      }
    },

    /** Extends the lease while `owner` still holds the job; false when it was taken over or ended. */
    async renew(id: string, owner: string): Promise<boolean> {
      return deps.meta.write(async (trx) => {
        const r = await trx
          .updateTable("uploads")
          .set({ lease_until_ms: deps.now().getTime() + options.leaseMs })
          .where("id", "=", id)
          .where("status", "=", "processing")
          .where("lease_owner", "=", owner)
          .executeTakeFirst();
        return Number(r.numUpdatedRows) > 0;
      });
    },

    /**
     * Inside the ingest's commit: the job must still be processing under this worker's claim, or
     * this attempt is a duplicate (another worker finished it, or the subject was shredded and the
     * upload erased) and the whole commit rolls back. Marks the upload complete and deletes its
     * staged part rows in the same transaction as the recording.
     */
    async completeIn(trx: MetaDb, job: ClaimedJob, recordingId: string): Promise<string[]> {
      const row = await trx.selectFrom("uploads").selectAll().where("id", "=", job.id).executeTakeFirst();
      // Still ours: a worker whose lease lapsed and was taken over must not commit beside the new holder.
      if (row?.status !== "processing" || row.lease_owner !== job.lease_owner)
        throw new VaultError("CONFLICT", `upload ${job.id} is no longer being processed by this worker`);
      const uploadId = job.id;
      const staged = parts(row);
      await deleteBlobs(trx, deps, row.subject_id, staged, "upload_assembled");
      await trx
        .updateTable("uploads")
        .set({
          status: "complete",
          recording_id: recordingId,
          parts: "[]",
          ...RELEASED,
          error_code: null,
          error_message: null,
          updated_at: deps.now().toISOString(),
        })
        .where("id", "=", uploadId)
        .execute();
      return staged;
    },

    deleteObjects,

    /**
     * Records a failed attempt by `owner`: a transient error queues the job again after a backoff
     * until `maxAttempts`; any other error, or the last attempt, fails it and deletes its parts.
     * A job `owner` no longer holds is left to whoever does.
     */
    async fail(job: ClaimedJob, error: VaultError): Promise<"retry" | "failed" | "lost"> {
      const doomed: string[] = [];
      const outcome = await deps.meta.write(async (trx) => {
        const row = await trx.selectFrom("uploads").selectAll().where("id", "=", job.id).executeTakeFirst();
        if (row?.status !== "processing" || row.lease_owner !== job.lease_owner) return "lost" as const;
        if (isTransient(error.code) && row.attempts < options.maxAttempts) {
          const now = deps.now();
          await trx
            .updateTable("uploads")
            .set({
              status: "queued",
              run_after_ms: now.getTime() + backoffMs(row.attempts, options),
              ...RELEASED,
              error_code: error.code,
              error_message: error.message.slice(0, 500),
              updated_at: now.toISOString(),
            })
            .where("id", "=", row.id)
            .execute();
          return "retry" as const;
        }
        doomed.push(...(await failIn(trx, row, error.code, error.message)));
        return "failed" as const;
      });
      await deleteObjects(doomed);
      return outcome;
    },

    /** Jobs waiting or running (for metrics, `worker --drain` and tests). */
    async pending(): Promise<number> {
      const r = await deps.meta.db
        .selectFrom("uploads")
        .select((eb) => eb.fn.countAll<number | string>().as("n")) // PostgreSQL: a bigint string
        .where("status", "in", ["queued", "processing"])
        .executeTakeFirstOrThrow();
      return Number(r.n);
    },
  };
}

export type JobQueue = ReturnType<typeof createJobQueue>;
