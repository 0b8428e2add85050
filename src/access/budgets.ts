/**
 * Egress budgets: bytes and items per principal and purpose over a sliding window. A charge is
 * checked and recorded inside the vault's single-writer transaction, so concurrent requests can
 * never together exceed the budget (no overshoot). A refusal carries the time until enough of
 * the window's usage expires for the same request to fit.
 */
import type { MetaDb } from "../store/meta/index.js";
import { parseDuration } from "../vault/duration.js";
import type { Budget, ResolvedAccess } from "./config.js";

export type ChargeOutcome =
  | { readonly ok: true; readonly usedBytes: number; readonly usedItems: number; readonly budget: Budget }
  | { readonly ok: false; readonly retryAfterSec: number; readonly budget: Budget };

export function budgetFor(access: ResolvedAccess, purpose: string): Budget {
  return access.budgets.purposes[purpose] ?? access.budgets.default;
}

interface UsageRow {
  readonly at_ms: number;
  readonly bytes: number;
  readonly items: number;
}

async function usage(db: MetaDb, principalId: string, purpose: string, since: number): Promise<UsageRow[]> {
  return db
    .selectFrom("egress_usage")
    .select(["at_ms", "bytes", "items"])
    .where("principal_id", "=", principalId)
    .where("purpose", "=", purpose)
    .where("at_ms", ">", since)
    .orderBy("at_ms")
    .execute();
}

/** Whether `bytes` and `items` fit next to the window's usage; if not, when they will. */
function assess(
  rows: readonly UsageRow[],
  budget: Budget,
  windowMs: number,
  bytes: number,
  items: number,
  nowMs: number,
): ChargeOutcome {
  let usedBytes = 0;
  let usedItems = 0;
  for (const r of rows) {
    usedBytes += r.bytes;
    usedItems += r.items;
  }
  if (usedBytes + bytes <= budget.maxBytes && usedItems + items <= budget.maxItems) {
    return { ok: true, usedBytes: usedBytes + bytes, usedItems: usedItems + items, budget };
  }
  if (bytes > budget.maxBytes || items > budget.maxItems)
    return { ok: false, retryAfterSec: Math.ceil(windowMs / 1000), budget };
  let freedBytes = 0;
  let freedItems = 0;
  let retryAt = nowMs + windowMs;
  for (const r of rows) {
    freedBytes += r.bytes;
    freedItems += r.items;
    if (
      usedBytes - freedBytes + bytes <= budget.maxBytes &&
      usedItems - freedItems + items <= budget.maxItems
    ) {
      retryAt = r.at_ms + windowMs;
      break;
    }
  }
  return { ok: false, retryAfterSec: Math.max(1, Math.ceil((retryAt - nowMs) / 1000)), budget };
}

/**
 * Whether a request of `bytes` and `items` would fit now, without charging (the authorization
 * context's `budgetOk`; the charge itself is `charge`, inside the write transaction).
 */
export async function peek(
  db: MetaDb,
  access: ResolvedAccess,
  principalId: string,
  purpose: string,
  bytes: number,
  items: number,
  nowMs: number,
): Promise<ChargeOutcome> {
  const budget = budgetFor(access, purpose);
  const windowMs = parseDuration(budget.window);
  return assess(
    await usage(db, principalId, purpose, nowMs - windowMs),
    budget,
    windowMs,
    bytes,
    items,
    nowMs,
  );
}

export async function charge(
  trx: MetaDb,
  access: ResolvedAccess,
  principalId: string,
  purpose: string,
  bytes: number,
  items: number,
  nowMs: number,
): Promise<ChargeOutcome> {
  const budget = budgetFor(access, purpose);
  const windowMs = parseDuration(budget.window);
  const outcome = assess(
    await usage(trx, principalId, purpose, nowMs - windowMs),
    budget,
    windowMs,
    bytes,
    items,
    nowMs,
  );
  if (!outcome.ok) return outcome;
  await trx
    .insertInto("egress_usage")
    .values({ principal_id: principalId, purpose, at_ms: nowMs, bytes, items })
    .execute();
  // Rows older than two windows can never matter again.
  await trx
    .deleteFrom("egress_usage")
    .where("principal_id", "=", principalId)
    .where("purpose", "=", purpose)
    .where("at_ms", "<", nowMs - 2 * windowMs)
    .execute();
  return outcome;
}
