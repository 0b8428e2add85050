/**
 * Changes that move the key tree to a new root version (shred, root rotation) follow one order,
 * so a crash at any point leaves a vault that opens and a state that reconcile finishes:
 *   1. in the write transaction: reconcile, create root version N+1 (durable in the provider),
 *      rewrap the tree under it, record the event;
 *   2. commit;
 *   3. destroy root version N.
 * A crash before 2 leaves an unused N+1; a crash before 3 leaves N alive. Reconcile (under the
 * same write lock) destroys every version but the one the tree uses.
 */
import { recordEvent } from "../audit/record.js";
import { VaultError } from "../errors.js";
import type { MetaDb } from "../store/meta/index.js";
import type { VaultDeps } from "./deps.js";

type Deps = Pick<VaultDeps, "meta" | "tree" | "provider" | "actor">;

export async function reconcileRootVersions(deps: Deps, trx: MetaDb): Promise<number[]> {
  const inUse = await deps.tree.rootVersionInUse(trx);
  const present = await deps.provider.versions();
  if (!present.includes(inUse)) {
    throw new VaultError(
      "ROOT_KEY_MISSING",
      `root key version ${inUse}, which this vault uses, is not in ${deps.provider.location}`,
    );
  }
  const destroyed: number[] = [];
  for (const v of present) {
    if (v === inUse) continue;
    await deps.provider.destroyVersion(v);
    await recordEvent(trx, deps.actor, {
      type: "keys.root_version_destroyed",
      version: v,
      reason: "reconcile",
    });
    destroyed.push(v);
  }
  return destroyed;
}

export interface RootChange {
  readonly oldRootVersion: number;
  /** Creates the new root version (once); call it after the change's preconditions hold. */
  newRootVersion(): Promise<number>;
}

export async function withRootChange<T>(
  deps: Deps,
  change: (trx: MetaDb, root: RootChange) => Promise<T>,
): Promise<{ result: T; retiredRootVersion: number; newRootVersion: number }> {
  let oldVersion = 0;
  let newVersion = 0;
  // No clean-up on failure: if COMMIT's outcome is unknown (a lost connection), destroying the
  // new version could orphan a committed tree. Reconcile decides later from committed state.
  const result = await deps.meta.write(async (trx) => {
    await reconcileRootVersions(deps, trx);
    oldVersion = await deps.tree.rootVersionInUse(trx);
    const root: RootChange = {
      oldRootVersion: oldVersion,
      async newRootVersion() {
        if (newVersion === 0) newVersion = await deps.provider.createVersion();
        return newVersion;
      },
    };
    const r = await change(trx, root);
    if (newVersion === 0) throw new VaultError("INTERNAL", "a root change must create the new root version");
    return r;
  });
  await deps.provider.destroyVersion(oldVersion);
  return { result, retiredRootVersion: oldVersion, newRootVersion: newVersion };
}
