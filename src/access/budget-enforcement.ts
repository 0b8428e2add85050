/**
 * Egress-budget enforcement for consumers. Whether the budget is found used up before the
 * decision (Cedar's `budgetOk`, through `refuse`) or by the charge inside the write transaction,
 * the caller sees the same refusal: a `budget.exceeded` event, BUDGET_EXCEEDED with Retry-After
 * (429 over HTTP), and a strike towards the token's suspension (config
 * `budgets.suspendAfterExceedances` refusals within one budget window).
 */
import { recordEvent } from "../audit/record.js";
import { VaultError } from "../errors.js";
import type { MetaDb } from "../store/meta/index.js";
import type { VaultDeps } from "../vault/deps.js";
import { parseDuration } from "../vault/duration.js";
import { charge, peek, type ChargeOutcome } from "./budgets.js";
import type { ResolvedAccess } from "./config.js";
import type { TokenService } from "./tokens.js";
import type { Requester } from "./serving.js";

export type BudgetRefusal = Extract<ChargeOutcome, { ok: false }>;

type Deps = Pick<VaultDeps, "meta" | "actor" | "now"> & {
  readonly access: ResolvedAccess;
  readonly tokens: Pick<TokenService, "revoke">;
  /**
   * Refusal times per token. One map per open vault (shared by its actor-bound views); several
   * processes each count their own refusals.
   */
  readonly strikes: Map<string, number[]>;
};

export function createBudgetEnforcer(deps: Deps) {
  async function budgetEvent(trx: MetaDb, who: Requester, purpose: string, r: BudgetRefusal): Promise<void> {
    await recordEvent(trx, deps.actor, {
      type: "budget.exceeded",
      principalId: who.principal.id,
      purpose,
      window: r.budget.window,
      retryAfterSec: r.retryAfterSec,
    });
  }

  async function strikeAndThrow(who: Requester, purpose: string, r: BudgetRefusal): Promise<never> {
    const limit = deps.access.budgets.suspendAfterExceedances;
    if (limit > 0) {
      const now = deps.now().getTime();
      const since = now - parseDuration(r.budget.window);
      const recent = [...(deps.strikes.get(who.tokenId) ?? []).filter((t) => t > since), now];
      deps.strikes.set(who.tokenId, recent);
      if (recent.length >= limit) {
        await deps.tokens.revoke(who.tokenId, `suspended after ${recent.length} budget refusals`, true);
        deps.strikes.delete(who.tokenId);
      }
    }
    throw new VaultError("BUDGET_EXCEEDED", `egress budget for ${purpose} used up`, {
      details: { retryAfterSec: r.retryAfterSec },
    });
  }

  return {
    /** Room left right now for one more item, without charging (the decision's `budgetOk`). */
    room(principalId: string, purpose: string): Promise<ChargeOutcome> {
      return peek(deps.meta.db, deps.access, principalId, purpose, 1, 1, deps.now().getTime());
    },

    /** A refusal found before the decision (no room left at all): record it and refuse. */
    async refuse(who: Requester, purpose: string, r: BudgetRefusal): Promise<never> {
      await deps.meta.write((trx) => budgetEvent(trx, who, purpose, r));
      return strikeAndThrow(who, purpose, r);
    },

    /** Charges atomically; a refusal records the event, may suspend the token, and throws. */
    async charge(who: Requester, purpose: string, bytes: number, items: number): Promise<void> {
      const outcome = await deps.meta.write(async (trx) => {
        const r = await charge(
          trx,
          deps.access,
          who.principal.id,
          purpose,
          bytes,
          items,
          deps.now().getTime(),
        );
        if (!r.ok) await budgetEvent(trx, who, purpose, r);
        return r;
      });
      if (!outcome.ok) await strikeAndThrow(who, purpose, outcome);
    },
  };
}

export type BudgetEnforcer = ReturnType<typeof createBudgetEnforcer>;
