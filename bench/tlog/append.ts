/**
 * Durable audit-log appends per second through the real path: `recordEvent` inside the vault's
 * write transaction (BEGIN IMMEDIATE / advisory lock), leaf appended to the SQL tile store, size
 * and root recorded, COMMIT durable (SQLite WAL with synchronous=FULL; PostgreSQL with
 * synchronous_commit=on). Events per transaction vary from 1 (one event per state change, the
 * vault's normal case) to 1,000 ("batched commits", as Tessera batches).
 *
 * Reference measured in the same run: the same transactions inserting the same audit rows
 * without the log (what the vault did before the transparency log).
 *
 * Run: node scripts/bench.mjs bench/tlog/append.ts   (PostgreSQL when VOXVAULT_BENCH_PG_URL or
 * VOXVAULT_TEST_PG_URL is set).
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { canonicalJson } from "../../src/crypto/jcs.js";
import { attachLog } from "../../src/audit/open.js";
import { recordEvent } from "../../src/audit/record.js";
import { newId } from "../../src/ids.js";
import { KeyCache } from "../../src/keys/cache.js";
import { FileKeyProvider } from "../../src/keys/file-provider.js";
import { KeyTree } from "../../src/keys/tree.js";
import {
  connectMetadata,
  createSchema,
  type DialectDriver,
  type MetadataConfig,
} from "../../src/store/meta/index.js";
import { machineLine } from "../machine.js";

const PG_URL = process.env.VOXVAULT_BENCH_PG_URL ?? process.env.VOXVAULT_TEST_PG_URL;
const ACTOR = { type: "cli", id: "uid:1000" } as const;

interface Setup {
  readonly raw: DialectDriver;
  readonly logged: DialectDriver;
  close(): Promise<void>;
}

async function setup(backend: "sqlite" | "postgres", root: string, tag: string): Promise<Setup> {
  const vaultId = newId("vlt");
  const dataDir = path.join(root, `${backend}-${tag}`);
  const keyFile = path.join(root, `${backend}-${tag}.key.json`);
  const schema = `bench_${vaultId.slice(4, 16)}`;
  const { mkdirSync } = await import("node:fs");
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const config: MetadataConfig =
    backend === "sqlite"
      ? { driver: "sqlite", file: path.join(dataDir, "meta.sqlite") }
      : { driver: "postgres", url: PG_URL!, schema };
  const provider = await FileKeyProvider.create({ file: keyFile, vaultId, generations: [1] });
  const raw = connectMetadata(config);
  await createSchema(raw, config);
  const tree = new KeyTree(vaultId, provider, new KeyCache({ maxEntries: 10_000, ttlMs: 300_000 }));
  await raw.write((trx) => tree.init(trx, new Date().toISOString()));
  const logged = attachLog(raw, { vaultId, tree, dataDir, keyFile });
  return {
    raw,
    logged,
    async close() {
      if (backend === "postgres") {
        const { sql } = await import("kysely");
        await sql`DROP SCHEMA ${sql.id(schema)} CASCADE`.execute(raw.db);
      }
      await raw.close();
      await provider.close();
    },
  };
}

function event(i: number) {
  return {
    type: "blob.read" as const,
    subjectId: "sub_0000000000000000000000000a",
    blobId: "blb_0000000000000000000000000b",
    kind: "raw",
    start: 0,
    end: i,
  };
}

/** Seconds per transaction for each of several transaction kinds, measured in alternation. */
async function alternate(kinds: readonly (() => Promise<void>)[], seconds: number): Promise<number[]> {
  for (const k of kinds) for (let i = 0; i < 3; i++) await k(); // warm-up
  const total = kinds.map(() => 0);
  const count = kinds.map(() => 0);
  const end = Date.now() + seconds * 1000;
  // Short alternating rounds, so that both kinds see the same disk and CPU contention.
  while (Date.now() < end) {
    for (const [j, k] of kinds.entries()) {
      for (let i = 0; i < 5; i++) {
        const t = process.hrtime.bigint();
        await k();
        total[j]! += Number(process.hrtime.bigint() - t) / 1e9;
        count[j]!++;
      }
    }
  }
  return total.map((t, j) => t / count[j]!);
}

