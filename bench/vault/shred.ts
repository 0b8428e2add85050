/**
 * Shred latency for subjects holding 10 and 10,000 blobs, in a vault of several hundred subjects
 * (so key-tree groups are full). Target: < 20 ms, and flat in the number of blobs.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { initVault } from "../../src/vault/index.js";
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
  await v.close();
  console.log("\n| blobs per subject | subjects shredded | median ms | p95 ms | max ms |");
  console.log("|---:|---:|---:|---:|---:|");
  for (const r of rows) console.log(r);
  console.log(
    "\n(each shred: one SQLite transaction with fsync, a root-key file rewrite with fsync, and destruction of the old version)",
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
