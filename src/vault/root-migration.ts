/**
 * The vault side of `voxvault keys migrate --to hsm` (src/platform/lifecycle.ts starts it and
 * owns vault.json): where this host stands before the move, and, once the composition root opens
 * a MigratingKeyProvider, the rotation into the token and the destruction of the key file's
 * generations, each step skipped when a resumed run finds it done.
 */
import { recordEvent } from "../audit/record.js";
import { VaultError } from "../errors.js";
import { MigratingKeyProvider } from "../keys/migrating-provider.js";
import type { LogPosition } from "../keys/provider.js";
import type { VaultDeps } from "./deps.js";
import type { KeyStatus } from "./keys.js";

type Deps = Pick<VaultDeps, "meta" | "provider" | "actor">;

/** The key services the migration drives (composed in src/platform/services.ts). */
export interface MigrationKeys {
  status(): Promise<KeyStatus>;
  rotateRoot(): Promise<unknown>;
  destroyGeneration(generation: number): Promise<void>;
  sync(): Promise<unknown>;
}

export function createRootMigrationService(deps: Deps, keys: MigrationKeys) {
  return {
    /** This host's id and puncture-log position, for the token's state to start from. */
    async position(): Promise<{ hostId: string; applied: LogPosition }> {
      await keys.sync();
      return { hostId: deps.provider.hostId, applied: await deps.provider.applied() };
    },

    /** Moves every wrap into a token generation and destroys the key file's generations. */
    async finish(): Promise<{ toGeneration: number; destroyed: number[] }> {
      const provider = deps.provider;
      if (!(provider instanceof MigratingKeyProvider))
        throw new VaultError("CONFLICT", "no migration into an HSM is in progress");
      let status = await keys.status();
      const inToken = async (g: number) => (await provider.hsm.generations()).includes(g);
      if (status.rotation || !(await inToken(status.activeGeneration))) await keys.rotateRoot();
      status = await keys.status();
      const destroyed: number[] = [];
      for (const g of await provider.file.generations()) {
        const row = status.generations.find((r) => r.generation === g);
        if (row && row.status !== "retired" && row.status !== "destroyed")
          throw new VaultError("INTERNAL", `key-file generation ${g} is ${row.status} after the rotation`);
        if (row?.status === "retired") await keys.destroyGeneration(g);
        destroyed.push(g);
      }
      await keys.sync(); // applies the destruction to the file
      // generations the vault no longer lists (destroyed long ago elsewhere) go too
      for (const g of await provider.file.generations()) await provider.file.destroyGeneration(g);
      // the host list names this host by its key: from now on the token state's, not the file's
      const hostKey = await provider.hsm.distribution.hostPublicKey();
      await deps.meta.write(async (trx) => {
        await trx
          .updateTable("key_hosts")
          .set({ public_key: Buffer.from(hostKey) })
          .where("id", "=", provider.hostId)
          .execute();
        await recordEvent(trx, deps.actor, {
          type: "keys.root_migrated",
          hostId: provider.hostId,
          to: "pkcs11",
          generation: status.activeGeneration,
          destroyedGenerations: destroyed,
        });
      });
      return { toGeneration: status.activeGeneration, destroyed };
    },
  };
}

export type RootMigrationService = ReturnType<typeof createRootMigrationService>;
