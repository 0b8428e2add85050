/**
 * Restoring a backup of the metadata (docs/operations.md §Restore). The copy is older than the
 * root: every subject, retention epoch and reference-index key erased since the copy was made has
 * its point punctured in this host's root, so those stay undecryptable — crypto-shredding holds
 * against the backup. Everything else of the copy opens. The restore makes the copy consistent
 * with that:
 *   1. before anything is written: the root must hold the generation the copy uses and this host
 *      must be in the copy's host list; this host's current host key goes into it; the puncture
 *      log gets a new id and every point punctured in this host's root is written into it, so
 *      every other host re-applies the complete log (a host that lagged loses what it missed);
 *   2. the audit log's anchors (which remember the lost, longer log) are set aside and the log
 *      signing key is replaced without a cosignature, so the old key never signs the new branch;
 *   3. reference-index buckets whose key was punctured are rebuilt; subjects whose slot is
 *      punctured are shredded again (the certificate says so); expired retention is swept;
 *   4. `vault.restored` records what happened, including the lost log's size and root hash.
 */
import { recordEvent } from "../audit/record.js";
import { wipe } from "../crypto/bytes.js";
import { VaultError } from "../errors.js";
import type { MetaDb } from "../store/meta/index.js";
import type { VaultDeps } from "./deps.js";
import { bucketsInUse, indexEntry, openRef, refKeyVersion, renewBucketKey } from "./refs.js";
import { latestPunctureSeq, logForked, punctureLogId, RESTORE_MARKER_META } from "./root-sync.js";
import type { RetentionService } from "./retention.js";
import type { ShredService } from "./shred.js";

export interface RestoreReport {
  readonly subjectsErased: readonly string[];
  readonly bucketsRebuilt: number;
  readonly punctureSeqBefore: number;
  readonly pointsRelogged: number;
  readonly lostLog: { readonly size: number; readonly root: string } | null;
  /** The root held generations newer than the copy knows: the copy predates a root rotation. */
  readonly rotationAdvised: boolean;
  readonly retentionEpochsErased: number;
}

type Deps = Pick<VaultDeps, "meta" | "tree" | "provider" | "actor" | "now">;

/** Whether the copy is older than this host's root: the log lacks (or differs at) this host's position. */
export async function rootAheadOfCopy(deps: Pick<Deps, "provider">, db: MetaDb): Promise<boolean> {
  return logForked(db, await deps.provider.applied(), await punctureLogId(db));
}

export interface RestoreMarker {
  readonly stage?: string;
  readonly detectedBy?: string;
  /** The anchored log the copy predates (set aside at the first run). */
  readonly lost?: { readonly size: number; readonly root: string } | undefined;
}

/** The marker a restore (or a host that noticed a rolled-back log) left: normal opens refuse. */
export async function restoreMarker(db: MetaDb): Promise<RestoreMarker | undefined> {
  const row = await db
    .selectFrom("vault_meta")
    .select("value")
    .where("key", "=", RESTORE_MARKER_META)
    .executeTakeFirst();
  return row ? (JSON.parse(row.value) as RestoreMarker) : undefined;
}

/**
 * Step 1, in one write transaction, before the root is synced (the sync then notices the rolled-back
 * log and writes this host's punctures into a new one). Marks the restore as under way, so that
 * normal opens refuse until it finished and a rerun resumes it.
 */
export async function prepareRestore(
  deps: Deps,
  trx: MetaDb,
  lost: { size: number; root: string } | undefined,
): Promise<{ punctureSeqBefore: number; rotationAdvised: boolean }> {
  const provider = deps.provider;
  await provider.refresh();
  const held = await provider.generations();
  const gens = await trx.selectFrom("root_generations").select(["generation", "status"]).execute();
  const active = await deps.tree.activeGeneration(trx);
  if (!held.includes(active)) {
    throw new VaultError(
      "RESTORE_REFUSED",
      `the copy uses root generation ${active}, which this host's root no longer holds (destroyed since): it cannot be restored`,
    );
  }
  const host = await trx
    .selectFrom("key_hosts")
    .select("status")
    .where("id", "=", provider.hostId)
    .executeTakeFirst();
  if (host?.status !== "approved") {
    throw new VaultError(
      "RESTORE_REFUSED",
      `this host (${provider.hostId}) is not an approved host in the copy: restore from a host that was one when the copy was made`,
    );
  }
  const dist = provider.distribution;
  if (dist) {
    // the copy may list an older key of this host (rotated since): the current one replaces it
    const pub = await dist.hostPublicKey();
    await trx
      .updateTable("key_hosts")
      .set({ public_key: Buffer.from(pub) })
      .where("id", "=", provider.hostId)
      .execute();
  }
  const marker = JSON.stringify({
    stage: "restoring",
    detectedBy: provider.hostId,
    lost,
  } satisfies RestoreMarker);
  await trx
    .insertInto("vault_meta")
    .values({ key: RESTORE_MARKER_META, value: marker })
    .onConflict((oc) => oc.column("key").doUpdateSet({ value: marker }))
    .execute();
  const maxKnown = Math.max(0, ...gens.map((g) => g.generation));
  return {
    punctureSeqBefore: (await provider.applied()).seq,
    rotationAdvised: held.some((g) => g > maxKnown),
  };
}

