/** A derivation as services return it (light: no pipeline imports, for status and serving paths). */
import type { DerivationName, Recipe } from "../derivations/index.js";
import type { DerivationsTable } from "../store/meta/schema.js";

export interface DerivationInfo {
  readonly id: string;
  readonly name: DerivationName;
  readonly class: "reconstructable" | "non-reconstructable";
  readonly recipe: Recipe;
  readonly blobId: string;
  readonly application: string | null;
  readonly expiresAt: string | null;
}

export function toDerivationInfo(r: DerivationsTable): DerivationInfo {
  return {
    id: r.id,
    name: r.name as DerivationName,
    class: r.class,
    recipe: JSON.parse(r.recipe) as Recipe,
    blobId: r.blob_id,
    application: r.application,
    expiresAt: r.expires_at,
  };
}
