/**
 * `voxvault import`: an existing raw-voice archive in, the raw copies out (issue 13 §4).
 *
 * Each source object is staged as an upload (ciphertext under its contractor's key, a keyed hash
 * of its content computed on the way) and queued for the ingest workers; a window of staged
 * objects is kept in flight. An object whose content was imported before is skipped. With
 * `deleteSource`, an object is deleted from the source only after its recording and derivations
 * are committed. The run's state is in the metadata store (`import_runs`, `import_items`, keyed by
 * a keyed hash of each object's key), so the same command resumes after a crash or Ctrl-C.
 */
import { createHmac } from "node:crypto";
import { recordEvent } from "../../audit/record.js";
import { encodeFields } from "../../crypto/bytes.js";
import { asVaultError, VaultError } from "../../errors.js";
import { newId } from "../../ids.js";
import type { ImportItemsTable } from "../../store/meta/schema-access.js";
import type { MetaDb } from "../../store/meta/types.js";
import type { VaultDeps } from "../../vault/deps.js";
import { IMPORT_SECRET } from "../../vault/secret-names.js";
import type { SubjectService } from "../../vault/subjects.js";
import { isTransient } from "../jobs.js";
import type { UploadService } from "../uploads.js";
import type { MappedObject } from "./mapping.js";
import type { ImportSource, SourceObject } from "./source.js";

export interface ImportOptions {
  readonly source: ImportSource;
  /** The objects and their contractors, in a stable order. */
  readonly objects: () => AsyncIterable<{
    readonly mapped?: MappedObject;
    readonly object?: SourceObject;
    readonly key: string;
  }>;
  /** Identifies source + mapping: an unfinished run with the same fingerprint is resumed. */
  readonly fingerprint: string;
  readonly deleteSource?: boolean;
  readonly dryRun?: boolean;
  /** Objects staged and waiting for workers at once (default 4). */
  readonly window?: number;
  readonly onProgress?: (p: ImportProgress) => void;
  readonly onPlan?: (p: PlannedObject) => void;
  /** Stops staging new objects (Ctrl-C); what is in flight is left for the resumed run. */
  readonly signal?: AbortSignal;
}

export interface ImportProgress {
  readonly done: number;
  readonly total: number;
  readonly startedAt: number;
}

export interface PlannedObject {
  readonly key: string;
  readonly ref: string | null;
  readonly action: "import" | "done" | "unmapped" | "missing";
  readonly subject: "existing" | "new" | null;
}

export interface ImportReport {
  readonly runId: string | null;
  readonly resumed: boolean;
  readonly dryRun: boolean;
  readonly interrupted: boolean;
  readonly objects: number;
  readonly imported: number;
  readonly skipped: number;
  readonly failed: number;
  readonly failedByCode: Readonly<Record<string, number>>;
  readonly audioHours: number;
  readonly bytesImported: number;
  /** Bytes of raw voice deleted from the source (every version on a versioned bucket). */
  readonly bytesDestroyed: number;
  readonly versioned: boolean;
}

type Deps = Pick<VaultDeps, "meta" | "tree" | "actor" | "now"> & {
  readonly subjects: Pick<SubjectService, "findByRef" | "add">;
  readonly uploads: Pick<UploadService, "create" | "append" | "enqueue" | "status" | "waitFor" | "abort">;
};

const POLL_MS = 200;

interface InFlight {
  readonly keyMac: string;
  readonly key: string;
  readonly uploadId: string;
  readonly subjectId: string;
  readonly bytes: number;
}

