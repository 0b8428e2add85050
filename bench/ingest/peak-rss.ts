/**
 * Issue 15 §1: peak RSS of a whole ingest of long interviews, beyond the hour that
 * test/ingest/memory.test.ts holds to 250 MB. Input: two flite voices taking turns, AAC-LC 48 kHz
 * mono 96 kbit/s, one turn encoded once and looped without re-encoding to BENCH_HOURS hours, an
 * index-last M4A as recorders write it. Each run is a fresh Node process running the built library
 * (dist/, `npm run build` first), streaming the file from disk into `vault.recordings.ingest` on a
 * new embedded vault; measured: the kernel's high-water mark (VmHWM) and wall time. The default
 * vault refuses recordings of 4 hours or more (TOO_LONG).
 *
 * Each file is ingested with glibc's default malloc arenas and with MALLOC_ARENA_MAX=2 (what the
 * `voxvault` command sets), alternating.
 *
 * Run: npm run build && node scripts/bench.mjs bench/ingest/peak-rss.ts
 * Env: BENCH_HOURS (comma-separated, default "1,3"), BENCH_RUNS (default 2), BENCH_DIST (the
 * library to load, default dist/index.js: point it at another checkout's build for a reference).
 * Needs flite, sox, ffmpeg.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { encodeInterviewM4a } from "../audio/refs.js";
import { machineLine } from "../machine.js";

const DIST = resolve(process.env.BENCH_DIST ?? "dist/index.js");
const hours = (process.env.BENCH_HOURS ?? "1,3").split(",").map(Number);
const runs = Number(process.env.BENCH_RUNS ?? 2);

function sh(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ["ignore", "ignore", "inherit"] });
}

if (!existsSync(DIST)) throw new Error("dist/ is not built: run `npm run build` first");
const dir = mkdtempSync(join(os.tmpdir(), "voxvault-peak-rss-"));
try {
  sh("flite", [
    "-voice",
    "slt",
    "-t",
    "Could you describe a project you are proud of, and what you would change?",
    "-o",
    join(dir, "q.wav"),
  ]);
  sh("flite", [
    "-voice",
    "awb",
    "-t",
    "I built the pipeline for our recordings and would test its failure paths earlier.",
    "-o",
    join(dir, "a.wav"),
  ]);
  sh("sox", [join(dir, "q.wav"), join(dir, "a.wav"), join(dir, "turn.wav"), "pad", "0", "0.5"]);
  const ff = ["-loglevel", "error", "-y"];
  encodeInterviewM4a(join(dir, "turn.wav"), join(dir, "turn.m4a"));
  const main = join(dir, "ingest.mjs");
  writeFileSync(
    main,
    `import { createReadStream, readFileSync } from "node:fs";
     const [file, vaultDir] = process.argv.slice(2);
     const { initVault } = await import(${JSON.stringify(pathToFileURL(DIST).href)});
     const v = await initVault({ dataDir: vaultDir, keyFile: vaultDir + ".key" });
     const s = await v.subjects.add({ ref: "rss" });
     const t0 = performance.now();
     const r = await v.recordings.ingest({ subjectId: s.id, source: createReadStream(file, { highWaterMark: 1 << 16 }) });
     const wallSec = (performance.now() - t0) / 1000;
     await v.close();
     const hwm = Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))[1]) * 1024;
     console.log(JSON.stringify({ hwm, wallSec, durationSec: r.durationSec }));`,
  );
  console.log(machineLine());
  console.log(`library: ${DIST}`);
  console.log("| recording | malloc arenas | peak RSS (VmHWM) per run | ingest wall per run |");
  console.log("| --- | --- | --- | --- |");
  for (const h of hours) {
    const file = join(dir, `${h}h.m4a`);
    const loops = Math.ceil((h * 3600) / 8) + 1;
    sh("ffmpeg", [
      ...ff,
      "-stream_loop",
      String(loops),
      "-i",
      join(dir, "turn.m4a"),
      "-t",
      String(h * 3600),
      "-c",
      "copy",
      file,
    ]);
    const arenas = ["default", "2"] as const;
    const peaks = new Map<string, string[]>(arenas.map((a) => [a, []]));
    const walls = new Map<string, string[]>(arenas.map((a) => [a, []]));
    for (let r = 0; r < 2 * runs; r++) {
      const a = arenas[r % 2]!;
      const vaultDir = join(dir, `vault-${h}-${r}`);
      const env = { ...process.env };
      if (a === "default") delete env.MALLOC_ARENA_MAX;
      else env.MALLOC_ARENA_MAX = a;
      const out = JSON.parse(
        execFileSync(process.execPath, [main, file, vaultDir], { encoding: "utf8", env }),
      ) as {
        hwm: number;
        wallSec: number;
        durationSec: number;
      };
      if (out.durationSec < h * 3600 - 60) throw new Error(`only ${out.durationSec} s ingested`);
      peaks.get(a)!.push(`${(out.hwm / 1e6).toFixed(0)} MB`);
      walls.get(a)!.push(`${out.wallSec.toFixed(1)} s`);
      rmSync(vaultDir, { recursive: true, force: true });
    }
    rmSync(file, { force: true });
    for (const a of arenas) {
      console.log(`| ${h} h | ${a} | ${peaks.get(a)!.join(", ")} | ${walls.get(a)!.join(", ")} |`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
