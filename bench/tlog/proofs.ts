/**
 * Transparency-log benchmark: append throughput, proof generation from a tile store, and proof
 * verification, at 1M and 10M leaves, on the in-memory MemoryTileStore (so it measures the
 * hashing and planning work, not a database).
 *
 * Build and run (no TypeScript runner is installed):
 *   npx tsc --outDir /tmp/tlogbench --module NodeNext --moduleResolution NodeNext --target ES2022 \
 *     --skipLibCheck bench/tlog/proofs.ts
 *   node /tmp/tlogbench/bench/tlog/proofs.js [maxLeaves=10000000]
 *
 * Prints a markdown table. docs/tlog.md "Measured" quotes a run of it.
 */

import { createHash, randomInt } from "node:crypto";
import { cpus, loadavg, totalmem } from "node:os";
import { pathToFileURL } from "node:url";
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

const BATCH = 4096;

/** Deterministic leaf hash for leaf i: SHA-256(0x00 || uint64be(i)). */
function leafFor(i: number): Hash {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(i));
  return leafHash(b);
}

function now(): number {
  return Number(process.hrtime.bigint()) / 1e3; // microseconds
}

interface Stat {
  readonly mean: number;
  readonly p50: number;
  readonly p99: number;
  /** CPU time (user + system) per operation: robust when other processes share the CPUs. */
  readonly cpu: number;
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function timeEach(n: number, fn: (i: number) => Promise<void> | void): Promise<Stat> {
  for (let i = 0; i < Math.min(50, n); i++) await fn(i); // warm-up
  const samples: number[] = [];
  const cpu0 = cpuMicros();
  for (let i = 0; i < n; i++) {
    const t = now();
    await fn(i);
    samples.push(now() - t);
  }
  const cpu = (cpuMicros() - cpu0) / n;
  const s = samples.sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { mean: s.reduce((x, y) => x + y, 0) / s.length, p50: at(0.5), p99: at(0.99), cpu };
}

const rows: string[][] = [];
const fmt = (us: number): string => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`);
function row(what: string, size: string, s: Stat): void {
  rows.push([what, size, fmt(s.p50), fmt(s.p99), fmt(s.mean), fmt(s.cpu)]);
}

/** Grows the store to `target` leaves in batches; returns CPU µs spent inside appendLeaves only. */
async function growTo(store: MemoryTileStore, from: number, target: number): Promise<number> {
  let size = from;
  let appendCpu = 0;
  while (size < target) {
    const n = Math.min(BATCH, target - size);
    const batch: Hash[] = [];
    for (let i = 0; i < n; i++) batch.push(leafFor(size + i));
    const t = cpuMicros();
    ({ size } = await appendLeaves(store, size, batch));
    appendCpu += cpuMicros() - t;
  }
  return appendCpu;
}

async function measureAt(store: MemoryTileStore, size: number, label: string): Promise<void> {
  const root = await treeHash(store, size);
  const N = 2000;

  const idx = Array.from({ length: N }, () => randomInt(0, size));
  const proofs: Hash[][] = new Array<Hash[]>(N);
  row(
    "inclusion proof, generate",
    label,
    await timeEach(N, async (i) => {
      proofs[i] = await inclusionProof(store, idx[i]!, size);
    }),
  );
  row(
    "inclusion proof, verify",
    label,
    await timeEach(N, (i) => {
      verifyInclusion(leafFor(idx[i]!), idx[i]!, size, proofs[i]!, root);
    }),
  );

  const olds = Array.from({ length: N }, () => randomInt(1, size));
  const oldRoots: Hash[] = [];
  for (const m of olds.slice(0, 200)) oldRoots.push(await treeHash(store, m));
  const cproofs: Hash[][] = new Array<Hash[]>(N);
  row(
    "consistency proof, generate",
    label,
    await timeEach(N, async (i) => {
      cproofs[i] = await consistencyProof(store, olds[i]!, size);
    }),
  );
  row(
    "consistency proof, verify",
    label,
    await timeEach(200, (i) => {
      verifyConsistency(olds[i]!, size, cproofs[i]!, oldRoots[i]!, root);
    }),
  );
  row(
    "tree hash at a past size",
    label,
    await timeEach(N, async (i) => {
      await treeHash(store, olds[i]!);
    }),
  );
}

export async function main(argv: readonly string[]): Promise<void> {
  const maxLeaves = Number(argv[0] ?? 10_000_000);
  const store = new MemoryTileStore();
  const appendRows: string[][] = [];
  const loadBefore = loadavg()[0]!;

  let size = 0;
  for (const target of [1_000_000, 10_000_000].filter((t) => t <= maxLeaves)) {
    const t = now();
    const appendCpu = await growTo(store, size, target);
    const wall = (now() - t) / 1e6;
    appendRows.push([
      `${BATCH}-leaf batches, ${size.toLocaleString("en")} → ${target.toLocaleString("en")}`,
      `${Math.round(((target - size) / appendCpu) * 1e6).toLocaleString("en")} leaves/s`,
      fmt(appendCpu / ((target - size) / BATCH)),
      `${wall.toFixed(1)} s wall, incl. hashing the leaves`,
    ]);
    size = target;
    await measureAt(store, size, `${(size / 1e6).toFixed(0)}M`);
  }

  // Single-leaf appends, as an audit log that commits every event on its own does.
  const singles = 20_000;
  const cpu0 = cpuMicros();
  for (let i = 0; i < singles; i++) ({ size } = await appendLeaves(store, size, [leafFor(size)]));
  const cpu = (cpuMicros() - cpu0) / singles;
  appendRows.push([
    `1 leaf per call, ×${singles.toLocaleString("en")} (at ${(size / 1e6).toFixed(2)}M)`,
    `${Math.round(1e6 / cpu).toLocaleString("en")} leaves/s`,
    fmt(cpu),
    "",
  ]);

  const model = cpus()[0]?.model ?? "unknown CPU";
  const gib = (totalmem() / 2 ** 30).toFixed(1);
  console.log(
    `Machine: ${model} (${cpus().length} CPUs, ${gib} GiB), Node ${process.version}, ${process.platform}/${process.arch}`,
  );
  console.log(`Load average (1 min) before/after: ${loadBefore.toFixed(1)} / ${loadavg()[0]!.toFixed(1)}`);
  console.log(
    `Store: MemoryTileStore, ${store.size.toLocaleString("en")} tiles; 2000 random samples per row\n`,
  );
  console.log("| operation | tree size | p50 wall | p99 wall | mean wall | mean CPU |");
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
  console.log("\n| append | throughput (CPU) | CPU per call | note |\n| --- | --- | --- | --- |");
  for (const r of appendRows) console.log(`| ${r.join(" | ")} |`);
}

// Leaf hashing sanity check so a broken build cannot report fast nonsense.
if (
  createHash("sha256")
    .update(new Uint8Array([0]))
    .digest("hex") !== Buffer.from(leafHash(new Uint8Array(0))).toString("hex")
) {
  throw new Error("leaf hashing is broken");
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
