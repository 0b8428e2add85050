/**
 * The PKCS#11 root (SoftHSM2) against the key-file root, in the same run: root wrap/unwrap
 * latency, key-tree operations per second (subject-key unwraps with the cache off), vault open
 * and shred latency. Needs SoftHSM2 (Debian softhsm2) and pkcs11js; makes its own token.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { initVault, openVault } from "../../src/platform/index.js";
import type { Vault } from "../../src/platform/vault.js";
import { internalsOf } from "../../src/platform/vault.js";
import { machineLine, median, percentile } from "../machine.js";

const MODULE = "/usr/lib/softhsm/libsofthsm2.so";
const root = mkdtempSync(path.join(os.tmpdir(), "vv-bench-hsm-"));
mkdirSync(path.join(root, "tokens"));
writeFileSync(
  path.join(root, "softhsm2.conf"),
  `directories.tokendir = ${path.join(root, "tokens")}\nobjectstore.backend = file\nlog.level = ERROR\n`,
);
process.env.SOFTHSM2_CONF = path.join(root, "softhsm2.conf");
const PIN = "246813579";
execFileSync(
  "softhsm2-util",
  ["--init-token", "--free", "--label", "bench", "--pin", PIN, "--so-pin", "975318642"],
  {
    stdio: "ignore",
  },
);
const env = { ...process.env, HOME: root, XDG_CONFIG_HOME: path.join(root, "config"), VOXVAULT_HSM_PIN: PIN };

const ms = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e6;

interface Row {
  readonly name: string;
  readonly wrapUs: number;
  readonly unwrapUs: number;
  readonly unwrapP99Us: number;
  readonly treeOpsPerSec: number;
  readonly openMs: number;
  readonly shredMs: number;
  readonly shredP95Ms: number;
}

async function measure(name: string, hsm: boolean): Promise<Row> {
  const dataDir = path.join(root, `data-${name}`);
  const init = () =>
    initVault({
      dataDir,
      env,
      keyCache: { maxEntries: 10_000, ttlSeconds: 0 }, // every subject key unwrap reaches the root
      ...(hsm
        ? { hsm: { module: MODULE, token: { label: "bench" }, pin: { env: "VOXVAULT_HSM_PIN" } } }
        : {}),
    });
  let v: Vault = await init();
  const subjects: string[] = [];
  for (let i = 0; i < 300; i++) subjects.push((await v.subjects.add({ ref: `s-${i}` })).id);
  const provider = internalsOf(v).provider;
  const secret = new Uint8Array(32).fill(1);
  const aad = new Uint8Array(8);
  const wraps: number[] = [];
  const unwraps: number[] = [];
  let wrapped = await provider.wrap(1, 7, secret, aad);
  for (let i = 0; i < 2000; i++) {
    let t = process.hrtime.bigint();
    wrapped = await provider.wrap(1, 7 + (i % 100), secret, aad);
    wraps.push(ms(t) * 1000);
    t = process.hrtime.bigint();
    await provider.unwrap(1, 7 + (i % 100), wrapped, aad);
    unwraps.push(ms(t) * 1000);
  }
  // key-tree operations: reading each subject's status decrypts nothing, so use a blob round trip
  const blobs: string[] = [];
  for (const s of subjects.slice(0, 200))
    blobs.push((await v.blobs.put({ subjectId: s, kind: "raw", data: [new Uint8Array(64)] })).id);
  let t = process.hrtime.bigint();
  let ops = 0;
  while (ms(t) < 3000) {
    const b = await v.blobs.read(blobs[ops % blobs.length]!);
    for await (const chunk of b.stream) if (chunk.length < 0) throw new Error("unreachable");
    ops++;
  }
  const treeOpsPerSec = ops / (ms(t) / 1000);
  await v.close();
  const opens: number[] = [];
  for (let i = 0; i < 5; i++) {
    t = process.hrtime.bigint();
    v = await openVault({ dataDir, env });
    opens.push(ms(t));
    if (i < 4) await v.close();
  }
  const shreds: number[] = [];
  for (const s of subjects.slice(200, 240)) {
    t = process.hrtime.bigint();
    await v.shredding.request(s, { immediate: true });
    shreds.push(ms(t));
  }
  await v.close();
  return {
    name,
    wrapUs: median(wraps),
    unwrapUs: median(unwraps),
    unwrapP99Us: percentile(unwraps, 99),
    treeOpsPerSec,
    openMs: median(opens),
    shredMs: median(shreds),
    shredP95Ms: percentile(shreds, 95),
  };
}

console.log(machineLine());
try {
  const rows = [await measure("key file (local)", false), await measure("PKCS#11 (SoftHSM2 2.6)", true)];
  console.log(
    "\n| root | wrap p50 µs | unwrap p50 µs | unwrap p99 µs | blob reads/s (key cache off) | vault open p50 ms | shred p50 ms | shred p95 ms |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows)
    console.log(
      `| ${r.name} | ${r.wrapUs.toFixed(0)} | ${r.unwrapUs.toFixed(0)} | ${r.unwrapP99Us.toFixed(0)} | ${r.treeOpsPerSec.toFixed(0)} | ${r.openMs.toFixed(1)} | ${r.shredMs.toFixed(1)} | ${r.shredP95Ms.toFixed(1)} |`,
    );
} finally {
  rmSync(root, { recursive: true, force: true });
}
