/**
 * Streaming AEAD throughput (blob format v1, 64 KiB segments) against OpenSSL's own AES-256-GCM
 * (`openssl speed -evp aes-256-gcm`, 16 KiB blocks, one core) measured in the same run.
 */
import { execFileSync } from "node:child_process";
import { createCipheriv, createSecretKey, randomBytes } from "node:crypto";
import { openStream, sealStream, type BlobContext } from "../../src/format/index.js";
import { machineLine, median } from "../machine.js";

const ctx: BlobContext = { tenant: "t", subject: "s", blobId: "b", kind: "raw" };
const dek = new Uint8Array(randomBytes(32));
const TOTAL = 1 << 30; // 1 GiB per run
const CHUNK = 1 << 20;
const block = randomBytes(CHUNK);

function* source(): Generator<Uint8Array> {
  for (let o = 0; o < TOTAL; o += CHUNK) yield block;
}

async function sealOnce(keep: Uint8Array[] | undefined, segmentLog2 = 16): Promise<number> {
  const t = process.hrtime.bigint();
  let n = 0;
  for await (const c of sealStream(dek, ctx, source(), { segmentLog2 })) {
    n += c.length;
    keep?.push(c);
  }
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (n < TOTAL) throw new Error("short");
  return TOTAL / s;
}

async function openOnce(ct: Uint8Array[]): Promise<number> {
  const t = process.hrtime.bigint();
  let n = 0;
  for await (const c of openStream(dek, ctx, ct)) n += c.length;
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (n !== TOTAL) throw new Error("mismatch");
  return TOTAL / s;
}

function opensslSpeed(): number {
  const out = execFileSync(
    "openssl",
    ["speed", "-elapsed", "-seconds", "3", "-bytes", "16384", "-evp", "aes-256-gcm"],
    {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    },
  );
  const line = out.split("\n").find((l) => /^AES-256-GCM/i.test(l.trim()));
  const m = line ? /([\d.]+)k\s*$/.exec(line.trim()) : null;
  if (!m) throw new Error(`cannot parse openssl speed output:\n${out}`);
  return Number(m[1]) * 1000;
}

/** node:crypto alone: one createCipheriv per 64 KiB segment, no streaming format around it. */
function rawNodeGcm(): number {
  const key = createSecretKey(randomBytes(32));
  const nonce = Buffer.alloc(12);
  const seg = 1 << 16;
  const t = process.hrtime.bigint();
  for (let o = 0, i = 0; o < TOTAL; o += seg, i++) {
    nonce.writeUInt32BE(i, 7);
    const c = createCipheriv("aes-256-gcm", key, nonce);
    c.update(block.subarray(o % CHUNK, (o % CHUNK) + seg));
    c.final();
    c.getAuthTag();
  }
  return TOTAL / (Number(process.hrtime.bigint() - t) / 1e9);
}

const mb = (x: number) => (x / 1e6).toFixed(0);
console.log(machineLine());
const ct: Uint8Array[] = [];
await sealOnce(ct); // warm-up, and the ciphertext for the decrypt runs
// The same with 1 MiB segments (format §2 allows 4 KiB–16 MiB; 64 KiB is the writers' default).
let ct1m: Uint8Array[] | null = [];
await sealOnce(ct1m, 20);
const seal: number[] = [];
const open: number[] = [];
const seal1m: number[] = [];
const open1m: number[] = [];
const ssl: number[] = [];
const raw: number[] = [];
for (let i = 0; i < 3; i++) {
  ssl.push(opensslSpeed());
  raw.push(rawNodeGcm());
  seal.push(await sealOnce(undefined));
  open.push(await openOnce(ct));
  seal1m.push(await sealOnce(undefined, 20));
  open1m.push(await openOnce(ct1m));
}
ct1m = null;
const ref = median(ssl);
console.log("\n| operation | MB/s (median of 3) | vs openssl |");
console.log("|---|---:|---:|");
console.log(`| openssl speed -evp aes-256-gcm, 16 KiB | ${mb(ref)} | 100 % |`);
console.log(
  `| node:crypto alone, one createCipheriv per 64 KiB segment, no format | ${mb(median(raw))} | ${((100 * median(raw)) / ref).toFixed(0)} % |`,
);
console.log(
  `| sealStream (encrypt), 64 KiB segments | ${mb(median(seal))} | ${((100 * median(seal)) / ref).toFixed(0)} % |`,
);
console.log(
  `| openStream (decrypt), 64 KiB segments | ${mb(median(open))} | ${((100 * median(open)) / ref).toFixed(0)} % |`,
);
console.log(
  `| sealStream (encrypt), 1 MiB segments | ${mb(median(seal1m))} | ${((100 * median(seal1m)) / ref).toFixed(0)} % |`,
);
console.log(
  `| openStream (decrypt), 1 MiB segments | ${mb(median(open1m))} | ${((100 * median(open1m)) / ref).toFixed(0)} % |`,
);
