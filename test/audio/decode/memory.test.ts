import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compiledDecode, loopEncoded, run, speech, tempDir } from "./fixtures.js";
import { missingTools } from "./tools.js";

interface Report {
  baseRss: number;
  peakRss: number;
  /** Peak RSS over the first quarter of the audio: later growth would mean memory scales with length. */
  quarterRss: number;
  seconds: number;
  inputBytes: number;
}

/**
 * Runs decodeToMono16k from the compiled output in a fresh node process (clean RSS), over an
 * input stream generated on the fly (nothing on disk), and reports RSS sampled while consuming.
 */
function measure(dir: string, source: string, expectedSec: number): Report {
  const { indexUrl } = compiledDecode();
  const main = join(dir, `mem-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(
    main,
    `import { readFileSync } from "node:fs";
     const { decodeToMono16k } = await import(${JSON.stringify(indexUrl.href)});
     let inputBytes = 0;
     ${source}
     async function* counted() { for await (const b of src()) { inputBytes += b.length; yield b; } }
     globalThis.gc?.();
     const baseRss = process.memoryUsage.rss();
     let peakRss = baseRss, quarterRss = 0, n = 0, k = 0;
     const d = await decodeToMono16k(counted());
     for await (const c of d.pcm) {
       n += c.length;
       if ((k++ & 15) === 0) peakRss = Math.max(peakRss, process.memoryUsage.rss());
       if (!quarterRss && n / 16000 > ${expectedSec} / 4) quarterRss = peakRss;
     }
     console.log(JSON.stringify({ baseRss, peakRss, quarterRss, seconds: n / 16000, inputBytes }));`,
  );
  const r = JSON.parse(execFileSync(process.execPath, ["--expose-gc", main], { encoding: "utf8" })) as Report;
  console.log(
    `RSS ${(r.baseRss / MB).toFixed(0)} MB, ${(r.quarterRss / MB).toFixed(0)} MB after 1/4, peak ${(r.peakRss / MB).toFixed(0)} MB; ${(r.seconds / 60).toFixed(1)} min`,
  );
  return r;
}

const MB = 1024 * 1024;

describe("bounded memory", () => {
  const t = tempDir();
  afterAll(t.cleanup);
  let mp3 = "";
  let m4a = "";
  const skip = missingTools("flite", "lame", "sox");
  const skipM4a = missingTools("flite", "sox", "ffmpeg");
  beforeAll(() => {
    compiledDecode();
    if (skip === null) {
      const wav = speech(t.dir, "Memory stays bounded while a long recording streams through the decoder.");
      run("sox", [wav, "-r", "44100", join(t.dir, "long.wav"), "repeat", "5"]);
      // -t: no Xing tag, so copies of the frames can be concatenated into a longer stream.
      mp3 = join(t.dir, "piece.mp3");
      run("lame", ["--quiet", "-t", join(t.dir, "long.wav"), mp3]);
    }
    if (skipM4a === null) {
      const wav = speech(t.dir, "An hour-long interview, its index written after its media.", "m4a.wav");
      run("ffmpeg", [
        "-loglevel",
        "error",
        "-y",
        "-i",
        wav,
        "-c:a",
        "aac",
        "-b:a",
        "64k",
        join(t.dir, "piece.m4a"),
      ]);
      // ~60 minutes by looping the encoded piece (no re-encoding); ffmpeg writes the moov last
      m4a = join(t.dir, "hour.m4a");
      loopEncoded(join(t.dir, "piece.m4a"), m4a, 1000, 3600);
    }
  });

  it("a 400 MB 48 kHz stereo WAV streams through with bounded RSS", () => {
    const r = measure(
      t.dir,
      `const frames = 48000 * 60 * 35; // 35 minutes, ~400 MB
       function header() {
         const h = new Uint8Array(44), v = new DataView(h.buffer);
         h.set([82,73,70,70]); v.setUint32(4, 36 + frames * 4, true); h.set([87,65,86,69,102,109,116,32], 8);
         v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 2, true); v.setUint32(24, 48000, true);
         v.setUint32(28, 192000, true); v.setUint16(32, 4, true); v.setUint16(34, 16, true);
         h.set([100,97,116,97], 36); v.setUint32(40, frames * 4, true); return h;
       }
       const block = new Uint8Array(65536); const bv = new DataView(block.buffer);
       for (let i = 0; i < 16384; i++) { const s = Math.round(8000 * Math.sin(i * 0.05)); bv.setInt16(4 * i, s, true); bv.setInt16(4 * i + 2, -s, true); }
       async function* src() { yield header(); for (let left = frames * 4; left > 0; left -= 65536) yield block.subarray(0, Math.min(65536, left)); }`,
      35 * 60,
    );
    expect(r.seconds).toBeCloseTo(35 * 60, 0);
    expect(r.inputBytes).toBeGreaterThan(400e6);
    expect(r.peakRss / MB).toBeLessThan(200);
    expect((r.peakRss - r.quarterRss) / MB).toBeLessThan(40);
  });

  it.skipIf(skip !== null)(
    `a 24-minute MP3 streams through the worker with bounded RSS ${skip ?? ""}`,
    () => {
      const r = measure(
        t.dir,
        `const piece = readFileSync(${JSON.stringify(mp3)});
       async function* src() { for (let i = 0; i < 60; i++) yield piece; }`,
        60 * 24.5,
      );
      expect(r.seconds).toBeGreaterThan(20 * 60);
      expect(r.peakRss / MB).toBeLessThan(200);
      expect((r.peakRss - r.quarterRss) / MB).toBeLessThan(40);
    },
  );

  it.skipIf(skipM4a !== null)(
    `a 60-minute M4A with its index last goes through the ciphertext spool in bounded RSS ${skipM4a ?? ""}`,
    () => {
      const r = measure(
        t.dir,
        `const { createReadStream } = await import("node:fs");
         async function* src() { yield* createReadStream(${JSON.stringify(m4a)}, { highWaterMark: 1 << 16 }); }`,
        3600,
      );
      expect(r.seconds).toBeGreaterThan(59 * 60);
      // the bound is 250 MB; nothing here grows with the length but the moov itself
      expect(r.peakRss / MB).toBeLessThan(250);
      expect((r.peakRss - r.quarterRss) / MB).toBeLessThan(40);
    },
  );
});
