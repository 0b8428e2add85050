/**
 * Shred latency for subjects holding 10 and 10,000 blobs, in a vault of several hundred subjects
 * (so reference-index buckets and slot groups are not empty). Target: < 20 ms, and flat in the
 * number of blobs. Also: how the key file grows with punctures (each shred adds ≤ 32 PRF nodes
 * per generation), and the cost of a root rotation per subject.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { initVault } from "../../src/platform/index.js";
import { machineLine, median, percentile } from "../machine.js";

const root = mkdtempSync(path.join(os.tmpdir(), "vv-bench-"));
console.log(machineLine());
try {
  const v = await initVault({ dataDir: path.join(root, "d"), keyFile: path.join(root, "root.key") });
  const filler = [];
  for (let i = 0; i < 400; i++) filler.push(await v.subjects.add({ ref: `filler-${i}` }));
  const payload = [new Uint8Array(256)];
  async function subjectWith(blobs: number) {
    const s = await v.subjects.add({ ref: `b${blobs}-${Math.random()}` });
    for (let i = 0; i < blobs; i++) await v.blobs.put({ subjectId: s.id, kind: "raw", data: payload });
    return s.id;
  }
  const rows: string[] = [];
  for (const [blobs, subjects] of [
    [10, 20],
    [10_000, 3],
  ] as const) {
    const times: number[] = [];
    for (let k = 0; k < subjects; k++) {
      const id = await subjectWith(blobs);
      const t = process.hrtime.bigint();
      await v.shredding.request(id);
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    rows.push(
      `| ${blobs} | ${subjects} | ${median(times).toFixed(1)} | ${percentile(times, 95).toFixed(1)} | ${Math.max(...times).toFixed(1)} |`,
    );
  }
  // key file growth: many shreds of subjects with adjacent slots (the common case)
  const { statSync } = await import("node:fs");
  const keyFile = path.join(root, "root.key");
  const before = statSync(keyFile).size;
  const growth: string[] = [];
  let shredded = 0;
  for (const target of [100, 400]) {
    for (; shredded < target; shredded++) await v.shredding.request(filler[shredded]!.id);
    growth.push(
      `| ${target} | ${statSync(keyFile).size} | ${((statSync(keyFile).size - before) / target).toFixed(0)} |`,
    );
  }
  // root rotation: every subject gets a new key version; per-subject cost
  for (let i = 0; i < 300; i++) {
    const s = await v.subjects.add({ ref: `rot-${i}` });
    await v.blobs.put({ subjectId: s.id, kind: "raw", data: payload });
  }
  const live = (await v.keys.status()).subjects.active;
  const t0 = process.hrtime.bigint();
  const rot = await v.keys.rotateRoot();
  const rotMs = Number(process.hrtime.bigint() - t0) / 1e6;
  await v.close();
  console.log("\n| shreds | key file bytes | bytes per shred |");
  console.log("|---:|---:|---:|");
  for (const r of growth) console.log(r);
  console.log(
    `\nroot rotation: ${rot.subjectsRotated} subjects (${live} active) in ${rotMs.toFixed(0)} ms = ${(rotMs / rot.subjectsRotated).toFixed(2)} ms per subject`,
  );
  console.log("\n| blobs per subject | subjects shredded | median ms | p95 ms | max ms |");
  console.log("|---:|---:|---:|---:|---:|");
  for (const r of rows) console.log(r);
  console.log(
    "\n(each shred: one SQLite transaction with fsync; then the records erasure and one more transaction that applies the puncture to the key file with fsync)",
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
