/**
 * Encrypt and decrypt a 2 GB stream (blob format only: sealStream piped into openStream), sampling
 * resident memory. Target: <= 100 MB RSS. Run in its own process so module loading of the rest
 * of the vault does not count.
 */
import { randomBytes } from "node:crypto";
import { openStream, sealStream } from "../../src/format/index.js";
import { machineLine } from "../machine.js";

const SIZE = 2_000_000_000;
const CHUNK = 1 << 20;
const dek = new Uint8Array(randomBytes(32));
const ctx = { tenant: "t", subject: "s", blobId: "b", kind: "raw" };
let peak = 0;
const sample = () => {
  peak = Math.max(peak, process.memoryUsage().rss);
};
const sampler = setInterval(sample, 10);

function* source(): Generator<Uint8Array> {
  const block = Buffer.alloc(CHUNK, 0x5a);
  for (let o = 0; o < SIZE; o += CHUNK) yield o + CHUNK <= SIZE ? block : block.subarray(0, SIZE - o);
}

console.log(machineLine());
const baseline = process.memoryUsage().rss;
const t = Date.now();
let n = 0;
for await (const c of openStream(dek, ctx, sealStream(dek, ctx, source()))) n += c.length;
const s = (Date.now() - t) / 1000;
clearInterval(sampler);
sample();
if (n !== SIZE) throw new Error("size mismatch");
console.log("\n| 2 GB through sealStream -> openStream (one process, no disk) | value |");
console.log("|---|---:|");
console.log(`| encrypt + decrypt throughput | ${(SIZE / s / 1e6).toFixed(0)} MB/s |`);
console.log(`| RSS before | ${(baseline / 1e6).toFixed(0)} MB |`);
console.log(`| peak RSS | ${(peak / 1e6).toFixed(0)} MB |`);
