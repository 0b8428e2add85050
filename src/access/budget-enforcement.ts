/**
 * Egress-budget enforcement for consumers. Whether the budget is found used up before the
 * decision (Cedar's `budgetOk`, through `refuse`) or by the charge inside the write transaction,
 * the caller sees the same refusal: a `budget.exceeded` event, BUDGET_EXCEEDED with Retry-After
 * (429 over HTTP), and a strike towards the token's suspension (config
 * `budgets.suspendAfterExceedances` refusals within one budget window, counted in the metadata
 * store, so across every server and worker).
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
};

export function createBudgetEnforcer(deps: Deps) {
  // strikes older than the longest budget window count towards nothing: pruned as new ones come
  const longestWindowMs = Math.max(
    ...[deps.access.budgets.default, ...Object.values(deps.access.budgets.purposes)].map((b) =>
      parseDuration(b.window),
    ),
  );

  /**
   * Records the refusal (event and strike, in the metadata store: every server and worker counts
   * the same strikes) and returns the token's strikes within this budget's window.
   */
  async function budgetEvent(
    trx: MetaDb,
    who: Requester,
    purpose: string,
    r: BudgetRefusal,
  ): Promise<number> {
    const now = deps.now().getTime();
    const counting = who.tokenId !== "" && deps.access.budgets.suspendAfterExceedances > 0;
    if (counting) {
      await trx.insertInto("budget_strikes").values({ token_id: who.tokenId, at_ms: now }).execute();
      await trx
        .deleteFrom("budget_strikes")
        .where("at_ms", "<", now - longestWindowMs)
        .execute();
    }
    await recordEvent(trx, deps.actor, {
      type: "budget.exceeded",
      principalId: who.principal.id,
      purpose,
      window: r.budget.window,
      retryAfterSec: r.retryAfterSec,
    });
    if (!counting) return 0;
    const row = await trx
      .selectFrom("budget_strikes")
      .select((eb) => eb.fn.countAll<number | string>().as("n"))
      .where("token_id", "=", who.tokenId)
      .where("at_ms", ">", now - parseDuration(r.budget.window))
      .executeTakeFirstOrThrow();
    return Number(row.n); // PostgreSQL's count is an int8, which drivers may return as text
  }

  async function strikeAndThrow(
    who: Requester,
    purpose: string,
    r: BudgetRefusal,
    strikes: number,
  ): Promise<never> {
    const limit = deps.access.budgets.suspendAfterExceedances;
    if (limit > 0 && strikes >= limit) {
      await deps.tokens.revoke(who.tokenId, `suspended after ${strikes} budget refusals`, true);
      await deps.meta.write((trx) =>
        trx.deleteFrom("budget_strikes").where("token_id", "=", who.tokenId).execute(),
      );
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
      const strikes = await deps.meta.write((trx) => budgetEvent(trx, who, purpose, r));
      return strikeAndThrow(who, purpose, r, strikes);
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
        return r.ok ? { r, strikes: 0 } : { r, strikes: await budgetEvent(trx, who, purpose, r) };
      });
      if (!outcome.r.ok) await strikeAndThrow(who, purpose, outcome.r, outcome.strikes);
    },
  };
}

export type BudgetEnforcer = ReturnType<typeof createBudgetEnforcer>;
