/**
 * `voxvault doctor` wall time on a vault with 10,000 subjects (a blob each, so the data directory
 * holds 10,000 ciphertext files for the plaintext-audio scan) and 200 tokens.
 */
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runDoctor } from "../../src/doctor/index.js";
import { initVault } from "../../src/platform/index.js";
import { machineLine, median } from "../machine.js";

const root = mkdtempSync(path.join(os.tmpdir(), "vv-bench-doctor-"));
const keyFile = path.join(root, "keys", "root.key.json");
console.log(machineLine());
try {
  const v = await initVault({ dataDir: path.join(root, "d"), keyFile });
  const t0 = Date.now();
  for (let i = 0; i < 10_000; i++) {
    const s = await v.subjects.add({ ref: `contractor-${i}` });
    await v.blobs.put({ subjectId: s.id, kind: "raw", data: [new Uint8Array(512)] });
  }
  for (let i = 0; i < 200; i++) await v.access.tokens.create({ role: "auditor", label: `auditor-${i}` });
  console.log(
    `setup: 10,000 subjects with a blob each, 200 tokens in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
  );
  const times: number[] = [];
  let findings = 0;
  for (let i = 0; i < 5; i++) {
    const t = process.hrtime.bigint();
    findings = (await runDoctor(v, { rootFile: keyFile })).length;
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  await v.close();
  console.log(`\n| subjects | files scanned | findings | doctor p50 ms | min ms | max ms |`);
  console.log(`|---:|---:|---:|---:|---:|---:|`);
  console.log(
    `| 10,000 | ≥ 10,000 | ${findings} | ${median(times).toFixed(0)} | ${Math.min(...times).toFixed(0)} | ${Math.max(...times).toFixed(0)} |`,
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
