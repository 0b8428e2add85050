import type { MetaDb } from "../store/meta/index.js";
import type { SubjectsTable } from "../store/meta/schema.js";
import { readSmallBlob } from "../vault/blobs.js";
import type { VaultDeps } from "../vault/deps.js";
import type { Recipe } from "../derivations/index.js";

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
