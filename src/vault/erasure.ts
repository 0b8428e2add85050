/**
 * What a shred erases besides the keys (docs/architecture.md §Shredding): every record that
 * describes the subject's data or could link the subject back to a person. What stays is what
 * the deletion certificate and the audit log need: the subject row (id, tenant, status, times,
 * counts), the certificate, the events, and the blob rows until `sweep` deletes them with their
 * (undecryptable) objects.
 */
import { recordEvent } from "../audit/record.js";
import type { MetaDb } from "../store/meta/index.js";
import type { SubjectsTable } from "../store/meta/schema.js";
import type { VaultDeps } from "./deps.js";
import { eraseRefIndex } from "./refs.js";

export interface ErasedRecords {
  readonly consents: number;
  readonly uploads: number;
  readonly referenceIndexRehashed: number;
}

const n = (r: { numDeletedRows?: bigint; numUpdatedRows?: bigint }) =>
  Number(r.numDeletedRows ?? r.numUpdatedRows ?? 0n);

/**
 * The shred's own part, bounded whatever the subject's volume: the reference index entry (its
 * bucket is rehashed), consents, uploads, break-glass reasons, tokens. Runs inside the shred's
 * transaction; returns root points to puncture with the subject's slot.
 */
export async function eraseSubjectRecords(
  deps: Pick<VaultDeps, "vaultId" | "tree" | "actor">,
  trx: MetaDb,
  row: SubjectsTable,
  at: string,
): Promise<{ points: number[]; records: ErasedRecords }> {
  const actor = deps.actor;
  const ref = await eraseRefIndex(trx, deps.tree, deps.vaultId, row);
  const consents = n(await trx.deleteFrom("consents").where("subject_id", "=", row.id).executeTakeFirst());
  const uploads = n(await trx.deleteFrom("uploads").where("subject_id", "=", row.id).executeTakeFirst());
  // A passkey's public key is the contractor's credential: nothing of it outlives them.
  await trx.deleteFrom("passkeys").where("subject_id", "=", row.id).execute();
  await trx.deleteFrom("webauthn_challenges").where("subject_id", "=", row.id).execute();
  // Import rows tie a keyed hash of an archive object's content to the subject: erased with it.
  await trx.deleteFrom("import_items").where("subject_id", "=", row.id).execute();
  // The free-text reason of a break-glass request may name the person.
  await trx.updateTable("breakglass_requests").set({ reason: "" }).where("subject_id", "=", row.id).execute();
  const live = await trx
    .selectFrom("tokens")
    .select("id")
    .where("subject_id", "=", row.id)
    .where("revoked_at", "is", null)
    .execute();
  for (const t of live) {
    await trx.updateTable("tokens").set({ revoked_at: at }).where("id", "=", t.id).execute();
    await recordEvent(trx, actor, { type: "token.revoked", tokenId: t.id, reason: "subject shredded" });
  }
  return { points: ref.points, records: { consents, uploads, referenceIndexRehashed: ref.rehashed } };
}

const BATCH = 1000;

/**
 * The part that grows with the subject's data, after the shred committed: recordings and
 * derivations rows, in bounded batches (the data is undecryptable from the commit on; this only
 * removes what the rows describe). Blob rows go with their objects in `sweep`. Safe to repeat:
 * `sweep` runs it again for any shredded subject with rows left (a crash in between).
 */
export async function eraseSubjectData(
  deps: Pick<VaultDeps, "meta" | "actor">,
  subjectId: string,
): Promise<{ recordings: number; derivations: number }> {
  let recordings = 0;
  let derivations = 0;
  for (;;) {
    const done = await deps.meta.write(async (trx) => {
      const ids = (
        await trx
          .selectFrom("recordings")
          .select("id")
          .where("subject_id", "=", subjectId)
          .limit(BATCH)
          .execute()
      ).map((r) => r.id);
      const d = ids.length
        ? n(await trx.deleteFrom("derivations").where("recording_id", "in", ids).executeTakeFirst())
        : n(await trx.deleteFrom("derivations").where("subject_id", "=", subjectId).executeTakeFirst());
      const r = ids.length
        ? n(await trx.deleteFrom("recordings").where("id", "in", ids).executeTakeFirst())
        : 0;
      recordings += r;
      derivations += d;
      if (ids.length < BATCH && (r > 0 || d > 0 || recordings + derivations > 0)) {
        await recordEvent(trx, deps.actor, {
          type: "subject.records_erased",
          subjectId,
          recordings,
          derivations,
        });
      }
      return ids.length < BATCH;
    });
    if (done) return { recordings, derivations };
  }
}
