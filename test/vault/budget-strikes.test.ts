/**
 * Budget refusals count towards a token's suspension across every server and worker of a vault,
 * not per process: the strikes live in the metadata store (src/access/budget-enforcement.ts).
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Requester } from "../../src/access/serving.js";
import type { Vault } from "../../src/platform/vault.js";
import { BACKENDS, codeOf, sandbox, type Backend, type Sandbox } from "../support/backends.js";

const ACCESS = {
  budgets: {
    default: { window: "1h", maxBytes: 1000, maxItems: 1 },
    suspendAfterExceedances: 3,
  },
};

async function consumer(v: Vault): Promise<{ token: string; who: Requester }> {
  await v.access.applications.register("strike-app", ["quality-review"]);
  const t = await v.access.tokens.create({
    role: "consumer",
    application: "strike-app",
    purposes: ["quality-review"],
  });
  const auth = await v.access.tokens.authenticate(t.token);
  return { token: t.token, who: { principal: auth.principal, tokenId: auth.token.id } };
}

/** Two servers on one database: PostgreSQL only (SQLite vaults are one host). */
const SHARED = BACKENDS.filter((b) => b.name === "postgres");

/** Vault handles ("servers") over one sandbox whose vault.json sets ACCESS; closed after each test. */
function servers(backend: Backend): { first(): Promise<Vault>; another(): Promise<Vault> } {
  let sb: Sandbox | undefined;
  const open: Vault[] = [];
  afterEach(async () => {
    for (const v of open.splice(0)) await v.close();
    await sb?.cleanup();
  });
  const another = async () => {
    const v = await sb!.open();
    open.push(v);
    return v;
  };
  return {
    async first() {
      sb = sandbox(backend);
      await (await sb.init()).close();
      const file = path.join(sb.dataDir, "vault.json");
      const config = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
      writeFileSync(file, JSON.stringify({ ...config, access: ACCESS }, null, 2));
      return another();
    },
    another,
  };
}

describe.each(BACKENDS)("budget strikes ($name)", (backend) => {
  const world = servers(backend);

  it("suspends after the configured refusals, and counts them in the metadata store", async () => {
    const v = await world.first();
    const { token, who } = await consumer(v);
    const budgets = v.access.serving.budgets;
    await budgets.charge(who, "quality-review", 10, 1);
    expect(await codeOf(budgets.charge(who, "quality-review", 10, 1))).toBe("BUDGET_EXCEEDED");
    expect(await codeOf(budgets.charge(who, "quality-review", 10, 1))).toBe("BUDGET_EXCEEDED");
    expect((await v.access.tokens.authenticate(token)).token.id).toBe(who.tokenId);
    expect(await codeOf(budgets.charge(who, "quality-review", 10, 1))).toBe("BUDGET_EXCEEDED");
    expect(await codeOf(v.access.tokens.authenticate(token))).toBe("UNAUTHENTICATED");
    const events = await v.audit.list({ type: "token.suspended" });
    expect(events.map((e) => (e.event as { tokenId: string }).tokenId)).toEqual([who.tokenId]);
  });
});

describe.each(SHARED)("budget strikes across servers ($name)", (backend) => {
  const world = servers(backend);

  it("suspends a token whose refusals were spread over two servers", async () => {
    const a = await world.first();
    const b = await world.another(); // a second server on the same PostgreSQL schema
    const { token, who } = await consumer(a);
    await a.access.serving.budgets.charge(who, "quality-review", 10, 1);
    expect(await codeOf(a.access.serving.budgets.charge(who, "quality-review", 10, 1))).toBe(
      "BUDGET_EXCEEDED",
    );
    expect(await codeOf(b.access.serving.budgets.charge(who, "quality-review", 10, 1))).toBe(
      "BUDGET_EXCEEDED",
    );
    expect(await codeOf(a.access.serving.budgets.charge(who, "quality-review", 10, 1))).toBe(
      "BUDGET_EXCEEDED",
    );
    // three refusals in all (two here, one there): suspended, on both servers
    expect(await codeOf(a.access.tokens.authenticate(token))).toBe("UNAUTHENTICATED");
    expect(await codeOf(b.access.tokens.authenticate(token))).toBe("UNAUTHENTICATED");
  });
});
