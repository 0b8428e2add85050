/**
 * Request rate limits, shared by every server of a vault. Each bucket (a rate class and a token
 * id, or a class and a client address) is one row of the metadata store, updated by one atomic
 * statement, so two servers behind a balancer enforce one limit between them, not one each.
 *
 * The algorithm is GCRA, the generic cell rate algorithm (ITU-T I.371; the "virtual scheduling"
 * form): a bucket is a single number, its theoretical arrival time (TAT). With emission interval
 * T = 60 s / perMinute and burst B, a request at time t is allowed iff max(TAT, t) + T − t ≤ B·T,
 * and then TAT := max(TAT, t) + T. It admits exactly what a token bucket of size B refilled at
 * perMinute admits, but needs no read-modify-write: the check and the update are one
 * `INSERT … ON CONFLICT DO UPDATE … WHERE` (PostgreSQL and SQLite alike).
 *
 * Bucket keys contain client addresses, which are personal data: rows hold only an HMAC of the
 * key under a vault secret, and rows whose TAT has passed (full buckets) are pruned.
 */
import { createHmac } from "node:crypto";
import { sql } from "kysely";
import { isVaultError } from "../errors.js";
import type { MetaDb } from "../store/meta/types.js";
import type { VaultDeps } from "../vault/deps.js";
import { RATE_LIMIT_SECRET } from "../vault/secret-names.js";
import type { RateLimit } from "./http-config.js";

export interface RateLimitService {
  /**
   * Takes one request from the key's bucket: 0 if it is allowed, else the whole seconds (≥ 1)
   * until one would be. Fails (METADATA_UNAVAILABLE) when the store does not answer: a limit
   * that cannot be checked is not waived. `atMs` is the time of the request (default: the
   * vault's clock); servers of one vault need clocks kept in step (NTP), as for token expiry.
   */
  take(key: string, limit: RateLimit, atMs?: number, options?: TakeOptions): Promise<number>;
}

export interface TakeOptions {
  /**
   * What to do when the store does not answer: `refuse` (the default: fail with
   * METADATA_UNAVAILABLE) or `local`, limit in this process alone, for routes that must answer
   * without the database (liveness).
   */
  readonly whenUnavailable?: "refuse" | "local";
}

type Deps = Pick<VaultDeps, "meta" | "tree" | "now">;

/** Refusals remembered in this process, so a flood is refused without a database round trip. */
const MAX_REMEMBERED = 100_000;
/** How often a process prunes full buckets from the store. */
const PRUNE_EVERY_MS = 60_000;
/** How long a process uses the bucket-naming key before it reads it again. */
const SECRET_TTL_MS = 300_000;

/** Sets a key in a map bounded to MAX_REMEMBERED keys, the least recently set going first. */
function setBounded<V>(map: Map<string, V>, key: string, value: V): void {
  if (map.size >= MAX_REMEMBERED && !map.has(key)) {
    // Forget the oldest tenth rather than everything: a flood of fresh keys must not lift the
    // limits of everyone else.
    let n = Math.ceil(MAX_REMEMBERED / 10);
    for (const k of map.keys()) {
      if (n-- <= 0) break;
      map.delete(k);
    }
  }
  map.delete(key);
  map.set(key, value);
}

/** Seconds (≥ 1) from now until a time, both in µs. */
const secondsUntil = (untilUs: number, nowUs: number) => Math.max(1, Math.ceil((untilUs - nowUs) / 1e6));

