/**
 * Rate limits live in the metadata store (src/access/rate-limits.ts): GCRA in one atomic statement,
 * so that every server of a vault draws from the same bucket. Checked against an exact token
 * bucket, across two servers on one PostgreSQL (sequential and concurrent), and for what the
 * store keeps (keyed hashes only; full buckets pruned; a root rotation empties them).
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RateLimit } from "../../src/access/http-config.js";
import type { Vault } from "../../src/platform/vault.js";
import { BACKENDS, codeOf, sandbox, type Sandbox } from "../support/backends.js";
import { querySql } from "../audit/helpers.js";
import { tcpProxy } from "../support/tcp-proxy.js";

/**
 * The reference: a token bucket in integer µs ("credit", where one request costs T = 60 s /
 * perMinute), so that no rounding hides a difference. Returns 0 or the seconds to wait.
 */
class ReferenceBucket {
  readonly #credit = new Map<string, { credit: number; at: number }>();
  take(key: string, limit: RateLimit, atMs: number): number {
    const t = atMs * 1000;
    const T = Math.ceil(60_000_000 / limit.perMinute);
    const b = this.#credit.get(key) ?? { credit: limit.burst * T, at: t };
    b.credit = Math.min(limit.burst * T, b.credit + (t - b.at));
    b.at = t;
    this.#credit.set(key, b);
    if (b.credit >= T) {
      b.credit -= T;
      return 0;
    }
    return Math.max(1, Math.ceil((T - b.credit) / 1e6));
  }
}

describe.each(BACKENDS)("shared rate limits ($name)", (backend) => {
  let sb: Sandbox;
  let v: Vault;
  beforeAll(async () => {
    sb = sandbox(backend);
    v = await sb.init();
  });
  afterAll(async () => {
    await v.close();
    await sb.cleanup();
  });
  const buckets = () => querySql<{ key_mac: Uint8Array }>(sb, "SELECT key_mac FROM rate_limits");

  it("admits a burst, then refuses with the exact wait, then refills at the configured rate", async () => {
    const limit = { perMinute: 6, burst: 2 }; // one request per 10 s
    const t0 = 1_900_000_000_000;
    const take = (ms: number) => v.access.rateLimits.take("burst-key", limit, t0 + ms);
    expect([await take(0), await take(0)]).toEqual([0, 0]);
    expect(await take(0)).toBe(10);
    expect(await take(4_000)).toBe(6);
    expect(await take(9_999)).toBe(1);
    expect(await take(10_000)).toBe(0);
    expect(await take(10_000)).toBe(10);
    // A long pause refills up to the burst, never beyond it.
    expect([await take(600_000), await take(600_000), await take(600_000)]).toEqual([0, 0, 10]);
  });

  it("decides exactly as a token bucket over random request sequences", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc
          .constantFrom<RateLimit>(
            { perMinute: 1, burst: 1 },
            { perMinute: 7, burst: 3 },
            { perMinute: 60, burst: 5 },
            { perMinute: 600, burst: 2 },
          )
          .chain((limit) => {
            const tMs = 60_000 / limit.perMinute;
            // Pauses of any length, and pauses right at (and 1 ms either side of) a refill.
            const pause = fc.oneof(
              fc.integer({ min: 0, max: 20_000 }),
              fc
                .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: -1, max: 1 }))
                .map(([n, e]) => Math.max(0, Math.round(n * tMs) + e)),
            );
            return fc.tuple(
              fc.constant(limit),
              fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), pause), { minLength: 1, maxLength: 40 }),
            );
          }),
        async ([limit, steps]) => {
          const ref = new ReferenceBucket();
          const prefix = `prop-${run++}-`;
          let at = 2_000_000_000_000 + run * 1e9; // each run in its own stretch of time
          for (const [key, dt] of steps) {
            at += dt;
            const k = `${prefix}${key}`;
            expect(await v.access.rateLimits.take(k, limit, at)).toBe(ref.take(k, limit, at));
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("stores keyed hashes only, and prunes full buckets", async () => {
    const key = "ip:203.0.113.77:public";
    const t = 2_500_000_000_000;
    expect(await v.access.rateLimits.take(key, { perMinute: 1, burst: 1 }, t)).toBe(0);
    const rows = await buckets();
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) {
      expect(r.key_mac).toHaveLength(16);
      expect(Buffer.from(r.key_mac).includes(Buffer.from("203.0.113"))).toBe(false);
    }
    // Two hours later every bucket of this test is full again: the next request prunes them.
    await v.access.rateLimits.take("another", { perMinute: 1, burst: 1 }, t + 7_200_000);
    expect(await buckets()).toHaveLength(1);
  });

  it("starts empty buckets under a new key after a root rotation", async () => {
    const limit = { perMinute: 1, burst: 1 };
    const t = 3_000_000_000_000;
    expect(await v.access.rateLimits.take("rotated", limit, t)).toBe(0);
    expect(await v.access.rateLimits.take("rotated", limit, t)).toBe(60);
    await v.keys.rotateRoot();
    expect(await buckets()).toEqual([]);
    const other = await sb.open(); // a process started after the rotation: the new key
    try {
      expect(await other.access.rateLimits.take("rotated-elsewhere", limit, t)).toBe(0);
      expect(await other.access.rateLimits.take("rotated-elsewhere", limit, t)).toBe(60);
    } finally {
      await other.close();
    }
  });
});

