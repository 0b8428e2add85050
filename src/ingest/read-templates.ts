import type { MetaDb } from "../store/meta/index.js";
import type { SubjectsTable } from "../store/meta/schema.js";
import { readSmallBlob } from "../vault/blobs.js";
import type { VaultDeps } from "../vault/deps.js";
import type { Recipe } from "../derivations/index.js";
import { VAULT_APPLICATION } from "../vault/template-keys.js";

/**
 * The subject's protected templates for one application that were made by `embedderId` under
 * template-key version `keyVersion`; templates from an older key or embedder cannot be compared
 * (renewal, ISO/IEC 24745) and are skipped.
 */
export async function readTemplates(
  trx: MetaDb,
  deps: Pick<VaultDeps, "vaultId" | "store" | "tree" | "now">,
  subject: SubjectsTable,
  application: string,
  embedderId: string,
  keyVersion: number,
): Promise<Uint8Array[]> {
  const rows = await trx
    .selectFrom("derivations")
    .innerJoin("blobs", "blobs.id", "derivations.blob_id")
    .selectAll("blobs")
    .select("derivations.recipe")
    .where("derivations.subject_id", "=", subject.id)
    .where("derivations.name", "=", "speaker-template")
    .where("derivations.application", "=", application)
    .execute();
  const out: Uint8Array[] = [];
  for (const r of rows) {
    const recipe = JSON.parse(r.recipe) as Recipe;
    if (recipe.params.embedderId !== embedderId || recipe.params.templateKeyVersion !== keyVersion) continue;
    const { recipe: _recipe, ...blob } = r;
    out.push(await readSmallBlob(trx, deps, blob, subject));
  }
  return out;
}

/**
 * For choosing the enrolled voice: the subject's templates and, per staff subject of the same
 * tenant (interviewers), theirs; under the current template key and embedder.
 */
export async function voiceTemplates(
  trx: MetaDb,
  deps: Pick<VaultDeps, "vaultId" | "store" | "tree" | "now">,
  subject: SubjectsTable,
  embedderId: string,
  keyVersion: number,
): Promise<{ subject: Uint8Array[]; staff: Uint8Array[][] }> {
  const own = await readTemplates(trx, deps, subject, VAULT_APPLICATION, embedderId, keyVersion);
  const staffRows = await trx
    .selectFrom("subjects")
    .selectAll()
    .where("tenant", "=", subject.tenant)
    .where("role", "=", "staff")
    .where("status", "=", "active")
    .where("id", "!=", subject.id)
    .limit(MAX_STAFF)
    .execute();
  const staff: Uint8Array[][] = [];
  for (const row of staffRows) {
    const t = await readTemplates(trx, deps, row, VAULT_APPLICATION, embedderId, keyVersion);
    if (t.length > 0) staff.push(t);
  }
  return { subject: own, staff };
}

/** Staff voices compared per recording at most (each costs a few protected comparisons). */
export const MAX_STAFF = 500;
