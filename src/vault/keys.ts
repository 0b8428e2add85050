/**
 * Key rotation and status. Nothing here re-encrypts a blob: subject rotation rewraps each blob's
 * data key (and the sealed external reference) under a new subject-key version; root rotation
 * (src/vault/rotation.ts) moves everything to a new root generation. Old versions stay until
 * every wrap under them moved, so an interrupted rotation resumes where it stopped.
 */
import { sql } from "kysely";
import { recordEvent } from "../audit/record.js";
import { randomBytes, wipe } from "../crypto/bytes.js";
import { TEMPLATE_SECRET } from "./template-keys.js";
import { unwrapKey, wrapKey } from "../crypto/keywrap.js";
import { VaultError } from "../errors.js";
import type { VaultDeps } from "./deps.js";
import { PSEUDONYM_SECRET } from "./secret-names.js";
import { dekAad, dekWrappingKey } from "./blobs.js";
import { epochExpired } from "./retention-keys.js";
import { indexEntry } from "./refs.js";
import {
  appliedSeqIn,
  healFork,
  latestPunctureSeq,
  punctureLogId,
  syncNeeded,
  syncRoot,
  type SyncReport,
} from "./root-sync.js";
import { loadSubject, openRef, refKeyVersion, sealRef } from "./subjects.js";

export interface KeyStatus {
  readonly provider: {
    readonly kind: string;
    readonly location: string;
    readonly hostId: string;
    readonly generations: readonly number[];
    readonly appliedSeq: number;
  };
  readonly activeGeneration: number;
  readonly generations: readonly {
    readonly generation: number;
    readonly status: string;
    readonly createdAt: string;
  }[];
  readonly rotation: RotationState | null;
  readonly punctureSeq: number;
  readonly subjectKeys: number;
  readonly subjects: { readonly active: number; readonly shredPending: number; readonly shredded: number };
  readonly secrets: readonly { readonly name: string; readonly version: number }[];
}

export interface RotationState {
  readonly fromGeneration: number;
  readonly toGeneration: number;
  readonly startedAt: string;
  /** The steps outside the start transaction (TLS certificate file, log signing key) are done. */
  readonly outsideDone?: boolean;
}

export const ROTATION_META = "root_rotation";

export interface SubjectRotation {
  readonly subjectId: string;
  readonly fromVersions: readonly number[];
  readonly toVersion: number;
  readonly blobsRewrapped: number;
}

type Deps = Pick<VaultDeps, "vaultId" | "meta" | "tree" | "provider" | "actor" | "now">;

export async function rotationState(db: VaultDeps["meta"]["db"]): Promise<RotationState | null> {
  const row = await db
    .selectFrom("vault_meta")
    .select("value")
    .where("key", "=", ROTATION_META)
    .executeTakeFirst();
  return row ? (JSON.parse(row.value) as RotationState) : null;
}

