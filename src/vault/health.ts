/**
 * Readiness: whether this process can serve requests that touch the vault right now. Liveness
 * needs no check (the process answers); readiness asks the metadata database, so a load balancer
 * stops routing to an instance while its database is away and resumes when it is back.
 */
import { sql } from "kysely";
import { VaultError } from "../errors.js";
import type { PostureProblem } from "../store/blob/types.js";
import type { VaultDeps } from "./deps.js";

type Deps = Pick<VaultDeps, "meta" | "store">;

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

    /** How the blob store looks from outside (a bucket's policy, ACL, public-access block …). */
    async storagePosture(): Promise<PostureProblem[]> {
      return (await deps.store.posture?.()) ?? [];
    },

    /** The first bytes of up to `limit` objects of a shared store's bucket (none for a local store). */
    async *storeHeads(limit: number): AsyncGenerator<{ key: string; head: Uint8Array }, void, undefined> {
      if (deps.store.heads) yield* deps.store.heads(limit);
    },

    /** The database role the vault connects as (PostgreSQL; undefined for SQLite), for posture checks. */
    async databaseRole(): Promise<{ readonly name: string; readonly superuser: boolean } | undefined> {
      if (deps.meta.dialect !== "postgres") return undefined;
      try {
        const r = await sql<{ name: string; superuser: boolean }>`
          SELECT current_user AS name, rolsuper AS superuser FROM pg_roles WHERE rolname = current_user`.execute(
          deps.meta.db,
        );
        return r.rows[0];
      } catch (e) {
        throw deps.meta.translateError(e);
      }
    },
  };
}

export type HealthService = ReturnType<typeof createHealthService>;
