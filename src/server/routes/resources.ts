/** How routes find the Cedar resource of a request. */
import type { Authenticated } from "../../access/tokens.js";
import { VaultError } from "../../errors.js";
import { parseId } from "../../ids.js";
import { RECONSTRUCTABLE, type DerivationName } from "../../ingest/config.js";
import { uid } from "../../policy/engine.js";
import type { Vault } from "../../platform/vault.js";
import { loadSubject } from "../../vault/subjects.js";
import { AUDIT_LOG_ENTITY, subjectEntity, VAULT_ENTITY } from "../authz.js";
import type { ResolvedResource } from "../route.js";

export const vaultResource = (): Promise<ResolvedResource> => Promise.resolve({ entity: VAULT_ENTITY });
export const auditResource = (): Promise<ResolvedResource> => Promise.resolve({ entity: AUDIT_LOG_ENTITY });

export async function subjectResource(vault: Vault, id: string): Promise<ResolvedResource> {
  const s = await loadSubject(vault.internals.meta.db, id);
  return { entity: subjectEntity(s), subject: s };
}

/** The caller's own subject (contractor sessions); anyone else has no "me". */
export async function ownSubject(vault: Vault, auth: Authenticated): Promise<ResolvedResource> {
  const id = auth.token.subjectId ?? auth.principal.subjectId;
  if (auth.principal.role !== "contractor" || !id)
    throw new VaultError("FORBIDDEN", "only contractors have /v1/me");
  return subjectResource(vault, id);
}

export async function derivationResource(vault: Vault, id: string): Promise<ResolvedResource> {
  const drvId = parseId("drv", id, "derivation id");
  const row = await vault.internals.meta.db
    .selectFrom("derivations")
    .selectAll()
    .where("id", "=", drvId)
    .executeTakeFirst();
  if (!row) throw new VaultError("NOT_FOUND", `no derivation ${drvId}`);
  const s = await loadSubject(vault.internals.meta.db, row.subject_id);
  const reconstructable = RECONSTRUCTABLE.has(row.name as DerivationName);
  return {
    entity: {
      ...uid("Derivation", row.id),
      attrs: {
        subject: { __entity: uid("Subject", s.id) },
        name: row.name,
        reconstructable,
        application: row.application ?? "",
      },
      parents: [uid("Subject", s.id)],
    },
    subject: s,
    entities: [subjectEntity(s)],
    derivation: { id: row.id, name: row.name, reconstructable },
  };
}
