/**
 * Ingest throughput on 2 cores against one (issue 15 §4; goal ≥ 1.8×), and 2 workers against 1
 * (issue 13), on the same corpus: the corpus is queued in a fresh vault, then `voxvault worker
 * --drain` processes (the built CLI) work it off; wall time from their start to the last one's
 * exit. "One core": one worker with all its threads on CPU 0 (taskset -c 0). Peak RSS per worker from
 * /proc (VmHWM), CPU time from /proc/<pid>/stat. The reference, same run: the same files ingested
 * directly (`voxvault ingest`, no queue) by one process, and by two processes on two separate
 * vaults sharing nothing, i.e. what this machine's two cores give the same work in parallel.
 * Needs flite and sox.
 *   node scripts/bench.mjs bench/ingest/workers.ts      # BENCH_WORKERS_N recordings (default 16)
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { initVault, openVault } from "../../src/platform/index.js";
import { sox, speech } from "../../test/support/audio.js";
import { machineLine } from "../machine.js";
import { watch, type ProcStats } from "./proc-stats.js";

const N = Number(process.env.BENCH_WORKERS_N ?? 16);
const MAIN = path.resolve("dist/bin/voxvault.js");

function corpus(): Buffer[] {
  const voices = ["slt", "awb", "rms", "kal16"] as const;
  const out: Buffer[] = [];
  for (let i = 0; i < N; i++) {
    const base = speech(
      `Recording ${i}. The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background.`,
      voices[i % voices.length],
    );
    out.push(readFileSync(sox(base, "x6", ["repeat", "5"]))); // ~30 s each
  }
  return out;
}

async function run(
  workers: number,
  files: readonly Buffer[],
  oneCore = false,
): Promise<{ wallSec: number; stats: ProcStats[] }> {
  const root = mkdtempSync(path.join(os.tmpdir(), "vv-bench-workers-"));
  const env = { ...process.env, XDG_CONFIG_HOME: path.join(root, "config"), HOME: root };
  const dataDir = path.join(root, "data");
  try {
    await (await initVault({ dataDir, env })).close();
    const v = await openVault({ dataDir, env });
    const s = await v.subjects.add({ ref: "bench" });
    for (const f of files) {
      const u = await v.uploads.create(s.id, "bench", f.length);
      await v.uploads.append(
        u.id,
        undefined,
        0,
        (async function* () {
          await Promise.resolve();
          yield f;
        })(),
      );
    }
    await v.close();
    const t0 = performance.now();
    const argv = [process.execPath, MAIN, "worker", "--drain", "--poll-ms", "50"];
    // taskset execs the worker in place (same pid): every thread of it on CPU 0.
    const cmd = oneCore ? ["taskset", "-c", "0", ...argv] : argv;
    const procs = Array.from({ length: workers }, () =>
      spawn(cmd[0]!, cmd.slice(1), {
        env: { ...env, VOXVAULT_DATA_DIR: dataDir },
        stdio: "ignore",
      }),
    );
    const watchers = procs.map((p) => watch(p.pid!));
    await Promise.all(procs.map((p) => new Promise((r) => p.once("exit", r))));
    const wallSec = (performance.now() - t0) / 1000;
    const v2 = await openVault({ dataDir, env });
    const recs = await v2.recordings.recordings(s.id);
    await v2.close();
    if (recs.length !== files.length)
      throw new Error(`${recs.length} recordings for ${files.length} uploads`);
    return { wallSec, stats: watchers.map((w) => w.stop()) };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** The reference: `voxvault ingest` of the files split over `procs` processes, each on its own vault. */
async function reference(procs: number, files: readonly Buffer[]): Promise<number> {
  const root = mkdtempSync(path.join(os.tmpdir(), "vv-bench-ref-"));
  try {
    const jobs: { env: NodeJS.ProcessEnv; subject: string; paths: string[] }[] = [];
    for (let p = 0; p < procs; p++) {
      const dir = path.join(root, `v${p}`);
      const env = {
        ...process.env,
        XDG_CONFIG_HOME: path.join(dir, "config"),
        HOME: dir,
        VOXVAULT_DATA_DIR: path.join(dir, "data"),
      };
      await (await initVault({ dataDir: env.VOXVAULT_DATA_DIR, env })).close();
      const v = await openVault({ dataDir: env.VOXVAULT_DATA_DIR, env });
      const subject = (await v.subjects.add({ ref: `ref-${p}` })).id;
      await v.close();
      const paths = files
        .map((f, i) => ({ f, i }))
        .filter((x) => x.i % procs === p)
        .map((x) => {
          const file = path.join(dir, `f${x.i}.wav`);
          writeFileSync(file, x.f);
          return file;
        });
      jobs.push({ env, subject, paths });
    }
    const t0 = performance.now();
    await Promise.all(
      jobs.map(
        (j) =>
          new Promise((resolve, reject) => {
            const c = spawn(process.execPath, [MAIN, "ingest", "--subject", j.subject, ...j.paths], {
              env: j.env,
              stdio: "ignore",
            });
            c.once("exit", (code) => {
              if (code === 0) resolve(code);
              else reject(new Error(`ingest exited ${code}`));
            });
          }),
      ),
    );
    return (performance.now() - t0) / 1000;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

console.log(machineLine());
const files = corpus();
const audioSec = files.reduce((a, f) => a + (f.length - 44) / 32000, 0);
console.log(`corpus: ${files.length} WAV 16 kHz recordings, ${(audioSec / 60).toFixed(1)} min of audio`);
const rows: string[] = [];
// 0: one worker with every thread on one core (taskset -c 0), the "one core" of the goal.
const results: Record<number, number[]> = { 0: [], 1: [], 2: [] };
const label = (w: number): string => (w === 0 ? "1, on one core" : String(w));
for (let round = 0; round < Number(process.env.BENCH_RUNS ?? 2); round++) {
  for (const w of [0, 1, 2]) {
    const r = await run(Math.max(1, w), files, w === 0);
    results[w]!.push(r.wallSec);
    rows.push(
      `| ${label(w)} | ${round + 1} | ${r.wallSec.toFixed(1)} | ${(audioSec / r.wallSec).toFixed(0)}× | ${r.stats.map((s) => s.peakRssMiB.toFixed(0)).join(" / ")} | ${r.stats.map((s) => s.cpuSec.toFixed(1)).join(" / ")} |`,
    );
  }
}
console.log("| workers | round | wall (s) | × real time | peak RSS per worker (MiB) | CPU per worker (s) |");
console.log("| ------: | ----: | -------: | ----------: | ------------------------: | -----------------: |");
for (const r of rows) console.log(r);
const best = (w: number) => Math.min(...results[w]!);
console.log(`2 workers against 1, best of each: ${(best(1) / best(2)).toFixed(2)}×`);
console.log(
  `2 cores against one (the faster of 1 and 2 workers, against 1 worker on one core): ${(best(0) / Math.min(best(1), best(2))).toFixed(2)}× (goal ≥ 1.8×)`,
);
const ref: Record<number, number[]> = { 1: [], 2: [] };
for (let round = 0; round < Number(process.env.BENCH_RUNS ?? 2); round++)
  for (const p of [1, 2]) ref[p]!.push(await reference(p, files));
const rbest = (p: number) => Math.min(...ref[p]!);
console.log(
  `reference, same run (voxvault ingest, no queue; 2 processes on 2 separate vaults): 1 process ${ref[1]!.map((x) => x.toFixed(1)).join(" / ")} s, 2 processes ${ref[2]!.map((x) => x.toFixed(1)).join(" / ")} s: ${(rbest(1) / rbest(2)).toFixed(2)}×`,
);
