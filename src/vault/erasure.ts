/**
 * What a shred erases besides the keys (docs/architecture.md §Shredding): every record that
 * describes the subject's data or could link the subject back to a person. What stays is what
 * the deletion certificate and the audit log need: the subject row (id, tenant, status, times,
 * counts), the certificate, the events, and the ids of the ciphertext objects until `sweep`
 * deletes them.
 */
import type { MetaDb } from "../store/meta/index.js";
import type { SubjectsTable } from "../store/meta/schema.js";
import type { VaultDeps } from "./deps.js";
import { eraseRefIndex } from "./refs.js";

export interface ErasedRecords {
  readonly recordings: number;
  readonly derivations: number;
  readonly consents: number;
  readonly uploads: number;
  readonly referenceIndexRehashed: number;
}

const n = (r: { numDeletedRows?: bigint; numUpdatedRows?: bigint }) =>
  Number(r.numDeletedRows ?? r.numUpdatedRows ?? 0n);

/** Runs inside the shred's transaction. Returns root points to puncture with the subject's slot. */
export async function eraseSubjectRecords(
  deps: Pick<VaultDeps, "vaultId" | "tree">,
  trx: MetaDb,
  row: SubjectsTable,
  at: string,
): Promise<{ points: number[]; records: ErasedRecords }> {
  const ref = await eraseRefIndex(trx, deps.tree, deps.vaultId, row);
  const derivations = n(
    await trx.deleteFrom("derivations").where("subject_id", "=", row.id).executeTakeFirst(),
  );
  const recordings = n(
    await trx.deleteFrom("recordings").where("subject_id", "=", row.id).executeTakeFirst(),
  );
  const consents = n(await trx.deleteFrom("consents").where("subject_id", "=", row.id).executeTakeFirst());
  const uploads = n(await trx.deleteFrom("uploads").where("subject_id", "=", row.id).executeTakeFirst());
  // Ciphertext objects stay until sweep deletes them; their rows keep only the object name.
  await trx
    .updateTable("blobs")
    .set({
      kind: "erased",
      size: 0,
      plaintext_size: 0,
      key_version: 0,
      wrapped_dek: Buffer.alloc(0),
      created_at: at,
      retention_epoch: null,
    })
    .where("subject_id", "=", row.id)
    .execute();
  // The free-text reason of a break-glass request may name the person.
  await trx.updateTable("breakglass_requests").set({ reason: "" }).where("subject_id", "=", row.id).execute();
  await trx
    .updateTable("tokens")
    .set({ revoked_at: at })
    .where("subject_id", "=", row.id)
    .where("revoked_at", "is", null)
    .execute();
  return {
    points: ref.points,
    records: { recordings, derivations, consents, uploads, referenceIndexRehashed: ref.rehashed },
  };
}