const fmtRate = (x: number) => Math.round(x).toLocaleString("en-US");
const fmtMs = (s: number) => `${(s * 1000).toFixed(2)} ms`;

async function bench(
  backend: "sqlite" | "postgres",
  root: string,
  rows: string[],
  logRows: string[],
): Promise<void> {
  let s = await setup(backend, root, "log");
  try {
    let n = 0;
    // The log alone: k leaves appended to the SQL tile store and the size/root recorded, one
    // durable transaction per batch (what every write transaction does before COMMIT).
    const { SqlTileStore } = await import("../../src/audit/sql-tiles.js");
    const { updateLogSize } = await import("../../src/audit/log-state.js");
    const { appendLeaves, leafHash } = await import("../../src/tlog/index.js");
    await s.logged.write(async (trx) => {
      await recordEvent(trx, ACTOR, event(n++)); // initialises the log
    });
    let size = (await s.raw.db.selectFrom("tlog_state").select("size").executeTakeFirstOrThrow()).size;
    for (const k of [1, 100, 1000, 4096]) {
      const [perTx] = await alternate(
        [
          () =>
            s.raw.write(async (trx) => {
              const hashes = Array.from({ length: k }, (_, i) => leafHash(Buffer.from(`leaf ${size + i}`)));
              const r = await appendLeaves(new SqlTileStore(trx, backend), size, hashes);
              await updateLogSize(trx, r.size, r.root);
              size = r.size;
            }),
        ],
        k === 1 ? 3 : 5,
      );
      logRows.push(`| ${backend} | ${k} | ${fmtRate(k / perTx!)} | ${fmtMs(perTx!)} |`);
    }
    // Raw appends left tiles ahead of the events; start the full path on a fresh log.
    await s.close();
    s = await setup(backend, root, "events");
    for (const perTx of [1, 10, 100, 1000]) {
      const [logged, plain] = await alternate(
        [
          () =>
            s.logged.write(async (trx) => {
              for (let i = 0; i < perTx; i++) await recordEvent(trx, ACTOR, event(n++));
            }),
          // Reference: the same rows, same transactions, no log (the vault before this issue).
          () =>
            s.raw.write(async (trx) => {
              for (let i = 0; i < perTx; i++) {
                const { type, ...rest } = event(n++);
                await trx
                  .insertInto("audit_events")
                  .values({
                    id: newId("evt"),
                    at: new Date().toISOString(),
                    type,
                    actor: canonicalJson(ACTOR),
                    subject_id: rest.subjectId,
                    payload: canonicalJson(rest),
                    leaf_index: null,
                    actor_id: "cli:uid:1000",
                  })
                  .returning("seq")
                  .executeTakeFirstOrThrow();
              }
            }),
        ],
        perTx === 1 ? 6 : 10,
      );
      rows.push(
        `| ${backend} | ${perTx} | ${fmtRate(perTx / logged!)} | ${fmtMs(logged!)} | ${fmtRate(perTx / plain!)} | ${fmtMs(plain!)} |`,
      );
    }
  } finally {
    await s.close();
  }
}

const root = mkdtempSync(path.join(os.tmpdir(), "vv-bench-tlog-"));
console.log(machineLine());
console.log(`load average (1 min): ${os.loadavg()[0]!.toFixed(1)}`);
const rows: string[] = [];
const logRows: string[] = [];
try {
  await bench("sqlite", root, rows, logRows);
  if (PG_URL) await bench("postgres", root, rows, logRows);
  else console.log("(PostgreSQL skipped: set VOXVAULT_BENCH_PG_URL)");
} finally {
  rmSync(root, { recursive: true, force: true });
}
console.log("\nLog appends (tile store + recorded size/root), one durable transaction per batch:\n");
console.log("| backend | leaves per transaction | leaves/s | per transaction |");
console.log("|---|---:|---:|---:|");
for (const r of logRows) console.log(r);
console.log(
  "\nFull path: recordEvent (event row + leaf) in the vault's write transaction, vs. the reference:\n",
);
console.log(
  "| backend | events per transaction | logged events/s | per transaction | reference: unlogged rows/s | per transaction |",
);
console.log("|---|---:|---:|---:|---:|---:|");
for (const r of rows) console.log(r);
console.log(`load average (1 min) after: ${os.loadavg()[0]!.toFixed(1)}`);
