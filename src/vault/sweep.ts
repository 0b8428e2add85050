/**
 * Housekeeping: runs due shreds, removes the (already undecryptable) ciphertext of shredded
 * subjects, and removes store objects that no metadata row names (a crash between the object
 * write and its metadata commit) once they are old enough not to be a write in progress.
 */
import { recordEvent } from "../audit/record.js";
import type { VaultDeps } from "./deps.js";
import type { DeletionCertificate } from "./certificates.js";
import type { ShredService } from "./shred.js";
import { eraseSubjectData } from "./erasure.js";

export interface SweepReport {
  readonly shredded: readonly DeletionCertificate[];
  readonly blobsRemoved: number;
  readonly orphansRemoved: number;
  readonly incompleteRemoved: number;
}

export interface SweepOptions {
  /** Objects and partial writes younger than this are left alone; default one hour. */
  readonly graceMs?: number;
}

type Deps = Pick<VaultDeps, "meta" | "store" | "actor" | "now">;

export function createSweepService(deps: Deps, shred: Pick<ShredService, "runDue">) {
  /** Recordings and derivations left by a shred interrupted before it erased them. */
  async function eraseLeftovers(): Promise<void> {
    const left = await deps.meta.db
      .selectFrom("subjects")
      .innerJoin("recordings", "recordings.subject_id", "subjects.id")
      .select("subjects.id")
      .distinct()
      .where("subjects.status", "=", "shredded")
      .execute();
    for (const { id } of left) await eraseSubjectData(deps, id);
  }

  async function removeShreddedBlobs(): Promise<number> {
    let removed = 0;
    const subjects = await deps.meta.db
      .selectFrom("subjects")
      .innerJoin("blobs", "blobs.subject_id", "subjects.id")
      .select("subjects.id")
      .distinct()
      .where("subjects.status", "=", "shredded")
      .execute();
    for (const { id } of subjects) {
      const blobs = await deps.meta.db
        .selectFrom("blobs")
        .select("id")
        .where("subject_id", "=", id)
        .execute();
      for (const b of blobs) await deps.store.delete(b.id);
      await deps.meta.write(async (trx) => {
        await trx.deleteFrom("blobs").where("subject_id", "=", id).execute();
        await recordEvent(trx, deps.actor, {
          type: "blobs.removed",
          subjectId: id,
          count: blobs.length,
          reason: "subject_shredded",
        });
      });
      removed += blobs.length;
    }
    return removed;
  }

  async function removeOrphans(graceMs: number): Promise<number> {
    const cutoff = deps.now().getTime() - graceMs;
    let removed = 0;
    let batch: string[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const known = new Set(
        (await deps.meta.db.selectFrom("blobs").select("id").where("id", "in", batch).execute()).map(
          (r) => r.id,
        ),
      );
      for (const name of batch) {
        if (!known.has(name) && (await deps.store.delete(name))) removed++;
      }
      batch = [];
    };
    for await (const obj of deps.store.list()) {
      if (obj.modifiedAt.getTime() > cutoff) continue;
      batch.push(obj.name);
      if (batch.length >= 500) await flush();
    }
    await flush();
    return removed;
  }

  return {
    async run(options: SweepOptions = {}): Promise<SweepReport> {
      const graceMs = options.graceMs ?? 3_600_000;
      const shredded = await shred.runDue();
      await eraseLeftovers();
      const blobsRemoved = await removeShreddedBlobs();
      const orphansRemoved = await removeOrphans(graceMs);
      const incompleteRemoved = await deps.store.sweepIncomplete(graceMs);
      return { shredded, blobsRemoved, orphansRemoved, incompleteRemoved };
    },
  };
}

export type SweepService = ReturnType<typeof createSweepService>;
