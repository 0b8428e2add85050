/**
 * Issue 15 §1: a 60-minute M4A stays within 250 MB RSS through the whole ingest (decoder worker,
 * analysis worker, features, embedder, diarisation, storage), not only through the decoder
 * (test/audio/decode/memory.test.ts). Measured in a fresh process running the built library
 * (dist/, made by `npm test`'s build step), the recording streamed from disk as an upload is;
 * the peak is the kernel's high-water mark (VmHWM), not a sample.
 */
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loopEncoded, run, tempDir } from "../audio/decode/fixtures.js";
import { missingTools } from "../audio/decode/tools.js";

const DIST = join(process.cwd(), "dist/index.js");
const MB = 1e6;

describe("ingest memory", () => {
  const t = tempDir();
  afterAll(t.cleanup);
  const skip =
    missingTools("flite", "sox", "ffmpeg") ?? (existsSync(DIST) ? null : "skipped: dist/ not built");
  let m4a = "";
  beforeAll(() => {
    if (skip !== null) return;
    // two voices taking turns, encoded once, then looped to an hour without re-encoding; ffmpeg
    // writes the index (moov) after the media, as recorders do
    const say = (voice: string, text: string, name: string): string => {
      const out = join(t.dir, name);
      run("flite", ["-voice", voice, "-t", text, "-o", out]);
      return out;
    };
    const q = say(
      "slt",
      "Could you describe a project you are proud of, and what you would change?",
      "q.wav",
    );
    const a = say(
      "awb",
      "I built the pipeline for our recordings and would test its failure paths earlier.",
      "a.wav",
    );
    const turn = join(t.dir, "turn.wav");
    run("sox", [q, a, turn, "pad", "0", "0.5"]);
    run("ffmpeg", [
      "-loglevel",
      "error",
      "-y",
      "-i",
      turn,
      "-c:a",
      "aac",
      "-b:a",
      "96k",
      "-ar",
      "48000",
      join(t.dir, "turn.m4a"),
    ]);
    m4a = join(t.dir, "hour.m4a");
    loopEncoded(join(t.dir, "turn.m4a"), m4a, 2000, 3600);
  });

  it.skipIf(skip !== null)(
    `a 60-minute M4A interview is ingested within 250 MB RSS ${skip ?? ""}`,
    () => {
      const main = join(t.dir, "ingest-rss.mjs");
      writeFileSync(
        main,
        `import { createReadStream, readFileSync } from "node:fs";
         const { initVault } = await import(${JSON.stringify(pathToFileURL(DIST).href)});
         const v = await initVault({ dataDir: ${JSON.stringify(join(t.dir, "vault"))}, keyFile: ${JSON.stringify(join(t.dir, "root.key"))} });
         const s = await v.subjects.add({ ref: "rss" });
         const opened = process.memoryUsage.rss();
         const r = await v.recordings.ingest({ subjectId: s.id, source: createReadStream(${JSON.stringify(m4a)}, { highWaterMark: 1 << 16 }) });
         await v.close();
         const hwm = Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))[1]) * 1024;
         console.log(JSON.stringify({ opened, hwm, durationSec: r.durationSec, enrolment: r.enrolment ?? null }));`,
      );
      const r = JSON.parse(execFileSync(process.execPath, [main], { encoding: "utf8" })) as {
        opened: number;
        hwm: number;
        durationSec: number;
        enrolment: string | null;
      };
      console.log(
        `ingest of 60 min: RSS ${(r.opened / MB).toFixed(0)} MB after opening, peak ${(r.hwm / MB).toFixed(0)} MB`,
      );
      expect(r.durationSec).toBeGreaterThan(59 * 60);
      expect(r.hwm / MB).toBeLessThanOrEqual(250);
    },
    240_000,
  );
});
