/**
 * Readiness: whether this process can serve requests that touch the vault right now. Liveness
 * needs no check (the process answers); readiness asks the metadata database, so a load balancer
 * stops routing to an instance while its database is away and resumes when it is back.
 */
import { sql } from "kysely";
import { VaultError } from "../errors.js";
import type { VaultDeps } from "./deps.js";

type Deps = Pick<VaultDeps, "meta">;

export function createHealthService(deps: Deps, isClosed: () => boolean) {
  return {
    /** Resolves when the metadata database answers; METADATA_UNAVAILABLE (or VAULT_CLOSED) if not. */
    async ready(): Promise<void> {
      if (isClosed()) throw new VaultError("VAULT_CLOSED", "vault is closed");
      try {
        await sql`SELECT 1`.execute(deps.meta.db);
      } catch (e) {
        throw deps.meta.translateError(e);
      }
    },
  };
}

export type HealthService = ReturnType<typeof createHealthService>;
