/**
 * Proofs served from the SQL tile store (the vault's real storage), at 1M and 10M leaves, on
 * SQLite and PostgreSQL: inclusion-proof generation (goal <= 1 ms), consistency-proof generation,
 * and client-side verification (goal <= 100 µs). Each generated proof is one indexed SELECT of
 * at most two tiles per level, then O(log n) hashing (docs/tlog.md §2-3).
 *
 * Reference measured in the same run: the same proofs from the in-memory MemoryTileStore, i.e.
 * the hashing and planning alone, so the table shows what the database adds.
 *
 * Run: node scripts/bench.mjs bench/tlog/sql-proofs.ts   (or compile and run the file with
 * arguments: [sqlite|postgres|both] [maxLeaves=10000000]). PostgreSQL needs VOXVAULT_BENCH_PG_URL
 * or VOXVAULT_TEST_PG_URL. Building 10M leaves writes ~640 MB of tiles per backend.
 */
import { randomInt } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "kysely";
import { SqlTileStore } from "../../src/audit/sql-tiles.js";
import {
  connectMetadata,
  createSchema,
  type DialectDriver,
  type MetadataConfig,
} from "../../src/store/meta/index.js";
import {
  type Hash,
  MemoryTileStore,
  appendLeaves,
  consistencyProof,
  inclusionProof,
  leafHash,
  treeHash,
  verifyConsistency,
  verifyInclusion,
} from "../../src/tlog/index.js";
import { machineLine } from "../machine.js";

const PG_URL = process.env.VOXVAULT_BENCH_PG_URL ?? process.env.VOXVAULT_TEST_PG_URL;
const BATCH = 4096;
const SAMPLES = 2000;

function leafFor(i: number): Hash {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(i));
  return leafHash(b);
}

interface Stat {
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
}

async function timeEach(n: number, fn: (i: number) => Promise<void> | void): Promise<Stat> {
  for (let i = 0; i < Math.min(50, n); i++) await fn(i);
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    await fn(i);
    xs.push(Number(process.hrtime.bigint() - t) / 1e3);
  }
  xs.sort((a, b) => a - b);
  const at = (q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
  return { p50: at(0.5), p99: at(0.99), mean: xs.reduce((a, b) => a + b, 0) / xs.length };
}

const fmt = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`);
const rows: string[] = [];
function row(store: string, what: string, size: string, s: Stat): void {
  rows.push(`| ${store} | ${what} | ${size} | ${fmt(s.p50)} | ${fmt(s.p99)} | ${fmt(s.mean)} |`);
}

/** Grows both stores to `target`: the SQL one in durable 4096-leaf transactions. */
async function grow(
  driver: DialectDriver,
  mem: MemoryTileStore,
  from: number,
  target: number,
): Promise<number> {
  let size = from;
  const t0 = Date.now();
  while (size < target) {
    const n = Math.min(BATCH, target - size);
    const batch: Hash[] = [];
    for (let i = 0; i < n; i++) batch.push(leafFor(size + i));
    await driver.write((trx) => appendLeaves(new SqlTileStore(trx, driver.dialect), size, batch));
    size = (await appendLeaves(mem, size, batch)).size;
    if (size % 1_048_576 < BATCH)
      process.stderr.write(`\r${driver.dialect}: ${size} leaves, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  process.stderr.write("\n");
  return size;
}

async function measure(
  driver: DialectDriver,
  mem: MemoryTileStore,
  size: number,
  label: string,
): Promise<void> {
  const st = new SqlTileStore(driver.db, driver.dialect);
  const root = await treeHash(mem, size);
  const idx = Array.from({ length: SAMPLES }, () => randomInt(0, size));
  const proofs: Hash[][] = [];
  row(
    driver.dialect,
    "inclusion proof, generate",
    label,
    await timeEach(SAMPLES, async (i) => {
      proofs[i] = await inclusionProof(st, idx[i]!, size);
    }),
  );
  row(
    "memory (reference)",
    "inclusion proof, generate",
    label,
    await timeEach(SAMPLES, async (i) => {
      await inclusionProof(mem, idx[i]!, size);
    }),
  );
  row(
    "client",
    "inclusion proof, verify",
    label,
    await timeEach(SAMPLES, (i) => {
      verifyInclusion(leafFor(idx[i]!), idx[i]!, size, proofs[i]!, root);
    }),
  );
  const olds = Array.from({ length: 200 }, () => randomInt(1, size));
  const oldRoots: Hash[] = [];
  for (const m of olds) oldRoots.push(await treeHash(mem, m));
  const cproofs: Hash[][] = [];
  row(
    driver.dialect,
    "consistency proof, generate",
    label,
    await timeEach(200, async (i) => {
      cproofs[i] = await consistencyProof(st, olds[i]!, size);
    }),
  );
  row(
    "client",
    "consistency proof, verify",
    label,
    await timeEach(200, (i) => {
      verifyConsistency(olds[i]!, size, cproofs[i]!, oldRoots[i]!, root);
    }),
  );
}

async function run(backend: "sqlite" | "postgres", maxLeaves: number, root: string): Promise<void> {
  const schema = `bench_proofs_${process.pid}`;
  const dir = path.join(root, backend);
  mkdirSync(dir, { recursive: true });
  const config: MetadataConfig =
    backend === "sqlite"
      ? { driver: "sqlite", file: path.join(dir, "meta.sqlite") }
      : { driver: "postgres", url: PG_URL!, schema };
  const driver = connectMetadata(config);
  try {
    await createSchema(driver, config);
    const mem = new MemoryTileStore();
    let size = 0;
    for (const target of [1_000_000, 10_000_000].filter((t) => t <= maxLeaves)) {
      const t = Date.now();
      size = await grow(driver, mem, size, target);
      const secs = (Date.now() - t) / 1000;
      rows.push(
        `| ${backend} | build: 4096-leaf durable transactions | to ${target / 1e6}M | ${Math.round((target - (target === 1_000_000 ? 0 : 1_000_000)) / secs).toLocaleString("en-US")} leaves/s |  |  |`,
      );
      await measure(driver, mem, size, `${target / 1e6}M`);
    }
  } finally {
    if (backend === "postgres") await sql`DROP SCHEMA IF EXISTS ${sql.id(schema)} CASCADE`.execute(driver.db);
    await driver.close();
  }
}

const which = process.argv[2] ?? "both";
const maxLeaves = Number(process.argv[3] ?? 10_000_000);
console.log(machineLine());
console.log(`load average (1 min) before: ${os.loadavg()[0]!.toFixed(1)}; ${SAMPLES} random leaves per row`);
const root = mkdtempSync(path.join(os.tmpdir(), "vv-bench-proofs-"));
try {
  if (which !== "postgres") await run("sqlite", maxLeaves, root);
  if (which !== "sqlite") {
    if (PG_URL) await run("postgres", maxLeaves, root);
    else console.log("(PostgreSQL skipped: set VOXVAULT_BENCH_PG_URL)");
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
console.log("\n| store | operation | tree size | p50 | p99 | mean |");
console.log("|---|---|---|---:|---:|---:|");
for (const r of rows) console.log(r);
console.log(`load average (1 min) after: ${os.loadavg()[0]!.toFixed(1)}`);
