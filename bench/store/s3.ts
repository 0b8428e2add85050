/**
 * Encrypted put/get through the vault's S3 store against the same client putting and getting the
 * same bytes unencrypted, in the same run (goal: encrypted ≥ 80 % of plain), and the RSS of a
 * large blob's round trip through the S3 store (goal: a 2 GB object within 200 MB RSS).
 * Needs the throwaway RGW: eval "$(scripts/s3-throwaway.sh start)" first.
 *   node scripts/bench.mjs bench/store/s3.ts            # 64 MiB objects, 5 rounds; 2 GB RSS run
 *   BENCH_S3_RSS_BYTES=0 node scripts/bench.mjs …       # skip the 2 GB run
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { initVault } from "../../src/platform/index.js";
import { freshBucket, s3Env } from "../../test/support/s3.js";
import { machineLine } from "../machine.js";

const SIZE = Number(process.env.BENCH_S3_BYTES ?? 64 * 1024 * 1024);
const ROUNDS = Number(process.env.BENCH_RUNS ?? 5);
const RSS_BYTES = Number(process.env.BENCH_S3_RSS_BYTES ?? 2_000_000_000);
/** The RSS part runs in a fresh process of its own: the reference's buffers must not count. */
const RSS_ONLY = process.env.BENCH_S3_PART === "rss";
const CHUNK = 1 << 20;

function* source(size: number): Generator<Uint8Array> {
  const block = Buffer.alloc(CHUNK, 0x5a);
  for (let o = 0; o < size; o += CHUNK) yield o + CHUNK <= size ? block : block.subarray(0, size - o);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mbps = (bytes: number, ms: number) => bytes / (ms / 1000) / 1e6;

if (!RSS_ONLY) console.log(machineLine());
const bucket = await freshBucket();
const root = mkdtempSync(path.join(os.tmpdir(), "vv-bench-s3-"));
try {
  const v = await initVault({
    dataDir: path.join(root, "d"),
    keyFile: path.join(root, "root.key"),
    storage: { ...bucket.config, partSizeMiB: 8 },
    env: { ...process.env, ...s3Env() },
  });
  const s = await v.subjects.add({ ref: "bench" });
  const plainPut: number[] = [];
  const plainGet: number[] = [];
  const encPut: number[] = [];
  const encGet: number[] = [];
  for (let r = 0; r < (RSS_ONLY ? 0 : ROUNDS); r++) {
    // the reference: the same client, the same bytes, no encryption (lib-storage's managed
    // multipart upload with the same 8 MiB parts, one at a time)
    const key = `plain-${r}`;
    let t = performance.now();
    await new Upload({
      client: bucket.client,
      params: { Bucket: bucket.config.bucket, Key: key, Body: Buffer.concat([...source(SIZE)]) },
      partSize: 8 * 1024 * 1024,
      queueSize: 1,
    }).done();
    plainPut.push(performance.now() - t);
    t = performance.now();
    const got = await bucket.client.send(new GetObjectCommand({ Bucket: bucket.config.bucket, Key: key }));
    let n = 0;
    for await (const c of got.Body as AsyncIterable<Uint8Array>) n += c.length;
    plainGet.push(performance.now() - t);
    if (n !== SIZE) throw new Error("plain size mismatch");

    t = performance.now();
    const info = await v.blobs.put({ subjectId: s.id, kind: "raw", data: source(SIZE) });
    encPut.push(performance.now() - t);
    t = performance.now();
    n = 0;
    for await (const c of (await v.blobs.read(info.id)).stream) n += c.length;
    encGet.push(performance.now() - t);
    if (n !== SIZE) throw new Error("encrypted size mismatch");
  }
  const row = (what: string, plain: number[], enc: number[]) => {
    const p = mbps(SIZE, median(plain));
    const e = mbps(SIZE, median(enc));
    return `| ${what} | ${p.toFixed(0)} MB/s | ${e.toFixed(0)} MB/s | ${((e / p) * 100).toFixed(0)} % |`;
  };
  if (!RSS_ONLY) {
    console.log(
      `\n| ${SIZE / 1048576} MiB objects, median of ${ROUNDS} | plain (same client) | vault (encrypted) | ratio |`,
    );
    console.log("|---|---:|---:|---:|");
    console.log(row("put", plainPut, encPut));
    console.log(row("get", plainGet, encGet));
  }

  if (RSS_BYTES > 0 && !RSS_ONLY) {
    await v.close();
    execFileSync(process.execPath, [fileURLToPath(import.meta.url)], {
      env: { ...process.env, BENCH_S3_PART: "rss" },
      stdio: "inherit",
    });
  } else if (RSS_BYTES > 0) {
    let peak = 0;
    const base = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const t = performance.now();
    const info = await v.blobs.put({ subjectId: s.id, kind: "raw", data: source(RSS_BYTES) });
    const putMs = performance.now() - t;
    let n = 0;
    for await (const c of (await v.blobs.read(info.id)).stream) n += c.length;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    if (n !== RSS_BYTES) throw new Error("size mismatch");
    console.log(`\n| ${(RSS_BYTES / 1e9).toFixed(1)} GB through the S3 store | value |`);
    console.log("|---|---:|");
    console.log(`| put | ${mbps(RSS_BYTES, putMs).toFixed(0)} MB/s |`);
    console.log(`| RSS before | ${(base / 1e6).toFixed(0)} MB |`);
    console.log(`| peak RSS (put and read back) | ${(peak / 1e6).toFixed(0)} MB |`);
    await v.close();
  } else {
    await v.close();
  }
} finally {
  rmSync(root, { recursive: true, force: true });
  await bucket.drop();
}
