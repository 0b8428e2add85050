/**
 * `voxvault import` end to end (issue 13): BENCH_IMPORT_N generated recordings (default 1,000;
 * mixed formats: WAV 16 kHz, FLAC, MP3 44.1 kHz stereo 64k, Ogg Opus; durations log-uniform
 * 5 s–10 min from real-voice synthesis) in an S3 bucket of the throwaway RGW, imported by key
 * pattern with --delete-source by the built CLI (one worker inside the importer, one
 * `voxvault worker` beside it: two workers on two cores). Reports hours of audio per core-hour,
 * peak RSS per worker, and the projection for 40,000 contractors × 100 MB.
 * Needs flite, sox, ffmpeg and eval "$(scripts/s3-throwaway.sh start)".
 *   node scripts/bench.mjs bench/ingest/import.ts
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ListObjectVersionsCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import type { ImportReport } from "../../src/ingest/import/service.js";
import { initVault } from "../../src/platform/index.js";
import { sox, speech } from "../../test/support/audio.js";
import { freshBucket, S3_ENDPOINT, s3Env } from "../../test/support/s3.js";
import { machineLine } from "../machine.js";
import { pool, run } from "../privacy/tools.js";
import { watch } from "./proc-stats.js";
import { prng } from "../../test/support/prng.js";

const N = Number(process.env.BENCH_IMPORT_N ?? 1000);
const CONTRACTORS = Math.max(1, Math.round(N / 10));
const MAIN = path.resolve("dist/bin/voxvault.js");
const GEN = path.join(os.tmpdir(), `voxvault-bench-import-${N}`);

/** A 12-minute looped speech file per voice, cut at varying offsets for each recording. */
function longVoices(): string[] {
  return (["slt", "awb", "rms", "kal16"] as const).map((v) => {
    const base = speech(
      "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. It is easy to tell the depth of a well. These days a chicken leg is a rare dish.",
      v,
    );
    return sox(base, "long", ["repeat", "80"]); // ~12–15 min
  });
}

interface Item {
  readonly key: string;
  readonly file: string;
  readonly seconds: number;
  readonly voice: string;
  readonly offset: number;
  readonly fmt: string;
}

async function generate(): Promise<Item[]> {
  mkdirSync(GEN, { recursive: true });
  const voices = longVoices();
  const random = prng(1234);
  const items: Item[] = [];
  for (let i = 0; i < N; i++) {
    const seconds = Math.round(5 * Math.exp(random() * Math.log(600 / 5)) * 100) / 100;
    const offset = Math.round(random() * 60 * 100) / 100;
    const fmt = ["wav", "flac", "mp3", "ogg"][i % 4]!;
    const file = path.join(GEN, `r${String(i).padStart(5, "0")}.${fmt}`);
    const key = `c${String(i % CONTRACTORS).padStart(4, "0")}/r${String(i).padStart(5, "0")}.${fmt}`;
    items.push({ key, file, seconds, voice: voices[i % voices.length]!, offset, fmt });
  }
  // Files from an earlier run of the same size are reused (the corpus is deterministic).
  await pool(
    items.filter((x) => !existsSync(x.file)),
    2,
    async (x) => {
      const trim = ["trim", String(x.offset), String(x.seconds)];
      if (x.fmt === "wav" || x.fmt === "flac") {
        await run("sox", [x.voice, x.file, ...trim]);
        return;
      }
      const tmp = `${x.file}.src.wav`;
      await run("sox", [x.voice, tmp, ...trim]);
      const codec =
        x.fmt === "mp3"
          ? ["-ar", "44100", "-ac", "2", "-c:a", "libmp3lame", "-b:a", "64k"]
          : ["-c:a", "libopus", "-b:a", "24k"];
      await run("ffmpeg", ["-loglevel", "error", "-y", "-i", tmp, ...codec, x.file]);
      rmSync(tmp);
    },
  );
  return items;
}

console.log(machineLine());
const t0 = performance.now();
const items = await generate();
const bytes = items.reduce((a, x) => a + statSync(x.file).size, 0);
const audioHours = items.reduce((a, x) => a + x.seconds, 0) / 3600;
console.log(
  `corpus: ${N} recordings of ${CONTRACTORS} contractors, ${audioHours.toFixed(2)} h of audio, ${(bytes / 1e9).toFixed(2)} GB (generated in ${((performance.now() - t0) / 1000).toFixed(0)} s)`,
);

