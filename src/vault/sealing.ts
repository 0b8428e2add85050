/**
 * How this host's root is sealed, resharing it among a quorum of officers, and the audit events
 * of a server's seal and unseal (docs/operations.md §Quorum unseal). A sealed server cannot write
 * to the log (the log's keys are under the root), so it reports what happened while sealed
 * (shares refused) in the `vault.unsealed` event it records once open.
 */
import { recordEvent } from "../audit/record.js";
import { VaultError } from "../errors.js";
import type { SealDescription } from "../keys/provider.js";
import type { VaultDeps } from "./deps.js";

type Deps = Pick<VaultDeps, "meta" | "provider" | "actor">;

export interface UnsealRecord {
  readonly officers: readonly string[];
  readonly refusedShares: number;
  readonly sealedSince: Date;
}

export function createSealingService(deps: Deps) {
  const describe = (): SealDescription =>
    deps.provider.sealing?.describe() ?? { kind: deps.provider.kind as SealDescription["kind"] };
  return {
    describe,

    /**
     * Seals this host's root key file under a new `threshold`-of-`officers` quorum and returns
     * each officer's share, by name: hand each to its officer alone. The event is written in the
     * transaction that commits only once the re-sealed file is durable.
     */
    async reshare(threshold: number, officers: readonly string[]): Promise<ReadonlyMap<string, string>> {
      const sealing = deps.provider.sealing;
      if (!sealing)
        throw new VaultError(
          "NOT_IMPLEMENTED_BY_PROVIDER",
          `a ${deps.provider.kind} root is not sealed by a key file; its own access control guards it`,
        );
      return deps.meta.write(async (trx) => {
        const from = sealing.describe().kind;
        const shares = await sealing.reshare(threshold, officers);
        const now = sealing.describe().quorum!;
        await recordEvent(trx, deps.actor, {
          type: "keys.quorum_reshared",
          hostId: deps.provider.hostId,
          from,
          threshold: now.threshold,
          officers: now.officers,
          epoch: now.epoch,
        });
        return shares;
      });
    },

    async recordUnsealed(r: UnsealRecord): Promise<void> {
      const q = describe().quorum;
      await deps.meta.write((trx) =>
        recordEvent(trx, deps.actor, {
          type: "vault.unsealed",
          hostId: deps.provider.hostId,
          officers: [...r.officers],
          epoch: q?.epoch ?? "",
          refusedShares: r.refusedShares,
          sealedSince: r.sealedSince.toISOString(),
        }),
      );
    },

    /** Recorded before the server drops its keys (afterwards it could not). */
    async recordSealed(reason: "operator" | "alert", alert?: string): Promise<void> {
      await deps.meta.write((trx) =>
        recordEvent(trx, deps.actor, {
          type: "vault.sealed",
          hostId: deps.provider.hostId,
          reason,
          ...(alert === undefined ? {} : { alert }),
        }),
      );
    },
  };
}

export type SealingService = ReturnType<typeof createSealingService>;
