/** How routes find the Cedar resource of a request. */
import type { Authenticated } from "../../access/tokens.js";
import { VaultError } from "../../errors.js";
import { parseId } from "../../ids.js";
import { derivationKind } from "../../derivations/index.js";
import { uid } from "../../policy/engine.js";
import type { Vault } from "../../platform/vault.js";
import { AUDIT_LOG_ENTITY, subjectEntity, VAULT_ENTITY } from "../authz.js";
import type { ResolvedResource } from "../route.js";

export const vaultResource = (): Promise<ResolvedResource> => Promise.resolve({ entity: VAULT_ENTITY });
export const auditResource = (): Promise<ResolvedResource> => Promise.resolve({ entity: AUDIT_LOG_ENTITY });

export async function subjectResource(vault: Vault, id: string): Promise<ResolvedResource> {
  const s = await vault.access.serving.subjectRef(id);
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
  const { derivation: row, subject: s } = await vault.access.serving.derivationRef(drvId);
  const reconstructable = derivationKind(row.name).reconstructable;
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