const bucket = await freshBucket();
const root = mkdtempSync(path.join(os.tmpdir(), "vv-bench-import-"));
try {
  for (const x of items)
    await bucket.client.send(
      new PutObjectCommand({
        Bucket: bucket.config.bucket,
        Key: `archive/${x.key}`,
        Body: readFileSync(x.file),
      }),
    );
  const env = {
    ...process.env,
    XDG_CONFIG_HOME: path.join(root, "config"),
    HOME: root,
    VOXVAULT_DATA_DIR: path.join(root, "data"),
  };
  await (await initVault({ dataDir: env.VOXVAULT_DATA_DIR, env })).close();
  const creds = s3Env();
  const importEnv = {
    ...env,
    VOXVAULT_IMPORT_S3_ACCESS_KEY_ID: creds.VOXVAULT_S3_ACCESS_KEY_ID,
    VOXVAULT_IMPORT_S3_SECRET_ACCESS_KEY: creds.VOXVAULT_S3_SECRET_ACCESS_KEY,
  };
  const start = performance.now();
  const importer = spawn(
    process.execPath,
    [
      MAIN,
      "--json",
      "import",
      `s3://${bucket.config.bucket}/archive/`,
      "--key-pattern",
      "^(?<ref>c\\d+)/(?<externalId>r\\d+)\\.\\w+$",
      "--delete-source",
      "--source-endpoint",
      S3_ENDPOINT!,
      "--source-region",
      bucket.config.region,
      "--source-path-style",
      "--workers",
      "1",
      "--window",
      "8",
    ],
    { env: importEnv, stdio: ["ignore", "pipe", "inherit"] },
  );
  const worker = spawn(process.execPath, [MAIN, "worker", "--poll-ms", "100"], { env, stdio: "ignore" });
  const wi = watch(importer.pid!);
  const ww = watch(worker.pid!);
  let out = "";
  importer.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => importer.once("exit", r));
  const wallSec = (performance.now() - start) / 1000;
  const si = wi.stop();
  worker.kill("SIGTERM");
  await new Promise((r) => worker.once("exit", r));
  const sw = ww.stop();
  if (code !== 0) throw new Error(`import exited ${code}`);
  const report = JSON.parse(out.trim().split("\n").at(-1)!) as ImportReport;
  const left = await bucket.client.send(
    new ListObjectVersionsCommand({ Bucket: bucket.config.bucket, Prefix: "archive/" }),
  );
  const leftCount = (left.Versions?.length ?? 0) + (left.DeleteMarkers?.length ?? 0);
  const cpuHours = (si.cpuSec + sw.cpuSec) / 3600;
  const perCoreHour = report.audioHours / cpuHours;
  const wallPerCoreHour = report.audioHours / ((wallSec / 3600) * 2);
  console.log("| what | value |");
  console.log("| ---- | ----: |");
  console.log(
    `| recordings imported / skipped / failed | ${report.imported} / ${report.skipped} / ${report.failed} ${JSON.stringify(report.failedByCode)} |`,
  );
  console.log(`| audio imported | ${report.audioHours.toFixed(2)} h |`);
  console.log(
    `| raw voice destroyed at the source | ${(report.bytesDestroyed / 1e9).toFixed(3)} GB (objects left under the prefix: ${leftCount}) |`,
  );
  console.log(`| wall time (2 workers on 2 cores) | ${(wallSec / 60).toFixed(1)} min |`);
  console.log(`| CPU time, importer + worker | ${(cpuHours * 60).toFixed(1)} min |`);
  console.log(`| hours of audio per core-hour (CPU) | ${perCoreHour.toFixed(1)} |`);
  console.log(`| hours of audio per core-hour (wall × 2 cores) | ${wallPerCoreHour.toFixed(1)} |`);
  console.log(
    `| peak RSS: importer with its worker / worker | ${si.peakRssMiB.toFixed(0)} / ${sw.peakRssMiB.toFixed(0)} MiB |`,
  );
  // Hours as the vault measured them (the generator's nominal durations overstate long cuts).
  const hoursPerGB = report.audioHours / (report.bytesImported / 1e9);
  const archiveHours = 40_000 * 0.1 * hoursPerGB; // 40,000 × 100 MB = 4 TB
  const coreHours = archiveHours / wallPerCoreHour;
  console.log(
    `projection: 40,000 × 100 MB = 4 TB at this corpus's ${hoursPerGB.toFixed(1)} h of audio per GB = ${(archiveHours / 1000).toFixed(0)}k h of audio; at ${wallPerCoreHour.toFixed(1)} h per core-hour that is ${(coreHours / 1000).toFixed(1)}k core-hours: ${(coreHours / 24 / 16).toFixed(0)} days on 16 cores`,
  );
} finally {
  await bucket.drop();
  rmSync(root, { recursive: true, force: true });
}