export function createKeyService(deps: Deps) {
  /**
   * A new subject-key version under the active generation; every blob's data key and the sealed
   * reference move to it, the reference index entry is recomputed, and older versions go once no
   * blob needs them (expired retention-bound blobs wait for `retention sweep`).
   */
  async function rotateSubject(subjectId: string): Promise<SubjectRotation | undefined> {
    return deps.meta.write(async (trx) => {
      const subject = await loadSubject(trx, subjectId);
      if (subject.status === "shredded") return undefined;
      const versions = (
        await trx
          .selectFrom("subject_keys")
          .select("version")
          .where("subject_id", "=", subject.id)
          .orderBy("version")
          .execute()
      ).map((r) => r.version);
      const toVersion = Math.max(0, ...versions) + 1;
      const newKey = await deps.tree.createSubjectKey(trx, subject.id, subject.slot, toVersion);
      const oldKeys = new Map<number, Uint8Array>();
      const oldKey = async (v: number): Promise<Uint8Array> => {
        let k = oldKeys.get(v);
        if (!k) {
          k = await deps.tree.subjectKey(trx, subject.id, subject.slot, v);
          oldKeys.set(v, k);
        }
        return k;
      };
      let rewrapped = 0;
      try {
        const blobs = await trx
          .selectFrom("blobs")
          .select(["id", "kind", "key_version", "wrapped_dek", "retention_epoch"])
          .where("subject_id", "=", subject.id)
          .where("key_version", "<", toVersion)
          .execute();
        const now = deps.now();
        for (const b of blobs) {
          const epoch = b.retention_epoch;
          // Expired retention-bound blobs are left to `retention sweep`; their old key version stays until then.
          if (epoch !== null && epochExpired(epoch, now)) continue;
          const oldK = await oldKey(b.key_version);
          const oldKek = await dekWrappingKey(trx, deps.tree, oldK, epoch, now);
          const newKek = await dekWrappingKey(trx, deps.tree, newKey, epoch, now);
          const dek = unwrapKey(
            oldKek,
            b.wrapped_dek,
            dekAad(deps.vaultId, b.id, subject.id, b.kind, b.key_version, epoch),
          );
          const wrapped = wrapKey(
            newKek,
            dek,
            dekAad(deps.vaultId, b.id, subject.id, b.kind, toVersion, epoch),
          );
          wipe(dek);
          if (oldKek !== oldK) wipe(oldKek);
          if (newKek !== newKey) wipe(newKek);
          await trx
            .updateTable("blobs")
            .set({ wrapped_dek: Buffer.from(wrapped), key_version: toVersion })
            .where("id", "=", b.id)
            .execute();
          rewrapped++;
        }
        if (subject.ref_enc) {
          const ref = openRef(
            deps.vaultId,
            subject.id,
            await oldKey(refKeyVersion(subject.ref_enc)),
            subject.ref_enc,
          );
          const entry = await indexEntry(trx, deps.tree, subject.tenant, ref);
          await trx
            .updateTable("subjects")
            .set({
              ref_enc: sealRef(deps.vaultId, subject.id, toVersion, newKey, ref),
              ref_hash: entry.hash,
              ref_bucket: entry.bucket,
            })
            .where("id", "=", subject.id)
            .execute();
        }
        const stillNeeded = (
          await trx
            .selectFrom("blobs")
            .select("key_version")
            .distinct()
            .where("subject_id", "=", subject.id)
            .where("key_version", "<", toVersion)
            .execute()
        ).map((r) => r.key_version);
        let del = trx
          .deleteFrom("subject_keys")
          .where("subject_id", "=", subject.id)
          .where("version", "<", toVersion);
        if (stillNeeded.length > 0) del = del.where("version", "not in", stillNeeded);
        await del.execute();
        deps.tree.forgetSubject(subject.id);
        await recordEvent(trx, deps.actor, {
          type: "keys.subject_rotated",
          subjectId: subject.id,
          fromVersions: versions,
          toVersion,
          blobsRewrapped: rewrapped,
        });
      } finally {
        wipe(newKey, ...oldKeys.values());
      }
      return { subjectId: subject.id, fromVersions: versions, toVersion, blobsRewrapped: rewrapped };
    });
  }

  /** Subjects (not shredded) that still hold a key version outside `generation`, in id order. */
  async function subjectsOutside(generation: number, after: string, limit: number): Promise<string[]> {
    const rows = await deps.meta.db
      .selectFrom("subject_keys")
      .innerJoin("subjects", "subjects.id", "subject_keys.subject_id")
      .select("subjects.id")
      .distinct()
      .where("subjects.status", "!=", "shredded")
      .where((eb) =>
        eb.or([
          eb("subject_keys.root_generation", "is", null),
          eb("subject_keys.root_generation", "!=", generation),
        ]),
      )
      .where("subjects.id", ">", after)
      .orderBy("subjects.id")
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  return {
    rotateSubject,
    subjectsOutside,

    /**
     * Renews template protection (ISO/IEC 24745 renewability): a new template-master version, so
     * every template made before is incomparable (verify-speaker ignores them) and a stolen
     * template key stops mattering. Subjects re-enrol with their next recordings.
     */
    async rotateTemplateKey(): Promise<{ version: number }> {
      return deps.meta.write(async (trx) => {
        const value = randomBytes(32);
        const version = await deps.tree.createSecret(trx, TEMPLATE_SECRET, value);
        wipe(value);
        await recordEvent(trx, deps.actor, { type: "keys.template_key_rotated", version });
        return { version };
      });
    },

    /**
     * A new pseudonym key: every consumer sees new pseudonyms from now on, unlinkable to the old
     * ones (after a compromise of the old key, which maps pseudonyms back to subject ids).
     */
    async rotatePseudonymKey(): Promise<{ version: number }> {
      return deps.meta.write(async (trx) => {
        const value = randomBytes(32);
        const version = await deps.tree.createSecret(trx, PSEUDONYM_SECRET, value);
        wipe(value);
        const old = (await deps.tree.secretVersions(trx, PSEUDONYM_SECRET)).filter((s) => {
          wipe(s.value);
          return s.version !== version;
        });
        await deps.tree.deleteSecret(
          trx,
          PSEUDONYM_SECRET,
          old.map((s) => s.version),
        );
        await recordEvent(trx, deps.actor, { type: "keys.secret_rotated", name: PSEUDONYM_SECRET, version });
        return { version };
      });
    },

    /** Rotates every subject that is not shredded, one transaction each (bounded memory). */
    async rotateAllSubjects(onProgress?: (done: number) => void): Promise<number> {
      let done = 0;
      let after = "";
      for (;;) {
        const page = await deps.meta.db
          .selectFrom("subjects")
          .select("id")
          .where("status", "!=", "shredded")
          .where("id", ">", after)
          .orderBy("id")
          .limit(500)
          .execute();
        if (page.length === 0) break;
        for (const s of page) {
          if (await rotateSubject(s.id)) done++;
          onProgress?.(done);
        }
        after = page[page.length - 1]!.id;
      }
      return done;
    },

    /** Brings this host's root provider in step with the vault (root-sync.ts). */
    async sync(): Promise<SyncReport> {
      return deps.meta.write((trx) => syncRoot(deps, trx));
    },

    /** A sync if there is anything to do (cheap when there is not): the timer's call. */
    async syncIfNeeded(): Promise<SyncReport | undefined> {
      if (!(await syncNeeded(deps))) return undefined;
      // a rolled-back log is healed first, alone, so that a refusal to extend an audit log that
      // is behind its anchors cannot also undo the heal
      await deps.meta.write((trx) => healFork(deps, trx));
      return deps.meta.write((trx) => syncRoot(deps, trx));
    },

    /**
     * Destroys a retired generation everywhere: after this, backups made before the rotation that
     * retired it no longer open (that is the point once their retention has passed).
     */
    async destroyGeneration(generation: number): Promise<void> {
      await deps.meta.write(async (trx) => {
        const row = await trx
          .selectFrom("root_generations")
          .selectAll()
          .where("generation", "=", generation)
          .executeTakeFirst();
        if (!row) throw new VaultError("INVALID_ARGUMENT", `no root generation ${generation}`);
        if (row.status === "destroyed") return;
        if (row.status !== "retired") {
          throw new VaultError(
            "INVALID_ARGUMENT",
            `root generation ${generation} is ${row.status}; only a retired generation can be destroyed`,
          );
        }
        await trx
          .updateTable("root_generations")
          .set({ status: "destroyed", destroyed_at: deps.now().toISOString() })
          .where("generation", "=", generation)
          .execute();
        await recordEvent(trx, deps.actor, {
          type: "keys.root_generation_destroyed",
          generation,
          reason: "operator",
        });
      });
      await deps.meta.write((trx) => syncRoot(deps, trx));
    },

    async status(): Promise<KeyStatus> {
      const db = deps.meta.db;
      const count = async (table: "subject_keys") =>
        (
          await db
            .selectFrom(table)
            .select(sql<number>`count(*)`.as("n"))
            .executeTakeFirstOrThrow()
        ).n;
      const byStatus = await db
        .selectFrom("subjects")
        .select(["status", sql<number>`count(*)`.as("n")])
        .groupBy("status")
        .execute();
      const n = (s: string) => byStatus.find((r) => r.status === s)?.n ?? 0;
      const secrets = await db
        .selectFrom("vault_secrets")
        .select(["name", "version"])
        .where("status", "=", "active")
        .where("name", "not like", "subject-ref-key/%")
        .orderBy("name")
        .execute();
      const generations = await db
        .selectFrom("root_generations")
        .select(["generation", "status", "created_at"])
        .orderBy("generation")
        .execute();
      return {
        provider: {
          kind: deps.provider.kind,
          location: deps.provider.location,
          hostId: deps.provider.hostId,
          generations: await deps.provider.generations(),
          appliedSeq: await appliedSeqIn(deps.provider, await punctureLogId(db)),
        },
        activeGeneration: await deps.tree.activeGeneration(db),
        generations: generations.map((g) => ({
          generation: g.generation,
          status: g.status,
          createdAt: g.created_at,
        })),
        rotation: await rotationState(db),
        punctureSeq: await latestPunctureSeq(db),
        subjectKeys: await count("subject_keys"),
        subjects: { active: n("active"), shredPending: n("shred_pending"), shredded: n("shredded") },
        secrets,
      };
    },
  };
}

export type KeyService = ReturnType<typeof createKeyService>;
