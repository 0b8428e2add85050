/**
 * `retention sweep`: erases reconstructable material whose retention ended. Each expired epoch's
 * secret is deleted and its root point's puncture recorded in one transaction (docs/architecture.md
 * §Retention); after commit the host applies the puncture, so the material is undecryptable from
 * any copy; the rows and objects are then removed.
 */
import { recordEvent } from "../audit/record.js";
import { deleteBlobs } from "./blobs.js";
import type { VaultDeps } from "./deps.js";
import { EPOCH_SECRET_PREFIX, epochExpired, epochSecretName } from "./retention-keys.js";
import { syncRoot } from "./root-sync.js";

export interface RetentionReport {
  readonly epochsDestroyed: readonly string[];
  readonly blobsRemoved: number;
  readonly derivationsRemoved: number;
  /** Root points punctured (one per epoch). */
  readonly puncturedPoints: number;
  /** Uploads left open past their expiry, now failed with RETENTION_EXPIRED and their parts deleted. */
  readonly uploadsExpired: number;
}

type Deps = Pick<VaultDeps, "meta" | "store" | "tree" | "provider" | "actor" | "now">;

const CHUNK = 500;

export function createRetentionService(deps: Deps) {
  /**
   * Uploads whose last chunk never came: failed with RETENTION_EXPIRED (and `upload.failed`),
   * their encrypted parts deleted with the same commit, then their objects. Without this an
   * abandoned upload would stay `open` (its parts' keys still go with their retention day).
   */
  async function expireAbandonedUploads(nowIso: string): Promise<number> {
    const objects: string[] = [];
    const n = await deps.meta.write(async (trx) => {
      const rows = await trx
        .selectFrom("uploads")
        .select(["id", "subject_id", "parts", "attempts"])
        .where("status", "=", "open")
        .where("expires_at", "<=", nowIso)
        .execute();
      for (const r of rows) {
        const parts = JSON.parse(r.parts) as string[];
        await deleteBlobs(trx, deps, r.subject_id, parts, "upload_failed");
        objects.push(...parts);
        await trx
          .updateTable("uploads")
          .set({
            status: "failed",
            parts: "[]",
            error_code: "RETENTION_EXPIRED",
            error_message: "the upload expired before its last chunk arrived",
            updated_at: nowIso,
          })
          .where("id", "=", r.id)
          .where("status", "=", "open")
          .execute();
        await recordEvent(trx, deps.actor, {
          type: "upload.failed",
          subjectId: r.subject_id,
          uploadId: r.id,
          code: "RETENTION_EXPIRED",
          attempts: r.attempts,
        });
      }
      return rows.length;
    });
    for (const id of objects) await deps.store.delete(id);
    return n;
  }

  return {
    async sweep(): Promise<RetentionReport> {
      const now = deps.now();
      const uploadsExpired = await expireAbandonedUploads(now.toISOString());
      const names = await deps.meta.db
        .selectFrom("vault_secrets")
        .select("name")
        .distinct()
        .where("name", "like", `${EPOCH_SECRET_PREFIX}%`)
        .execute();
      const expired = names
        .map((r) => r.name.slice(EPOCH_SECRET_PREFIX.length))
        .filter((e) => epochExpired(e, now));
      if (expired.length === 0)
        return {
          epochsDestroyed: [],
          blobsRemoved: 0,
          derivationsRemoved: 0,
          puncturedPoints: 0,
          uploadsExpired,
        };
      const removed: string[] = [];
      let derivationsRemoved = 0;
      let punctured = 0;
      await deps.meta.write(async (trx) => {
        const points: number[] = [];
        for (const e of expired) points.push(...(await deps.tree.deleteSecret(trx, epochSecretName(e))));
        await deps.tree.recordPunctures(trx, points, "retention.expired", now.toISOString());
        punctured = points.length;
        const blobs = await trx
          .selectFrom("blobs")
          .select(["id", "subject_id", "size"])
          .where("retention_epoch", "in", expired)
          .execute();
        const bySubject = new Map<string, { count: number; bytes: number }>();
        for (const b of blobs) {
          const agg = bySubject.get(b.subject_id) ?? { count: 0, bytes: 0 };
          agg.count++;
          agg.bytes += b.size;
          bySubject.set(b.subject_id, agg);
          removed.push(b.id);
        }
        for (let i = 0; i < removed.length; i += CHUNK) {
          const ids = removed.slice(i, i + CHUNK);
          const d = await trx.deleteFrom("derivations").where("blob_id", "in", ids).executeTakeFirst();
          derivationsRemoved += Number(d.numDeletedRows);
          await trx.deleteFrom("blobs").where("id", "in", ids).execute();
        }
        for (const [subjectId, agg] of bySubject) {
          const s = await trx
            .selectFrom("subjects")
            .select(["blob_count", "blob_bytes"])
            .where("id", "=", subjectId)
            .executeTakeFirstOrThrow();
          await trx
            .updateTable("subjects")
            .set({ blob_count: s.blob_count - agg.count, blob_bytes: s.blob_bytes - agg.bytes })
            .where("id", "=", subjectId)
            .execute();
          await recordEvent(trx, deps.actor, {
            type: "retention.expired",
            subjectId,
            blobs: agg.count,
            epochs: expired,
          });
        }
        await recordEvent(trx, deps.actor, { type: "keys.retention_epochs_destroyed", epochs: expired });
      });
      // as after a shred: apply the punctures to this host's root now (any sync would)
      await deps.meta.write((trx) => syncRoot(deps, trx)).catch(() => undefined);
      for (const id of removed) await deps.store.delete(id);
      return {
        epochsDestroyed: expired,
        blobsRemoved: removed.length,
        derivationsRemoved,
        puncturedPoints: punctured,
        uploadsExpired,
      };
    },
  };
}

export type RetentionService = ReturnType<typeof createRetentionService>;
