/**
 * Keeping this host's root provider in step with the vault (docs/architecture.md §Several hosts).
 *
 * The metadata store is the single source of truth: which generations exist and which one is
 * active, the puncture log, the hosts and the generations sealed to them. A sync, always inside a
 * write transaction (the vault's write lock serialises it with every other change of every
 * process on every host), makes the provider agree:
 *   1. this host must be an approved host of the vault;
 *   2. generations sealed to it are accepted, then their sealed copies deleted;
 *   3. punctures it has not applied yet are applied to every generation it holds;
 *   4. generations the vault destroyed, or never committed (a crash after the provider created
 *      one and before COMMIT), are destroyed;
 *   5. the host's row records what it holds and how far it applied the log.
 * It runs when a vault opens, after every erasure (shred, retention sweep) commits, and on a
 * timer while the vault is open, so every host applies a puncture within one sync period.
 */
import { recordEvent } from "../audit/record.js";
import { encodeFields } from "../crypto/bytes.js";
import { hostKeyFingerprint } from "../crypto/host-seal.js";
import { VaultError } from "../errors.js";
import type { MetaDb } from "../store/meta/index.js";
import type { VaultDeps } from "./deps.js";

type Deps = Pick<VaultDeps, "meta" | "tree" | "provider" | "actor" | "now">;

export interface SyncReport {
  readonly hostId: string;
  readonly punctureLog: string;
  readonly appliedSeq: number;
  readonly puncturesApplied: number;
  readonly generationsReceived: readonly number[];
  readonly generationsDestroyed: readonly number[];
}

/** Context bound into a generation sealed to a host: the recipient's id. */
export function distributionContext(hostId: string): Uint8Array {
  return encodeFields(["voxvault/host", hostId]);
}

async function hostRow(db: MetaDb, hostId: string) {
  return db.selectFrom("key_hosts").selectAll().where("id", "=", hostId).executeTakeFirst();
}

/** vault_meta key of the puncture log's id; a restore gives the log a new id (src/vault/restore.ts). */
export const PUNCTURE_LOG_META = "puncture_log_id";

export async function punctureLogId(db: MetaDb): Promise<string> {
  const row = await db
    .selectFrom("vault_meta")
    .select("value")
    .where("key", "=", PUNCTURE_LOG_META)
    .executeTakeFirst();
  if (!row) throw new VaultError("VAULT_CORRUPT", "the vault has no puncture log id");
  return row.value;
}

/** The host's position in the current log: a host that applied another log (before a restore) starts over. */
export async function appliedSeqIn(provider: Deps["provider"], log: string): Promise<number> {
  const at = await provider.applied();
  return at.log === log ? at.seq : 0;
}

export async function latestPunctureSeq(db: MetaDb): Promise<number> {
  const r = await db
    .selectFrom("key_punctures")
    .select((eb) => eb.fn.max("seq").as("s"))
    .executeTakeFirst();
  return r?.s ?? 0;
}

/** Refuses a host that is not (or no longer) approved, with what to do about it. */
export function checkHostStatus(
  host: { id: string; status: string; public_key: Uint8Array } | undefined,
  hostId: string,
): void {
  if (!host) {
    throw new VaultError(
      "ROOT_KEY_MISMATCH",
      `this key file's host ${hostId} is not a host of this vault (voxvault host join)`,
    );
  }
  if (host.status === "revoked") {
    throw new VaultError("ROOT_KEY_MISSING", `host ${hostId} was revoked from this vault`);
  }
  if (host.status === "pending") {
    throw new VaultError(
      "ROOT_KEY_MISSING",
      `host ${hostId} waits for approval: run "voxvault host approve ${hostId} --fingerprint ${hostKeyFingerprint(host.public_key)}" on an approved host`,
    );
  }
}

export async function syncRoot(deps: Deps, trx: MetaDb): Promise<SyncReport> {
  const provider = deps.provider;
  await provider.refresh();
  const hostId = provider.hostId;
  const host = await hostRow(trx, hostId);
  checkHostStatus(host, hostId);

  const log = await punctureLogId(trx);
  // 2. generations sealed to this host
  const received: number[] = [];
  const dist = provider.distribution;
  const sealed = await trx
    .selectFrom("key_distributions")
    .selectAll()
    .where("host_id", "=", hostId)
    .execute();
  for (const d of sealed) {
    if (!dist)
      throw new VaultError("INTERNAL", "a generation was sealed to a provider that cannot accept it");
    await dist.accept(d.generation, d.sealed, distributionContext(hostId), {
      log,
      seq: d.through_seq,
    });
    await trx
      .deleteFrom("key_distributions")
      .where("host_id", "=", hostId)
      .where("generation", "=", d.generation)
      .execute();
    await recordEvent(trx, deps.actor, {
      type: "keys.generation_received",
      hostId,
      generation: d.generation,
    });
    received.push(d.generation);
  }

  // 3. punctures
  // (every puncture is idempotent: a host that applied another log re-applies this one from the start)
  const fromSeq = await appliedSeqIn(provider, log);
  const pending = await trx
    .selectFrom("key_punctures")
    .select(["seq", "point"])
    .where("seq", ">", fromSeq)
    .orderBy("seq")
    .execute();
  let appliedSeq = fromSeq;
  if (pending.length > 0) {
    appliedSeq = pending[pending.length - 1]!.seq;
    await provider.puncture(
      pending.map((p) => p.point),
      { log, seq: appliedSeq },
    );
    await recordEvent(trx, deps.actor, {
      type: "keys.punctures_applied",
      hostId,
      fromSeq,
      throughSeq: appliedSeq,
    });
  }

  // 4. generations destroyed by the vault, or never committed
  const rows = await trx.selectFrom("root_generations").select(["generation", "status"]).execute();
  const status = new Map(rows.map((r) => [r.generation, r.status]));
  const destroyed: number[] = [];
  for (const g of await provider.generations()) {
    const s = status.get(g);
    if (s === undefined || s === "destroyed") {
      await provider.destroyGeneration(g);
      destroyed.push(g);
    }
  }
  const held = await provider.generations();
  const active = await deps.tree.activeGeneration(trx);
  if (!held.includes(active)) {
    throw new VaultError(
      "ROOT_KEY_MISSING",
      `root generation ${active}, which this vault uses, is not in ${provider.location}`,
    );
  }

  // 5. what this host holds
  await trx
    .updateTable("key_hosts")
    .set({ applied_seq: appliedSeq, generations: JSON.stringify(held), last_seen: deps.now().toISOString() })
    .where("id", "=", hostId)
    .execute();
  return {
    hostId,
    punctureLog: log,
    appliedSeq,
    puncturesApplied: pending.length,
    generationsReceived: received,
    generationsDestroyed: destroyed,
  };
}

/** Whether a sync has work to do (a cheap read, for the timer). */
export async function syncNeeded(deps: Pick<Deps, "meta" | "provider">): Promise<boolean> {
  const db = deps.meta.db;
  const provider = deps.provider;
  const log = await punctureLogId(db);
  if ((await latestPunctureSeq(db)) > (await appliedSeqIn(provider, log))) return true;
  const dist = await db
    .selectFrom("key_distributions")
    .select("generation")
    .where("host_id", "=", provider.hostId)
    .executeTakeFirst();
  if (dist) return true;
  const live = new Set(
    (
      await db
        .selectFrom("root_generations")
        .select("generation")
        .where("status", "!=", "destroyed")
        .execute()
    ).map((r) => r.generation),
  );
  return (await provider.generations()).some((g) => !live.has(g));
}