export function createRateLimitService(deps: Deps): RateLimitService {
  let secret: Promise<Uint8Array> | undefined;
  // key → time (µs) before which the key is refused. Sound to answer from: other servers only
  // ever move a bucket's TAT later, never earlier, so a refusal holds until its time has passed.
  const refusedUntil = new Map<string, number>();
  // GCRA in this process alone, for `whenUnavailable: "local"` while the store is away.
  const localTat = new Map<string, number>();
  let prunedAt = 0;
  // Buckets are worth no fsync: after a power cut they restart full, which is what a restart does.
  const unsynced = <T>(fn: (db: MetaDb) => Promise<T>): Promise<T> =>
    deps.meta.unsynced ? deps.meta.unsynced(fn) : fn(deps.meta.db);

  // Re-read now and then: a root rotation replaces the key (src/vault/rotation.ts), and every
  // server must name buckets with the same one.
  let secretAt = -Infinity;
  function macKey(nowMs: number): Promise<Uint8Array> {
    if (nowMs - secretAt > SECRET_TTL_MS) secret = undefined;
    if (!secret) {
      secretAt = nowMs;
      secret = deps.meta
        .write((trx) => deps.tree.secretOrCreate(trx, RATE_LIMIT_SECRET))
        .then((s) => s.value)
        .catch((e: unknown) => {
          secret = undefined; // try again on the next request
          throw e;
        });
    }
    return secret;
  }

  async function prune(nowUs: number): Promise<void> {
    prunedAt = nowUs;
    for (const [k, until] of refusedUntil) if (until <= nowUs) refusedUntil.delete(k);
    for (const [k, tat] of localTat) if (tat <= nowUs) localTat.delete(k);
    await unsynced((db) => db.deleteFrom("rate_limits").where("tat_us", "<", nowUs).execute());
  }

  return {
    async take(key, limit, atMs = deps.now().getTime(), options = {}) {
      const nowUs = Math.trunc(atMs * 1000);
      const known = refusedUntil.get(key);
      if (known !== undefined && known > nowUs) return secondsUntil(known, nowUs);
      // T rounded up: the limit is never looser than configured.
      const intervalUs = Math.ceil(60_000_000 / limit.perMinute);
      const toleranceUs = intervalUs * limit.burst;
      try {
        const mac = createHmac("sha256", await macKey(nowUs / 1000))
          .update(key)
          .digest()
          .subarray(0, 16);
        const now = sql<number>`CAST(${nowUs} AS BIGINT)`;
        const start = sql<number>`CASE WHEN rate_limits.tat_us > ${now} THEN rate_limits.tat_us ELSE ${now} END`;
        const allowed = await unsynced((db) =>
          db
            .insertInto("rate_limits")
            .values({ key_mac: mac, tat_us: nowUs + intervalUs })
            .onConflict((oc) =>
              oc
                .column("key_mac")
                .doUpdateSet({ tat_us: sql<number>`${start} + CAST(${intervalUs} AS BIGINT)` })
                .where(
                  sql<boolean>`${start} + CAST(${intervalUs} AS BIGINT) - ${now} <= CAST(${toleranceUs} AS BIGINT)`,
                ),
            )
            .returning("tat_us")
            .executeTakeFirst(),
        );
        if (nowUs - prunedAt >= PRUNE_EVERY_MS * 1000) await prune(nowUs);
        if (allowed) return 0;
        const row = await deps.meta.db
          .selectFrom("rate_limits")
          .select("tat_us")
          .where("key_mac", "=", mac)
          .executeTakeFirst();
        // Allowed again once max(TAT, t) + T − t ≤ B·T, i.e. at t = TAT + T − B·T.
        const untilUs = (row?.tat_us ?? nowUs) + intervalUs - toleranceUs;
        // Cannot happen unless another server's clock runs ahead and pruned the row: refuse briefly.
        if (untilUs <= nowUs) return 1;
        setBounded(refusedUntil, key, untilUs);
        return secondsUntil(untilUs, nowUs);
      } catch (e) {
        const err = deps.meta.translateError(e);
        if (options.whenUnavailable !== "local" || !isVaultError(err, "METADATA_UNAVAILABLE")) throw err;
        const start = Math.max(localTat.get(key) ?? nowUs, nowUs);
        if (start + intervalUs - nowUs > toleranceUs)
          return secondsUntil(start + intervalUs - toleranceUs, nowUs);
        setBounded(localTat, key, start + intervalUs);
        return 0;
      }
    },
  };
}
