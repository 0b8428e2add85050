/**
 * Key rotation. Nothing here re-encrypts a blob: root rotation rewraps the top of the key tree,
 * subject rotation rewraps each blob's data key (and the sealed external reference) under a new
 * subject-key version. Old versions stay until every wrap under them moved, so an interrupted
 * rotation resumes where it stopped.
 */
import { sql } from "kysely";
import { recordEvent } from "../audit/record.js";
import { randomBytes, wipe } from "../crypto/bytes.js";
import { TEMPLATE_SECRET } from "../ingest/template-keys.js";
import { unwrapKey, wrapKey } from "../crypto/keywrap.js";
import type { VaultDeps } from "./deps.js";
import { dekAad, dekWrappingKey } from "./blobs.js";
import { epochExpired } from "./retention-keys.js";
import { reconcileRootVersions, withRootChange } from "./root-change.js";
import { loadSubject, openRef, refKeyVersion, sealRef } from "./subjects.js";

export interface KeyStatus {
  readonly provider: {
    readonly kind: string;
    readonly location: string;
    readonly versions: readonly number[];
  };
  readonly rootVersionInUse: number;
  readonly keyTreeNodes: number;
  readonly subjectKeys: number;
  readonly subjects: { readonly active: number; readonly shredPending: number; readonly shredded: number };
  readonly secrets: readonly { readonly name: string; readonly version: number }[];
}

export interface SubjectRotation {
  readonly subjectId: string;
  readonly fromVersions: readonly number[];
  readonly toVersion: number;
  readonly blobsRewrapped: number;
}

type Deps = Pick<VaultDeps, "vaultId" | "meta" | "tree" | "provider" | "actor" | "now">;

export function createKeyService(deps: Deps) {
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
          await trx
            .updateTable("subjects")
            .set({ ref_enc: sealRef(deps.vaultId, subject.id, toVersion, newKey, ref) })
            .where("id", "=", subject.id)
            .execute();
        }
        // Old versions go once no blob still needs them (expired retention-bound blobs may).
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

  return {
    /** New root key version; the tree's top is rewrapped under it and the old version destroyed. */
    async rotateRoot(): Promise<{ fromVersion: number; toVersion: number }> {
      const { retiredRootVersion, newRootVersion } = await withRootChange(deps, async (trx, root) => {
        const newV = await root.newRootVersion();
        await deps.tree.rewrapTop(trx, newV);
        await recordEvent(trx, deps.actor, {
          type: "keys.root_rotated",
          fromVersion: root.oldRootVersion,
          toVersion: newV,
        });
      });
      return { fromVersion: retiredRootVersion, toVersion: newRootVersion };
    },

    rotateSubject,

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

    /** Rotates every subject that is not shredded, one transaction each. */
    async rotateAllSubjects(onProgress?: (done: number) => void): Promise<SubjectRotation[]> {
      const out: SubjectRotation[] = [];
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
          const r = await rotateSubject(s.id);
          if (r) out.push(r);
          onProgress?.(out.length);
        }
        after = page[page.length - 1]!.id;
      }
      return out;
    },

    async reconcile(): Promise<number[]> {
      return deps.meta.write((trx) => reconcileRootVersions(deps, trx));
    },

    async status(): Promise<KeyStatus> {
      const db = deps.meta.db;
      const count = async (table: "key_nodes" | "subject_keys") =>
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
        .orderBy("name")
        .execute();
      return {
        provider: {
          kind: deps.provider.kind,
          location: deps.provider.location,
          versions: await deps.provider.versions(),
        },
        rootVersionInUse: await deps.tree.rootVersionInUse(db),
        keyTreeNodes: await count("key_nodes"),
        subjectKeys: await count("subject_keys"),
        subjects: { active: n("active"), shredPending: n("shred_pending"), shredded: n("shredded") },
        secrets,
      };
    },
  };
}

export type KeyService = ReturnType<typeof createKeyService>;
