/**
 * Keeping this host's root provider in step with the vault (docs/architecture.md §Several hosts).
 *
 * The metadata store is the single source of truth: which generations exist (with their check
 * values) and which one is active, the puncture log, the hosts and the generations sealed to
 * them. A sync, always inside a write transaction (the vault's write lock serialises it with every
 * other change of every process on every host), makes the provider agree:
 *   1. this host must be an approved host; its key file keeps only the host key the vault lists;
 *   2. if the log is not the one this host applied — a new log id (a restore), or a log whose
 *      chain at this host's position differs (a rolled-back copy grown again) — the host first
 *      writes every point punctured in its own root into the log (under a new id, if the fork was
 *      not announced), so that nothing it erased comes back on any host;
 *   3. generations sealed to it are accepted (checked against the vault's check value), their
 *      sealed copies deleted, and the host key replaced (forward secrecy: a backup still holding
 *      a sealed copy no longer meets a key that opens it);
 *   4. punctures it has not applied yet are applied to every generation it holds;
 *   5. generations the vault destroyed or never committed are destroyed; one that differs from the
 *      vault's generation of the same number (its check value) is not used — and refused if active;
 *   6. the host's row records what it holds and how far it applied the log.
 * It runs when a vault opens, after every erasure (shred, retention sweep) commits, and on a
 * timer while the vault is open, so every host applies a puncture within one sync period.
 * Subjects whose slot turns out punctured while the metadata still lists them (erased in a
 * timeline a restore lost) are returned, for the caller to shred again.
 */
import { recordEvent } from "../audit/record.js";
import { encodeFields, toHex } from "../crypto/bytes.js";
import { hostKeyFingerprint } from "../crypto/host-seal.js";
import { VaultError } from "../errors.js";
import { MAX_SLOTS } from "../keys/points.js";
import {
  appendPunctures,
  chainAt,
  latestPunctureSeq,
  newLogId,
  PUNCTURE_LOG_META,
  punctureLogId,
} from "../keys/puncture-log.js";
import type { GenerationDistribution, LogPosition } from "../keys/provider.js";
import type { MetaDb } from "../store/meta/index.js";
import type { VaultDeps } from "./deps.js";

export { latestPunctureSeq, PUNCTURE_LOG_META, punctureLogId } from "../keys/puncture-log.js";

type Deps = Pick<VaultDeps, "meta" | "tree" | "provider" | "actor" | "now">;

/** Set when a host noticed that the metadata was rolled back: normal opens refuse until `restore`. */
export const RESTORE_MARKER_META = "restore_required";

export interface SyncReport {
  readonly hostId: string;
  readonly punctureLog: string;
  readonly appliedSeq: number;
  readonly puncturesApplied: number;
  readonly generationsReceived: readonly number[];
  readonly generationsDestroyed: readonly number[];
  /** Points this host wrote into the log because the log did not have them (after a restore). */
  readonly pointsRelogged: number;
  /** Subjects still listed whose slot is punctured: erased in a lost timeline; shred them. */
  readonly erasedSubjects: readonly string[];
  /** Generations sealed to this host that it could not accept (left in place, retried). */
  readonly problems: readonly string[];
}

/** Context bound into a generation sealed to a host: the recipient's id. */
export function distributionContext(hostId: string): Uint8Array {
  return encodeFields(["voxvault/host", hostId]);
}

/** Generations not destroyed yet (a puncture or a host's copy still matters for them), ascending. */
export async function liveGenerations(db: MetaDb): Promise<number[]> {
  return (
    await db
      .selectFrom("root_generations")
      .select("generation")
      .where("status", "!=", "destroyed")
      .orderBy("generation")
      .execute()
  ).map((r) => r.generation);
}

/** Seals one root generation to an approved host (it accepts it at its next sync). */
export async function sealToHost(
  trx: MetaDb,
  dist: GenerationDistribution,
  host: { readonly id: string; readonly public_key: Uint8Array },
  generation: number,
  throughSeq: number,
  at: string,
): Promise<void> {
  const sealed = await dist.seal(generation, host.public_key, distributionContext(host.id));
  await trx
    .insertInto("key_distributions")
    .values({
      host_id: host.id,
      generation,
      sealed: Buffer.from(sealed),
      through_seq: throughSeq,
      created_at: at,
    })
    .execute();
}

