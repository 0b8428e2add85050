/**
 * Egress-budget enforcement for consumers over HTTP. Whether the budget is found used up before
 * the decision (Cedar's `budgetOk`) or by the charge inside the write transaction, the caller sees
 * the same refusal: a `budget.exceeded` event, 429 with Retry-After, and a strike towards the
 * token's suspension (config `budgets.suspendAfterExceedances` refusals within one budget window).
 */
import { charge, type ChargeOutcome } from "../access/budgets.js";
import type { Authenticated } from "../access/tokens.js";
import { recordEvent } from "../audit/record.js";
import { VaultError } from "../errors.js";
import type { MetaDb } from "../store/meta/index.js";
import { parseDuration } from "../vault/duration.js";
import type { Vault } from "../platform/vault.js";

type Refusal = Extract<ChargeOutcome, { ok: false }>;

/** Refusal times per token (in memory: one server's view, like the rate limiter). */
const strikes = new Map<string, number[]>();

async function budgetEvent(
  trx: MetaDb,
  vault: Vault,
  auth: Authenticated,
  purpose: string,
  r: Refusal,
): Promise<void> {
  await recordEvent(trx, vault.actor, {
    type: "budget.exceeded",
    principalId: auth.principal.id,
    purpose,
    window: r.budget.window,
    retryAfterSec: r.retryAfterSec,
  });
}

async function refuse(vault: Vault, auth: Authenticated, purpose: string, r: Refusal): Promise<never> {
  const limit = vault.access.config.budgets.suspendAfterExceedances;
  if (limit > 0) {
    const now = vault.internals.now().getTime();
    const since = now - parseDuration(r.budget.window);
    const recent = [...(strikes.get(auth.token.id) ?? []).filter((t) => t > since), now];
    strikes.set(auth.token.id, recent);
    if (recent.length >= limit) {
      await vault.access.tokens.revoke(
        auth.token.id,
        `suspended after ${recent.length} budget refusals`,
        true,
      );
      strikes.delete(auth.token.id);
    }
  }
  throw new VaultError("BUDGET_EXCEEDED", `egress budget for ${purpose} used up`, {
    details: { retryAfterSec: r.retryAfterSec },
  });
}

/** A refusal found before the decision (no room left at all): record it and refuse. */
export async function refuseOverBudget(
  vault: Vault,
  auth: Authenticated,
  purpose: string,
  r: Refusal,
): Promise<never> {
  await vault.internals.meta.write((trx) => budgetEvent(trx, vault, auth, purpose, r));
  return refuse(vault, auth, purpose, r);
}

/** Charges a consumer's budget atomically; a refusal records the event, may suspend, and throws 429. */
export async function chargeOrRefuse(
  vault: Vault,
  auth: Authenticated,
  purpose: string,
  bytes: number,
  items: number,
): Promise<void> {
  if (auth.principal.role !== "consumer") return;
  const cfg = vault.access.config;
  const outcome = await vault.internals.meta.write(async (trx) => {
    const r = await charge(
      trx,
      cfg,
      auth.principal.id,
      purpose,
      bytes,
      items,
      vault.internals.now().getTime(),
    );
    if (!r.ok) await budgetEvent(trx, vault, auth, purpose, r);
    return r;
  });
  if (!outcome.ok) await refuse(vault, auth, purpose, outcome);
}
