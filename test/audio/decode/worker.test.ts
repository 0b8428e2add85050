import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeAudio } from "../../../src/audio/decode/index.js";
import { bytesOf, collectPlanar, compiledDecode, expectCode, run, speech, tempDir } from "./fixtures.js";
import { missingTools } from "./tools.js";

/** A syntactically valid FLAC STREAMINFO (16 kHz mono 16-bit, 10 s) followed by junk frames. */
function fakeFlac(bytes = 64 * 1024): Uint8Array {
  const b = new Uint8Array(42 + bytes);
  b.set([0x66, 0x4c, 0x61, 0x43, 0x80, 0, 0, 34, 0x10, 0x00, 0x10, 0x00]);
  // rate 16000 (20 bits) | channels-1 (3) | bps-1 (5) | total samples (36)
  const rate = 16000;
  b[18] = rate >> 12;
  b[19] = (rate >> 4) & 0xff;
  b[20] = ((rate & 0xf) << 4) | (0 << 1) | (15 >> 4);
  b[21] = (15 & 0xf) << 4;
  new DataView(b.buffer).setUint32(22, 160000);
  return b;
}

describe("decoder worker", () => {
  const t = tempDir();
  let workerUrl: URL;
  beforeAll(() => {
    workerUrl = compiledDecode().workerUrl;
  });
  afterAll(t.cleanup);

  function script(name: string, body: string): URL {
    const p = join(t.dir, name);
    writeFileSync(p, `import { parentPort } from "node:worker_threads";\n${body}\n`);
    return pathToFileURL(p);
  }

  it("a decoder that stalls is terminated: DECODE_TIMEOUT, no hang", async () => {
    // Acks init, then spins forever on the first data message, as a quadratic or looping decoder would.
    const stall = script(
      "stall.mjs",
      `parentPort.on("message", (m) => { if (m.type === "init") parentPort.postMessage({ type: "ack" }); else for (;;) {} });`,
    );
    const limits = { decodeFloorMs: 300, decodeMsPerMiB: 0, decodeMsPerAudioSec: 0 };
    const started = performance.now();
    const d = await decodeAudio(bytesOf(fakeFlac()), { workerUrl: stall, limits });
    await expectCode(() => collectPlanar(d.chunks), "DECODE_TIMEOUT");
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it("the real decoder times out on its budget too (tiny budget)", async () => {
    const limits = { decodeFloorMs: 1, decodeMsPerMiB: 0, decodeMsPerAudioSec: 0 };
    const d = await decodeAudio(bytesOf(fakeFlac()), { workerUrl, limits });
    await expectCode(() => collectPlanar(d.chunks), "DECODE_TIMEOUT");
  });

  it("a decoder that crashes gives CORRUPT_AUDIO", async () => {
    const crash = script("crash.mjs", `parentPort.on("message", () => { throw new Error("boom"); });`);
    const d = await decodeAudio(bytesOf(fakeFlac()), { workerUrl: crash });
    await expectCode(() => collectPlanar(d.chunks), "CORRUPT_AUDIO");
  });

  it("junk after a valid FLAC header is CORRUPT_AUDIO, not a crash", async () => {
    const d = await decodeAudio(bytesOf(fakeFlac(), 1000), { workerUrl });
    expect(d.info).toMatchObject({
      container: "flac",
      sampleRate: 16000,
      channels: 1,
      declaredDurationSec: 10,
    });
    await expectCode(() => collectPlanar(d.chunks), "CORRUPT_AUDIO");
  });

  it("running from sources without a built worker is a clear INTERNAL error", async () => {
    const d = await decodeAudio(bytesOf(fakeFlac()));
    await expectCode(() => collectPlanar(d.chunks), "INTERNAL");
  });

  it("the ffmpeg fallback is time-bounded too, and absent ffmpeg is UNSUPPORTED_FORMAT", async () => {
    const amr = new Uint8Array(300_000).fill(0x3c); // more than a pipe buffer, so writes block
    amr.set(new TextEncoder().encode("FORM\0\x04\x93\xe8AIFF")); // AIFF: no native decoder
    const hang = join(t.dir, "hanging-ffmpeg.sh");
    writeFileSync(hang, "#!/bin/sh\nexec sleep 30\n", { mode: 0o755 });
    const limits = { decodeFloorMs: 300, decodeMsPerMiB: 0, decodeMsPerAudioSec: 0 };
    const started = performance.now();
    await expectCode(
      decodeAudio(bytesOf(amr, 4096), { ffmpegFallback: true, ffmpegPath: hang, limits }),
      "DECODE_TIMEOUT",
    );
    expect(performance.now() - started).toBeLessThan(5000);
    const missing = join(t.dir, "no-such-ffmpeg");
    await expectCode(
      decodeAudio(bytesOf(amr), { ffmpegFallback: true, ffmpegPath: missing }),
      "UNSUPPORTED_FORMAT",
    );
  });

  const skip = missingTools("flite", "flac");
  it.skipIf(skip !== null)(`compiled output finds its sibling worker.js by default ${skip ?? ""}`, () => {
    const { indexUrl } = compiledDecode();
    const wav = speech(t.dir, "compiled output test");
    run("flac", ["-s", "-f", wav, "-o", join(t.dir, "c.flac")]);
    const main = join(t.dir, "main.mjs");
    writeFileSync(
      main,
      `import { readFileSync } from "node:fs";
       const { decodeToMono16k } = await import(${JSON.stringify(indexUrl.href)});
       async function* src() { yield readFileSync(${JSON.stringify(join(t.dir, "c.flac"))}); }
       const d = await decodeToMono16k(src());
       let n = 0; for await (const c of d.pcm) n += c.length;
       console.log(JSON.stringify({ container: d.info.container, n }));`,
    );
    const out = JSON.parse(execFileSync(process.execPath, [main], { encoding: "utf8" })) as {
      container: string;
      n: number;
    };
    expect(out.container).toBe("flac");
    expect(out.n).toBe(readFileSync(wav).length / 2 - 22);
  });
});