export function createImportService(deps: Deps) {
  const principal = (runId: string) => `import:${runId}`;

  async function macKey(): Promise<Uint8Array> {
    return (await deps.meta.write((trx) => deps.tree.secretOrCreate(trx, IMPORT_SECRET))).value;
  }

  async function item(trx: MetaDb, runId: string, keyMac: string): Promise<ImportItemsTable | undefined> {
    return trx
      .selectFrom("import_items")
      .selectAll()
      .where("run_id", "=", runId)
      .where("key_mac", "=", keyMac)
      .executeTakeFirst();
  }

  async function setItem(trx: MetaDb, runId: string, keyMac: string, values: Partial<ImportItemsTable>) {
    const now = deps.now().toISOString();
    const existing = await item(trx, runId, keyMac);
    if (existing)
      await trx
        .updateTable("import_items")
        .set({ ...values, updated_at: now })
        .where("run_id", "=", runId)
        .where("key_mac", "=", keyMac)
        .execute();
    else
      await trx
        .insertInto("import_items")
        .values({
          run_id: runId,
          key_mac: keyMac,
          status: "staging",
          subject_id: null,
          upload_id: null,
          recording_id: null,
          content_mac: null,
          bytes: 0,
          duration_ms: null,
          error_code: null,
          error_message: null,
          source_deleted: 0,
          ...values,
          updated_at: now,
        })
        .execute();
  }

  return {
    async run(o: ImportOptions): Promise<ImportReport> {
      const key = await macKey();
      const keyMacOf = (k: string) =>
        createHmac("sha256", key)
          .update(encodeFields(["voxvault/import-key/v1", k]))
          .digest("hex");
      const window = Math.max(1, o.window ?? 4);
      const running = await deps.meta.db
        .selectFrom("import_runs")
        .selectAll()
        .where("fingerprint", "=", o.fingerprint)
        .where("status", "=", "running")
        .executeTakeFirst();

      // A pre-pass counts the objects, for the progress bar's ETA.
      let total = 0;
      for await (const _ of o.objects()) total++;

      if (o.dryRun) {
        let counted = 0;
        for await (const x of o.objects()) {
          counted++;
          const done = running ? await item(deps.meta.db, running.id, keyMacOf(x.key)) : undefined;
          const action: PlannedObject["action"] = !x.mapped
            ? "unmapped"
            : !x.object
              ? "missing"
              : done && done.status !== "staging"
                ? "done"
                : "import";
          const subject =
            x.mapped && action === "import"
              ? (await deps.subjects.findByRef(x.mapped.ref, x.mapped.tenant))
                ? ("existing" as const)
                : ("new" as const)
              : null;
          o.onPlan?.({ key: x.key, ref: x.mapped?.ref ?? null, action, subject });
        }
        return {
          runId: running?.id ?? null,
          resumed: running !== undefined,
          dryRun: true,
          interrupted: false,
          objects: counted,
          imported: 0,
          skipped: 0,
          failed: 0,
          failedByCode: {},
          audioHours: 0,
          bytesImported: 0,
          bytesDestroyed: 0,
          versioned: false,
        };
      }

      const runId = running?.id ?? newId("imp");
      await deps.meta.write(async (trx) => {
        if (!running)
          await trx
            .insertInto("import_runs")
            .values({
              id: runId,
              fingerprint: o.fingerprint,
              source: JSON.stringify(o.source.description),
              status: "running",
              created_at: deps.now().toISOString(),
              finished_at: null,
              report: null,
            })
            .execute();
        await recordEvent(trx, deps.actor, {
          type: "import.started",
          runId,
          source: o.source.description.kind,
          resumed: running !== undefined,
          deleteSource: o.deleteSource === true,
        });
      });

      const subjectIds = new Map<string, string>();
      async function subjectFor(m: MappedObject): Promise<string> {
        const cacheKey = `${m.tenant ?? ""}\u0000${m.ref}`;
        const known = subjectIds.get(cacheKey);
        if (known) return known;
        let s = await deps.subjects.findByRef(m.ref, m.tenant);
        if (!s) {
          try {
            s = await deps.subjects.add({ ref: m.ref, tenant: m.tenant });
          } catch (e) {
            // Another importer (or a person) made it meanwhile.
            if (!(e instanceof VaultError && e.code === "SUBJECT_EXISTS")) throw e;
            s = await deps.subjects.findByRef(m.ref, m.tenant);
            if (!s) throw e;
          }
        }
        if (s.status !== "active")
          throw new VaultError(
            s.status === "shredded" ? "SUBJECT_SHREDDED" : "SHRED_PENDING",
            `the contractor is ${s.status}`,
          );
        subjectIds.set(cacheKey, s.id);
        return s.id;
      }

      let done = 0;
      let versioned = false;
      const startedAt = Date.now();
      const progress = () => o.onProgress?.({ done, total, startedAt });

      async function objectEvent(
        trx: MetaDb,
        keyMac: string,
        row: Partial<ImportItemsTable>,
        outcome: "imported" | "skipped" | "failed",
      ) {
        await recordEvent(trx, deps.actor, {
          type: "import.object",
          runId,
          item: keyMac.slice(0, 32),
          outcome,
          subjectId: row.subject_id ?? null,
          recordingId: row.recording_id ?? null,
          code: row.error_code ?? null,
          sourceDeleted: row.source_deleted === 1,
        });
      }

      async function fail(keyMac: string, e: unknown, subjectId: string | null = null): Promise<void> {
        const err = asVaultError(e);
        const values = {
          status: "failed" as const,
          error_code: err.code,
          error_message: err.message.slice(0, 500),
          ...(subjectId ? { subject_id: subjectId } : {}),
        };
        await deps.meta.write(async (trx) => {
          await setItem(trx, runId, keyMac, values);
          await objectEvent(trx, keyMac, values, "failed");
        });
        done++;
        progress();
      }

      /** Deletes the source object of a committed recording, then records the object's outcome. */
      async function finishImported(
        f: InFlight | { keyMac: string; key: string; subjectId: string },
        recordingId: string,
        durationMs: number | null,
        outcome: "imported" | "skipped",
      ) {
        const values: Partial<ImportItemsTable> = {
          status: outcome,
          recording_id: recordingId,
          subject_id: f.subjectId,
          ...(durationMs !== null ? { duration_ms: durationMs } : {}),
        };
        if (o.deleteSource) {
          // The recording is committed before anything is deleted (the ordering is the point).
          await deps.meta.write((trx) => setItem(trx, runId, f.keyMac, values));
          const d = await o.source.delete(f.key); // a missing object counts as deleted
          versioned ||= d.versioned;
          values.source_deleted = 1;
        }
        await deps.meta.write(async (trx) => {
          await setItem(trx, runId, f.keyMac, values);
          await objectEvent(trx, f.keyMac, values, outcome);
        });
        done++;
        progress();
      }

      const inFlight = new Map<string, InFlight>();

      /** Waits until at least one object in flight has an outcome, and records it. */
      async function settle(): Promise<void> {
        for (;;) {
          let ended = 0;
          for (const f of [...inFlight.values()]) {
            const st = await deps.uploads.status(f.uploadId).catch((e: unknown) => {
              if (e instanceof VaultError && e.code === "NOT_FOUND") return undefined;
              throw e;
            });
            if (st?.status === "open" && st.offset === st.length) {
              await deps.uploads.enqueue(f.uploadId); // staged, but a crash came before the queue
              continue;
            }
            if (st && !["complete", "failed", "aborted"].includes(st.status)) continue;
            inFlight.delete(f.keyMac);
            ended++;
            if (st?.status === "complete") {
              const r = await deps.uploads.waitFor(f.uploadId, undefined, 0);
              await finishImported(
                f,
                st.recordingId!,
                r.recording ? Math.round(r.recording.durationSec * 1000) : null,
                "imported",
              );
            } else {
              const code = st?.error?.code ?? (st ? "INGEST_FAILED" : "SUBJECT_SHREDDED");
              await fail(
                f.keyMac,
                new VaultError(
                  code as "INGEST_FAILED",
                  st?.error?.message ?? `upload ${st?.status ?? "erased"}`,
                ),
                f.subjectId,
              );
            }
          }
          if (ended > 0 || inFlight.size === 0) return;
          await new Promise((r) => setTimeout(r, POLL_MS));
        }
      }

      async function stage(
        x: { key: string; mapped: MappedObject; object: SourceObject },
        keyMac: string,
      ): Promise<void> {
        let subjectId: string | null = null;
        let uploadId: string | undefined;
        try {
          subjectId = await subjectFor(x.mapped);
          const u = await deps.uploads.create(subjectId, principal(runId), x.object.size, x.mapped.metadata);
          uploadId = u.id;
          await deps.meta.write((trx) =>
            setItem(trx, runId, keyMac, {
              status: "staging",
              subject_id: subjectId,
              upload_id: u.id,
              bytes: x.object.size,
              error_code: null,
              error_message: null,
            }),
          );
          const hmac = createHmac("sha256", key).update(encodeFields(["voxvault/import-content/v1"]));
          const source = o.source.read(x.key);
          async function* hashed(): AsyncGenerator<Uint8Array> {
            for await (const c of source) {
              hmac.update(c);
              yield c;
            }
          }
          const st = await deps.uploads.append(u.id, principal(runId), 0, hashed(), { enqueue: false });
          if (st.state.offset !== x.object.size)
            throw new VaultError("FILE_UNREADABLE", "the object changed size while it was read");
          const contentMac = hmac.digest("hex");
          const dup = await deps.meta.db
            .selectFrom("import_items")
            .select(["recording_id", "status", "subject_id"])
            .where("content_mac", "=", contentMac)
            .where("status", "in", ["imported", "skipped"])
            .where("recording_id", "is not", null)
            .executeTakeFirst();
          if (dup?.recording_id) {
            await deps.uploads.abort(u.id);
            await deps.meta.write((trx) => setItem(trx, runId, keyMac, { content_mac: contentMac }));
            await finishImported(
              { keyMac, key: x.key, subjectId: dup.subject_id ?? subjectId },
              dup.recording_id,
              null,
              "skipped",
            );
            return;
          }
          await deps.meta.write((trx) =>
            setItem(trx, runId, keyMac, { status: "staged", content_mac: contentMac }),
          );
          await deps.uploads.enqueue(u.id);
          inFlight.set(keyMac, { keyMac, key: x.key, uploadId: u.id, subjectId, bytes: x.object.size });
        } catch (e) {
          if (uploadId) await deps.uploads.abort(uploadId).catch(() => undefined);
          // Bad objects never stop the run; an unreachable database does (nothing can be recorded).
          const err = asVaultError(e);
          if (err.code === "METADATA_UNAVAILABLE" || err.code === "VAULT_CLOSED") throw err;
          await fail(keyMac, err, subjectId);
        }
      }

      let interrupted = false;
      for await (const x of o.objects()) {
        if (o.signal?.aborted) {
          interrupted = true;
          break;
        }
        const keyMac = keyMacOf(x.key);
        const prior = await item(deps.meta.db, runId, keyMac);
        if (prior) {
          if (prior.status === "staged" && prior.upload_id && prior.subject_id) {
            inFlight.set(keyMac, {
              keyMac,
              key: x.key,
              uploadId: prior.upload_id,
              subjectId: prior.subject_id,
              bytes: prior.bytes,
            });
          } else if (
            (prior.status === "imported" || prior.status === "skipped") &&
            o.deleteSource &&
            prior.source_deleted === 0 &&
            prior.recording_id
          ) {
            await finishImported(
              { keyMac, key: x.key, subjectId: prior.subject_id ?? "" },
              prior.recording_id,
              prior.duration_ms,
              prior.status,
            );
            continue;
          } else if (prior.status === "failed" && prior.error_code && isTransient(prior.error_code)) {
            // retried below
          } else if (prior.status !== "staging") {
            done++;
            progress();
            continue;
          } else if (prior.upload_id) {
            // Staging was cut short: its upload never reached the queue; start it again.
            await deps.uploads.abort(prior.upload_id).catch(() => undefined);
          }
          if (prior.status === "staged") continue;
        }
        if (!x.mapped) {
          await fail(
            keyMac,
            new VaultError("INVALID_ARGUMENT", "no contractor for this object (manifest or key pattern)"),
          );
          continue;
        }
        if (!x.object) {
          await fail(
            keyMac,
            new VaultError("FILE_UNREADABLE", "the manifest names an object the source does not have"),
          );
          continue;
        }
        while (inFlight.size >= window) await settle();
        await stage({ key: x.key, mapped: x.mapped, object: x.object }, keyMac);
      }
      while (inFlight.size > 0 && !interrupted) await settle();

      const rows = await deps.meta.db
        .selectFrom("import_items")
        .select(["status", "error_code", "bytes", "duration_ms", "source_deleted"])
        .where("run_id", "=", runId)
        .execute();
      const count = (s: string) => rows.filter((r) => r.status === s).length;
      const failedByCode: Record<string, number> = {};
      for (const r of rows)
        if (r.status === "failed" && r.error_code)
          failedByCode[r.error_code] = (failedByCode[r.error_code] ?? 0) + 1;
      const report: ImportReport = {
        runId,
        resumed: running !== undefined,
        dryRun: false,
        interrupted,
        objects: total,
        imported: count("imported"),
        skipped: count("skipped"),
        failed: count("failed"),
        failedByCode,
        audioHours: rows.reduce((a, r) => a + (r.duration_ms ?? 0), 0) / 3_600_000,
        bytesImported: rows.filter((r) => r.status === "imported").reduce((a, r) => a + r.bytes, 0),
        bytesDestroyed: rows.filter((r) => r.source_deleted === 1).reduce((a, r) => a + r.bytes, 0),
        versioned,
      };
      if (!interrupted)
        await deps.meta.write(async (trx) => {
          await trx
            .updateTable("import_runs")
            .set({
              status: "complete",
              finished_at: deps.now().toISOString(),
              report: JSON.stringify(report),
            })
            .where("id", "=", runId)
            .execute();
          await recordEvent(trx, deps.actor, {
            type: "import.finished",
            runId,
            imported: report.imported,
            skipped: report.skipped,
            failed: report.failed,
            bytesDestroyed: report.bytesDestroyed,
          });
        });
      return report;
    },
  };
}

export type ImportService = ReturnType<typeof createImportService>;
