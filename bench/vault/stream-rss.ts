/**
 * A 2 GB blob through the vault (file store) and back, sampling the process's resident memory.
 * Target: <= 100 MB RSS for the whole round trip.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { initVault } from "../../src/platform/index.js";
import { machineLine } from "../machine.js";

const SIZE = 2_000_000_000;
const CHUNK = 1 << 20;
const root = mkdtempSync(path.join(os.tmpdir(), "vv-bench-"));
let peak = 0;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 20);

function* source(): Generator<Uint8Array> {
  const block = Buffer.alloc(CHUNK, 0x5a);
  for (let o = 0; o < SIZE; o += CHUNK) yield o + CHUNK <= SIZE ? block : block.subarray(0, SIZE - o);
}

console.log(machineLine());
const baseline = process.memoryUsage().rss;
try {
  const v = await initVault({ dataDir: path.join(root, "d"), keyFile: path.join(root, "root.key") });
  const s = await v.subjects.add({ ref: "bench" });
  let t = Date.now();
  const info = await v.blobs.put({ subjectId: s.id, kind: "raw", data: source() });
  const putS = (Date.now() - t) / 1000;
  t = Date.now();
  let n = 0;
  for await (const c of (await v.blobs.read(info.id)).stream) n += c.length;
  const getS = (Date.now() - t) / 1000;
  if (n !== SIZE) throw new Error("size mismatch");
  await v.close();
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  console.log("\n| 2 GB round trip through the vault (fs store, fsync) | value |");
  console.log("|---|---:|");
  console.log(`| put (encrypt + write) | ${(SIZE / putS / 1e6).toFixed(0)} MB/s |`);
  console.log(`| read (read + decrypt) | ${(SIZE / getS / 1e6).toFixed(0)} MB/s |`);
  console.log(`| RSS before | ${(baseline / 1e6).toFixed(0)} MB |`);
  console.log(`| peak RSS during the round trip | ${(peak / 1e6).toFixed(0)} MB |`);
} finally {
  clearInterval(sampler);
  rmSync(root, { recursive: true, force: true });
}
