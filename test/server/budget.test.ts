/**
 * Egress budgets over HTTP: a consumer past its budget gets 429 with Retry-After and leaves a
 * `budget.exceeded` event; the window slides; repeated refusals within one window suspend the token;
 * and 50 concurrent clients of one application together get exactly the budget, never more.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AccessConfig } from "../../src/access/config.js";
import { HAVE_AUDIO_TOOLS } from "../support/audio.js";
import { BACKENDS } from "../support/backends.js";
import { call, codeOf, eventsOf, makeWorld, PURPOSES, type Reply, type World } from "./helpers.js";
import { internalsOf } from "../../src/platform/vault.js";

const QUALITY_ITEMS = 10;
const STATS_ITEMS = 25;
const ACCESS: AccessConfig = {
  budgets: {
    default: { window: "1h", maxBytes: 50 * 1024 * 1024, maxItems: 2000 },
    purposes: {
      "quality-review": { window: "1h", maxBytes: 1_000_000, maxItems: QUALITY_ITEMS },
      "research-aggregates": { window: "1h", maxBytes: 1_000_000, maxItems: STATS_ITEMS },
    },
    suspendAfterExceedances: 3,
  },
};

describe.runIf(HAVE_AUDIO_TOOLS).each(BACKENDS)("egress budgets ($name)", (backend) => {
  let w: World;
  let apps = 0;
  beforeAll(async () => {
    w = await makeWorld(backend, { recordings: 1, access: ACCESS });
  });
  afterAll(async () => {
    await w.close();
  });

  /** A new application (its own principal and budget) and `n` tokens for it. */
  async function application(n = 1): Promise<{ principalId: string; tokens: string[] }> {
    const name = `budget-app-${++apps}`;
    await w.vault.access.applications.register(name, [...PURPOSES]);
    const tokens: string[] = [];
    let principalId = "";
    for (let i = 0; i < n; i++) {
      const t = await w.vault.access.tokens.create({
        role: "consumer",
        application: name,
        purposes: [...PURPOSES],
        // Long-lived: these tests move the clock by hours.
        ttlMs: 7 * 86_400_000,
      });
      tokens.push(t.token);
      principalId = t.info.principalId;
    }
    return { principalId, tokens };
  }
  const readQuality = (token: string): Promise<Reply> =>
    call(w.app, { method: "GET", url: `/v1/derivations/${w.s1.drv.quality!}?purpose=quality-review`, token });
  const readStats = (token: string): Promise<Reply> =>
    call(w.app, {
      method: "GET",
      url: `/v1/derivations/${w.s1.drv["voice-stats"]!}?purpose=research-aggregates`,
      token,
    });

  async function used(principalId: string, purpose: string): Promise<{ items: number; bytes: number }> {
    const since = w.clock.now().getTime() - 3_600_000;
    const rows = await internalsOf(w.vault)
      .meta.db.selectFrom("egress_usage")
      .select(["items", "bytes"])
      .where("principal_id", "=", principalId)
      .where("purpose", "=", purpose)
      .where("at_ms", ">", since)
      .execute();
    return { items: rows.reduce((n, r) => n + r.items, 0), bytes: rows.reduce((n, r) => n + r.bytes, 0) };
  }

  it("refuses with 429, Retry-After and a budget.exceeded event, and lets the window slide", async () => {
    const { principalId, tokens } = await application(2);
    const [t, other] = tokens as [string, string];
    for (let i = 0; i < QUALITY_ITEMS; i++) {
      const r = await readQuality(t);
      expect(r.status, `read ${i + 1}: ${r.text}`).toBe(200);
      w.clock.advance(60_000);
    }
    const deniedBefore = (await eventsOf(w.vault, "access.denied")).length;
    const over = await readQuality(t);
    expect([over.status, codeOf(over)]).toEqual([429, "BUDGET_EXCEEDED"]);
    // The oldest of the ten charges (600 s ago) leaves the one-hour window in 3000 s.
    const retry = Number(over.headers["retry-after"]);
    expect(retry).toBeGreaterThanOrEqual(2995);
    expect(retry).toBeLessThanOrEqual(3000);
    const events = (await eventsOf(w.vault, "budget.exceeded")).filter((e) => e.principalId === principalId);
    expect(events).toEqual([
      { type: "budget.exceeded", principalId, purpose: "quality-review", window: "1h", retryAfterSec: retry },
    ]);
    expect((await eventsOf(w.vault, "access.denied")).length).toBe(deniedBefore);
    // The budget is the application's: its other token and its dataset pulls are refused too.
    expect((await readQuality(other)).status).toBe(429);
    const pull = await call(w.app, { method: "GET", url: "/v1/datasets/quality-review", token: other });
    expect([pull.status, codeOf(pull)]).toEqual([429, "BUDGET_EXCEEDED"]);
    // Other purposes have their own budgets.
    expect((await readStats(t)).status).toBe(200);
    expect(await used(principalId, "quality-review")).toMatchObject({ items: QUALITY_ITEMS });
    // After Retry-After one slot is free again, and only one.
    w.clock.advance(retry * 1000);
    expect((await readQuality(t)).status).toBe(200);
    expect((await readQuality(t)).status).toBe(429);
    w.clock.advance(3_600_000);
  });

  it("suspends a token after repeated refusals within one budget window", async () => {
    const { tokens } = await application(2);
    const [t, sibling] = tokens as [string, string];
    for (let i = 0; i < QUALITY_ITEMS; i++) expect((await readQuality(t)).status).toBe(200);
    expect((await readQuality(t)).status).toBe(429);
    expect((await readQuality(t)).status).toBe(429);
    const third = await readQuality(t);
    expect([third.status, codeOf(third)]).toEqual([429, "BUDGET_EXCEEDED"]);
    const gone = await readQuality(t);
    expect([gone.status, codeOf(gone)]).toEqual([401, "UNAUTHENTICATED"]);
    const tokenId = `tok_${t.slice(4, 30)}`;
    const suspended = (await eventsOf(w.vault, "token.suspended")).filter((e) => e.tokenId === tokenId);
    expect(suspended).toHaveLength(1);
    expect(suspended[0]!.reason).toMatch(/3 budget refusals/);
    // Suspension is of the token that kept pushing; the application's other token lives on.
    expect((await readQuality(sibling)).status).toBe(429);
    expect((await readStats(sibling)).status).toBe(200);
    w.clock.advance(3_600_000);
  });

  it("counts only refusals within one window towards suspension", async () => {
    const { tokens } = await application(1);
    const t = tokens[0]!;
    for (let i = 0; i < QUALITY_ITEMS; i++) expect((await readQuality(t)).status).toBe(200);
    expect((await readQuality(t)).status).toBe(429);
    expect((await readQuality(t)).status).toBe(429);
    w.clock.advance(3_601_000);
    for (let i = 0; i < QUALITY_ITEMS; i++) expect((await readQuality(t)).status).toBe(200);
    expect((await readQuality(t)).status).toBe(429);
    expect((await readQuality(t)).status).toBe(429);
    // Two refusals in this window (the earlier two expired): still a live token.
    expect((await readStats(t)).status).toBe(200);
    w.clock.advance(3_600_000);
  });

  it("gives 50 concurrent clients of one application exactly the budget, never more", async () => {
    const { principalId, tokens } = await application(50);
    const replies = await Promise.all(tokens.flatMap((t) => [readStats(t), readStats(t)]));
    const ok = replies.filter((r) => r.status === 200);
    const refused = replies.filter((r) => r.status === 429);
    expect(ok.length).toBe(STATS_ITEMS);
    expect(refused.length).toBe(replies.length - STATS_ITEMS);
    for (const r of refused) {
      expect(codeOf(r)).toBe("BUDGET_EXCEEDED");
      expect(Number(r.headers["retry-after"])).toBeGreaterThan(0);
    }
    const size = ok[0]!.raw.length;
    expect(await used(principalId, "research-aggregates")).toEqual({
      items: STATS_ITEMS,
      bytes: STATS_ITEMS * size,
    });
    const served = (await eventsOf(w.vault, "derivation.served")).filter(
      (e) => e.purpose === "research-aggregates" && e.derivationId === w.s1.drv["voice-stats"],
    );
    expect(served.length).toBeGreaterThanOrEqual(STATS_ITEMS);
  });
});