/** The open vault's services a restore finishes with (so their events carry its actor). */
export interface RestoreServices {
  readonly id: string;
  readonly log: { rotateKey(options: { cosignWithOld: boolean }): Promise<unknown> };
  readonly shredding: Pick<ShredService, "request">;
  readonly retention: Pick<RetentionService, "sweep">;
  readonly keys: { sync(): Promise<unknown> };
}

/** Steps 2–4 on the opened vault. */
export async function finishRestore(
  vault: RestoreServices,
  deps: Deps,
  prepared: {
    punctureSeqBefore: number;
    pointsRelogged: number;
    rotationAdvised: boolean;
    erasedSubjects: readonly string[];
  },
  lost: { size: number; root: string } | undefined,
): Promise<RestoreReport> {
  await vault.log.rotateKey({ cosignWithOld: false });
  const provider = deps.provider;
  const active = await deps.tree.activeGeneration(deps.meta.db);
  const punctured = async (g: number | null, point: number) => provider.isPunctured(g ?? active, point);

  // reference-index buckets whose key the root no longer opens: a new key, live subjects rehashed
  let rebuilt = 0;
  await deps.meta.write(async (trx) => {
    for (const b of await bucketsInUse(trx)) {
      const rows = await trx
        .selectFrom("vault_secrets")
        .select(["version", "root_generation", "point"])
        .where("name", "=", `subject-ref-key/${b}`)
        .execute();
      const dead: number[] = [];
      for (const r of rows) if (await punctured(r.root_generation, r.point ?? 0)) dead.push(r.version);
      if (dead.length === 0) continue;
      await deps.tree.deleteSecret(trx, `subject-ref-key/${b}`, dead);
      await renewBucketKey(trx, deps.tree, b);
      const members = await trx
        .selectFrom("subjects")
        .select(["id", "tenant", "slot", "ref_enc"])
        .where("ref_bucket", "=", b)
        .where("status", "!=", "shredded")
        .execute();
      for (const s of members) {
        let entry: { bucket: number; hash: Buffer } | null = null;
        if (s.ref_enc && !(await punctured(active, s.slot))) {
          try {
            const key = await deps.tree.subjectKey(trx, s.id, s.slot, refKeyVersion(s.ref_enc));
            const ref = openRef(vault.id, s.id, key, s.ref_enc);
            wipe(key);
            entry = await indexEntry(trx, deps.tree, s.tenant, ref);
          } catch (e) {
            if (!(e instanceof VaultError && e.code === "KEY_UNAVAILABLE")) throw e;
          }
        }
        await trx
          .updateTable("subjects")
          .set({ ref_hash: entry?.hash ?? null, ref_bucket: entry?.bucket ?? null })
          .where("id", "=", s.id)
          .execute();
      }
      rebuilt++;
    }
  });

  // subjects shredded after the copy was made: their slot is punctured; shred them again
  const erased: string[] = [];
  let after = "";
  for (;;) {
    const page = await deps.meta.db
      .selectFrom("subjects")
      .innerJoin("subject_keys", "subject_keys.subject_id", "subjects.id")
      .select(["subjects.id", "subjects.slot", "subject_keys.root_generation"])
      .where("subjects.status", "!=", "shredded")
      .where("subjects.id", ">", after)
      .orderBy("subjects.id")
      .limit(500)
      .execute();
    if (page.length === 0) break;
    for (const r of page) {
      if (erased.includes(r.id)) continue;
      if (await punctured(r.root_generation, r.slot)) {
        await vault.shredding.request(r.id, { immediate: true });
        erased.push(r.id);
      }
    }
    after = page[page.length - 1]!.id;
  }
  const swept = await vault.retention.sweep();
  await deps.meta.write(async (trx) => {
    await recordEvent(trx, deps.actor, {
      type: "vault.restored",
      subjectsErased: erased.length,
      punctureSeqBefore: prepared.punctureSeqBefore,
      punctureSeqAfter: await latestPunctureSeq(trx),
      lostLogSize: lost?.size ?? 0,
      lostLogRoot: lost?.root ?? "",
    });
  });
  await deps.meta.write((trx) =>
    trx.deleteFrom("vault_meta").where("key", "=", RESTORE_MARKER_META).execute(),
  );
  await vault.keys.sync();
  return {
    subjectsErased: erased,
    bucketsRebuilt: rebuilt,
    punctureSeqBefore: prepared.punctureSeqBefore,
    pointsRelogged: prepared.pointsRelogged,
    lostLog: lost ?? null,
    rotationAdvised: prepared.rotationAdvised,
    retentionEpochsErased: swept.epochsDestroyed.length,
  };
}
