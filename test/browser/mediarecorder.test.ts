/**
 * What browsers upload: speech played through Web Audio into Chromium's own MediaRecorder
 * (`audio/webm;codecs=opus`, unknown Segment/Cluster sizes, no duration, no cues), recorded in
 * headless Chromium in real time, then ingested and verified by the vault like any upload.
 */

import { createReadStream, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Vault } from "../../src/platform/vault.js";
import { readMono } from "../audio/features/gen.js";
import { HAVE_AUDIO_TOOLS, speech } from "../support/audio.js";
import { BACKENDS, collectBytes, sandbox, type Sandbox } from "../support/backends.js";
import { HAVE_CHROMIUM, launchChromium } from "../support/chromium.js";

const PROBE = "Thank you for inviting me to this interview today.";

function once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  return Readable.from([Buffer.from(bytes)]) as AsyncIterable<Uint8Array>;
}

/**
 * Runs in the page (plain JS: this project's TypeScript has no DOM types): fetches 16 kHz float32
 * PCM, plays it into a 48 kHz AudioContext and records it with MediaRecorder in 250 ms timeslices,
 * as a live upload would be written.
 */
const RECORDER = `async (url) => {
  const samples = new Float32Array(await (await fetch(url)).arrayBuffer());
  const ctx = new AudioContext({ sampleRate: 48000 });
  await ctx.resume();
  const buf = ctx.createBuffer(1, samples.length, 16000);
  buf.copyToChannel(samples, 0);
  const src = ctx.createBufferSource();
  src.buffer = buf;
  const dest = ctx.createMediaStreamDestination();
  src.connect(dest);
  const rec = new MediaRecorder(dest.stream, { mimeType: "audio/webm;codecs=opus" });
  const parts = [];
  rec.ondataavailable = (e) => parts.push(e.data);
  const stopped = new Promise((resolve) => (rec.onstop = resolve));
  rec.start(250);
  src.start();
  await new Promise((resolve) => (src.onended = resolve));
  // Let the last packets through the encoder before stopping.
  await new Promise((resolve) => setTimeout(resolve, 150));
  rec.stop();
  await stopped;
  await ctx.close();
  const bytes = new Uint8Array(await new Blob(parts).arrayBuffer());
  return { bytes: Array.from(bytes), mimeType: rec.mimeType };
}`;

describe.runIf(HAVE_CHROMIUM && HAVE_AUDIO_TOOLS)("browser: Chromium MediaRecorder uploads", () => {
  let server: Server;
  let base = "";
  let context: BrowserContext;
  let page: Page;
  let sb: Sandbox;
  let v: Vault;
  const pcms = new Map<string, Float32Array>();
  const profileDir = mkdtempSync(join(tmpdir(), "vv-chromium-rec-"));

  beforeAll(async () => {
    server = createServer((req, res) => {
      const pcm = pcms.get(req.url ?? "");
      if (req.url === "/") {
        res.writeHead(200, { "content-type": "text/html" });
        res.end('<!doctype html><meta charset="utf-8"><title>recorder</title>');
      } else if (pcm) {
        res.writeHead(200, { "content-type": "application/octet-stream" });
        res.end(new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    context = await launchChromium(profileDir, ["--autoplay-policy=no-user-gesture-required"]);
    page = await context.newPage();
    await page.goto(base + "/");
    sb = sandbox(BACKENDS[0]!);
    v = await sb.init();
  }, 60_000);

  afterAll(async () => {
    await (v as Vault | undefined)?.close();
    await (sb as Sandbox | undefined)?.cleanup();
    await (context as BrowserContext | undefined)?.close();
    await new Promise<void>((resolve) => {
      if ((server as Server | undefined) === undefined) resolve();
      else
        server.close(() => {
          resolve();
        });
    });
    rmSync(profileDir, { recursive: true, force: true });
  });

  /** Plays 16 kHz PCM into a 48 kHz AudioContext and records it with MediaRecorder. */
  async function record(name: string, pcm: Float32Array): Promise<{ bytes: Uint8Array; mimeType: string }> {
    pcms.set(`/${name}.f32`, pcm);
    const r = await page.evaluate<{ bytes: number[]; mimeType: string }>(
      `(${RECORDER})(${JSON.stringify(`${base}/${name}.f32`)})`,
    );
    return { bytes: Uint8Array.from(r.bytes), mimeType: r.mimeType };
  }

  it("ingests a MediaRecorder WebM/Opus file and verifies the speaker in it", async () => {
    const s = await v.subjects.add({ ref: "browser-applicant" });
    for (const t of [
      "The quick brown fox jumps over the lazy dog while the interviewer waits patiently.",
      "I have worked on speech annotation projects for three years.",
      "My favourite task is transcribing interviews.",
    ]) {
      await v.recordings.ingest({
        subjectId: s.id,
        source: createReadStream(speech(t, "slt")) as AsyncIterable<Uint8Array>,
      });
    }

    const same = readMono(speech(PROBE, "slt")).pcm;
    const rec = await record("slt", same);
    expect(rec.mimeType).toContain("audio/webm");
    // EBML magic: a real browser WebM, not a file we wrote.
    expect(Array.from(rec.bytes.subarray(0, 4))).toEqual([0x1a, 0x45, 0xdf, 0xa3]);

    const r = await v.recordings.ingest({ subjectId: s.id, source: once(rec.bytes) });
    expect(r.format).toMatchObject({ container: "webm", codec: "opus", sampleRate: 48000 });
    expect(r.derivations.map((d) => d.name).sort()).toEqual([
      "quality",
      "speaker-template",
      "speakers",
      "voice-stats",
    ]);
    const quality = r.derivations.find((d) => d.name === "quality")!;
    const q = JSON.parse((await collectBytes((await v.blobs.read(quality.blobId)).stream)).toString()) as {
      durationMilliSec: number;
      speechRatioMilli: number;
    };
    // Real-time recording: the browser may drop or add a few tens of milliseconds at the ends.
    const played = (same.length / 16000) * 1000;
    expect(Math.abs(q.durationMilliSec - played)).toBeLessThan(300);
    expect(q.speechRatioMilli).toBeGreaterThan(400);

    const verdict = await v.recordings.verifySpeaker({
      subjectId: s.id,
      source: once((await record("slt-again", same)).bytes),
    });
    expect(verdict.match).toBe(true);
    const proxy = await v.recordings.verifySpeaker({
      subjectId: s.id,
      source: once((await record("kal16", readMono(speech(PROBE, "kal16")).pcm)).bytes),
    });
    console.log(
      `MediaRecorder WebM: ${rec.bytes.length} bytes; same speaker score ${verdict.score.toFixed(3)}, ` +
        `proxy ${proxy.score.toFixed(3)}, threshold ${verdict.threshold.toFixed(3)}`,
    );
    expect(proxy.match).toBe(false);
    expect(proxy.score).toBeLessThan(verdict.score);
  }, 120_000);
});
