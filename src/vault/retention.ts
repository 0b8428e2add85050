/**
 * `retention sweep`: erases reconstructable material whose retention ended. Each expired epoch's
 * secret is deleted and the top of the key tree rekeyed under a new root version in one
 * transaction (docs/architecture.md §Retention), so the material is undecryptable from any copy;
 * the rows and objects are then removed.
 */
import { recordEvent } from "../audit/record.js";
import type { VaultDeps } from "./deps.js";
import { EPOCH_SECRET_PREFIX, epochExpired, epochSecretName } from "./retention-keys.js";
import { withRootChange } from "./root-change.js";

export interface RetentionReport {
  readonly epochsDestroyed: readonly string[];
  readonly blobsRemoved: number;
  readonly derivationsRemoved: number;
  readonly retiredRootVersion: number | null;
}

type Deps = Pick<VaultDeps, "meta" | "store" | "tree" | "provider" | "actor" | "now">;

const CHUNK = 500;

export function createRetentionService(deps: Deps) {
  return {
    async sweep(): Promise<RetentionReport> {
      const now = deps.now();
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
        return { epochsDestroyed: [], blobsRemoved: 0, derivationsRemoved: 0, retiredRootVersion: null };
      const removed: string[] = [];
      let derivationsRemoved = 0;
      const { retiredRootVersion } = await withRootChange(deps, async (trx, root) => {
        for (const e of expired) await deps.tree.deleteSecret(trx, epochSecretName(e));
        await deps.tree.rekeyTop(trx, await root.newRootVersion());
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
        await recordEvent(trx, deps.actor, {
          type: "keys.retention_epochs_destroyed",
          epochs: expired,
          retiredRootVersion: root.oldRootVersion,
        });
      });
      for (const id of removed) await deps.store.delete(id);
      return {
        epochsDestroyed: expired,
        blobsRemoved: removed.length,
        derivationsRemoved,
        retiredRootVersion,
      };
    },
  };
}

export type RetentionService = ReturnType<typeof createRetentionService>;