/** The host's position in the current log: a host that applied another log starts over. */
export async function appliedSeqIn(provider: Deps["provider"], log: string): Promise<number> {
  const at = await provider.applied();
  return at.log === log ? at.seq : 0;
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

/** Whether this host's position names a row the log no longer has, or has with another chain. */
export async function logForked(db: MetaDb, at: LogPosition, log: string): Promise<boolean> {
  if (at.log !== log || at.seq === 0) return false;
  const chain = await chainAt(db, at.seq);
  return chain === undefined || (at.chain !== undefined && chain !== at.chain);
}

/** Writes into the log every point punctured in this host's live generations that it lacks. */
async function relogOwnPunctures(deps: Pick<Deps, "provider">, trx: MetaDb, at: string): Promise<number> {
  const live = new Set(await liveGenerations(trx));
  const mine = new Set<number>();
  for (const g of await deps.provider.generations()) {
    if (!live.has(g)) continue;
    for (const p of await deps.provider.puncturedPoints(g, 20_000_000)) mine.add(p);
  }
  if (mine.size === 0) return 0;
  const logged = new Set(
    (await trx.selectFrom("key_punctures").select("point").execute()).map((r) => r.point),
  );
  const missing = [...mine].filter((p) => !logged.has(p)).sort((a, b) => a - b);
  await appendPunctures(trx, missing, "relogged", at);
  return missing.length;
}

/** Listed subjects whose slot is among `points` (punctured here): erased elsewhere or in a lost timeline. */
async function listedButErased(trx: MetaDb, points: readonly number[]): Promise<string[]> {
  const slots = points.filter((p) => p < MAX_SLOTS);
  const out: string[] = [];
  for (let i = 0; i < slots.length; i += 500) {
    const rows = await trx
      .selectFrom("subjects")
      .select("id")
      .where("status", "!=", "shredded")
      .where("slot", "in", slots.slice(i, i + 500))
      .execute();
    out.push(...rows.map((r) => r.id));
  }
  return out;
}

/**
 * Step 2 of a sync, also run alone (it records no event, so it can run on a metadata copy whose
 * audit log is behind its anchors): when the log is not the one this host applied — rolled back
 * and grown again (a restored copy), or replaced (a restore, or another host's heal) — write every
 * point punctured in this host's root that the log lacks, under a new log id if the fork was not
 * announced, and mark the vault as needing `voxvault restore`.
 */
export async function healFork(deps: Pick<Deps, "provider" | "now">, trx: MetaDb): Promise<number> {
  const provider = deps.provider;
  const position = await provider.applied();
  const log = await punctureLogId(trx);
  const isFork = await logForked(trx, position, log);
  const at = deps.now().toISOString();
  if (isFork) {
    await trx
      .updateTable("vault_meta")
      .set({ value: newLogId() })
      .where("key", "=", PUNCTURE_LOG_META)
      .execute();
    await trx
      .insertInto("vault_meta")
      .values({ key: RESTORE_MARKER_META, value: JSON.stringify({ detectedBy: provider.hostId, at }) })
      .onConflict((oc) => oc.column("key").doNothing())
      .execute();
  }
  if (!isFork && (position.log === "" || position.log === log)) return 0;
  return relogOwnPunctures(deps, trx, at);
}

export async function syncRoot(deps: Deps, trx: MetaDb): Promise<SyncReport> {
  const provider = deps.provider;
  await provider.refresh();
  const hostId = provider.hostId;
  const host = await trx.selectFrom("key_hosts").selectAll().where("id", "=", hostId).executeTakeFirst();
  checkHostStatus(host, hostId);
  const dist = provider.distribution;
  // 1. the host key the vault lists is the only one kept (a rotation that did not commit is undone)
  if (dist) await dist.settleHostKey(host!.public_key);
  const at = deps.now().toISOString();

  // 2. a log this host did not apply: first make sure nothing it erased is missing from it
  const relogged = await healFork(deps, trx);
  const log = await punctureLogId(trx);

  // 3. generations sealed to this host
  const received: number[] = [];
  const problems: string[] = [];
  const checks = new Map(
    (await trx.selectFrom("root_generations").select(["generation", "check_value"]).execute()).map((r) => [
      r.generation,
      r.check_value,
    ]),
  );
  const sealed = await trx
    .selectFrom("key_distributions")
    .selectAll()
    .where("host_id", "=", hostId)
    .execute();
  for (const d of sealed) {
    if (!dist)
      throw new VaultError("INTERNAL", "a generation was sealed to a provider that cannot accept it");
    const through = { log, seq: d.through_seq, chain: await chainAt(trx, d.through_seq) };
    try {
      await dist.accept(
        d.generation,
        d.sealed,
        distributionContext(hostId),
        through,
        checks.get(d.generation) ?? undefined,
      );
    } catch (e) {
      problems.push(`generation ${d.generation}: ${(e as Error).message}`);
      continue;
    }
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
  if (received.length > 0 && dist) {
    const pub = await dist.rotateHostKey(); // the old key goes at the next settle, once this commits
    await trx
      .updateTable("key_hosts")
      .set({ public_key: Buffer.from(pub) })
      .where("id", "=", hostId)
      .execute();
    await recordEvent(trx, deps.actor, {
      type: "keys.host_key_rotated",
      hostId,
      fingerprint: hostKeyFingerprint(pub),
    });
  }

  // 4. punctures (a host that applied another log re-applies this one from the start: idempotent)
  const fromSeq = await appliedSeqIn(provider, log);
  const pending = await trx
    .selectFrom("key_punctures")
    .select(["seq", "point", "chain"])
    .where("seq", ">", fromSeq)
    .orderBy("seq")
    .execute();
  let appliedSeq = fromSeq;
  let erased: string[] = [];
  if (pending.length > 0) {
    const last = pending[pending.length - 1]!;
    appliedSeq = last.seq;
    const points = pending.map((p) => p.point);
    await provider.puncture(points, { log, seq: appliedSeq, chain: toHex(last.chain) });
    await recordEvent(trx, deps.actor, {
      type: "keys.punctures_applied",
      hostId,
      fromSeq,
      throughSeq: appliedSeq,
    });
    erased = await listedButErased(trx, points);
  }

  // 5. generations destroyed by the vault or never committed go; one that differs from the vault's
  //    generation of that number is not used (only a generation sealed to this host replaces it)
  const rows = await trx
    .selectFrom("root_generations")
    .select(["generation", "status", "check_value"])
    .execute();
  const byNumber = new Map(rows.map((r) => [r.generation, r]));
  const destroyed: number[] = [];
  const foreign: number[] = [];
  for (const g of await provider.generations()) {
    const r = byNumber.get(g);
    if (r === undefined || r.status === "destroyed") {
      await provider.destroyGeneration(g);
      destroyed.push(g);
    } else if (
      r.check_value &&
      !Buffer.from(await provider.checkValue(g)).equals(Buffer.from(r.check_value))
    ) {
      foreign.push(g);
    }
  }
  const held = (await provider.generations()).filter((g) => !foreign.includes(g));
  const active = await deps.tree.activeGeneration(trx);
  if (foreign.includes(active)) {
    throw new VaultError(
      "ROOT_KEY_MISMATCH",
      `root generation ${active} in ${provider.location} is not this vault's generation ${active}`,
    );
  }
  if (!held.includes(active)) {
    throw new VaultError(
      "ROOT_KEY_MISSING",
      `root generation ${active}, which this vault uses, is not in ${provider.location}` +
        (problems.length ? ` (${problems.join("; ")})` : ""),
    );
  }

  // 6. what this host holds
  await trx
    .updateTable("key_hosts")
    .set({ applied_seq: appliedSeq, generations: JSON.stringify(held), last_seen: at })
    .where("id", "=", hostId)
    .execute();
  return {
    hostId,
    punctureLog: log,
    appliedSeq,
    puncturesApplied: pending.length,
    generationsReceived: received,
    generationsDestroyed: destroyed,
    pointsRelogged: relogged,
    erasedSubjects: erased,
    problems,
  };
}

/** Whether a sync has work to do (a cheap read, for the timer). */
export async function syncNeeded(deps: Pick<Deps, "meta" | "provider">): Promise<boolean> {
  const db = deps.meta.db;
  const provider = deps.provider;
  const log = await punctureLogId(db);
  const position = await provider.applied();
  if (await logForked(db, position, log)) return true;
  if ((await latestPunctureSeq(db)) > (await appliedSeqIn(provider, log))) return true;
  const dist = await db
    .selectFrom("key_distributions")
    .select("generation")
    .where("host_id", "=", provider.hostId)
    .executeTakeFirst();
  if (dist) return true;
  const live = new Set(await liveGenerations(db));
  return (await provider.generations()).some((g) => !live.has(g));
}