describe.each(BACKENDS.filter((b) => b.name === "postgres"))(
  "rate limits across servers ($name)",
  (backend) => {
    let sb: Sandbox;
    let a: Vault;
    let b: Vault;
    beforeAll(async () => {
      sb = sandbox(backend);
      await (await sb.init()).close();
      a = await sb.open();
      b = await sb.open(); // a second server on the same PostgreSQL schema
    });
    afterAll(async () => {
      await a.close();
      await b.close();
      await sb.cleanup();
    });

    it("two servers draw from one bucket, and each knows the other's refusals", async () => {
      const limit = { perMinute: 60, burst: 4 };
      const t = 4_000_000_000_000;
      const outcomes = [];
      for (let i = 0; i < 6; i++)
        outcomes.push(await (i % 2 ? b : a).access.rateLimits.take("tok:x:read", limit, t));
      expect(outcomes).toEqual([0, 0, 0, 0, 1, 1]);
    });

    it("admits exactly the burst when both servers are hit at once", async () => {
      const limit = { perMinute: 1, burst: 7 };
      const t = 4_100_000_000_000;
      const all = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          (i % 2 ? b : a).access.rateLimits.take("tok:y:upload", limit, t),
        ),
      );
      expect(all.filter((w) => w === 0)).toHaveLength(7);
      expect(all.filter((w) => w > 0).every((w) => w === 60)).toBe(true);
    });

    it("with the database away: refuses to guess, unless asked to limit in this process alone", async () => {
      const target = new URL(backend.pgUrl!);
      const proxy = await tcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
      const c = await sb.open({ postgresUrl: `postgres://postgres@127.0.0.1:${proxy.port}/postgres` });
      try {
        const limit = { perMinute: 1, burst: 2 };
        const t = 4_200_000_000_000;
        expect(await c.access.rateLimits.take("ip:a:public", limit, t)).toBe(0);
        await proxy.down();
        expect(await codeOf(c.access.rateLimits.take("tok:z:read", limit, t))).toBe("METADATA_UNAVAILABLE");
        const local = { whenUnavailable: "local" } as const;
        const outage = [];
        for (let i = 0; i < 3; i++)
          outage.push(await c.access.rateLimits.take("ip:a:public", limit, t, local));
        // This process's own bucket while the store is away (it cannot know the shared one's state).
        expect(outage).toEqual([0, 0, 60]);
        await proxy.up();
        // Back to the shared bucket, which holds the one request taken before the outage.
        expect(await c.access.rateLimits.take("ip:a:public", limit, t, local)).toBe(0);
        expect(await c.access.rateLimits.take("ip:a:public", limit, t, local)).toBe(60);
      } finally {
        await proxy.up();
        await c.close();
        await proxy.close();
      }
    }, 60_000);
  },
);
