import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { BroadcastChannel } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveLimits } from "../../../src/audio/pcm/limits.js";
import type { AudioInfo, DecodeLimits, PlanarChunk } from "../../../src/audio/pcm/types.js";
import { openWorkerDecode, type WorkerPiece } from "../../../src/audio/decode/worker-host.js";
import { bytesOf, compiledDecode, expectCode, run, tempDir } from "./fixtures.js";
import { missingTools } from "./tools.js";

interface Fake {
  /** The data piece (0-based) that fails: an error reply, or a decoder spinning forever. */
  readonly failAt?: number;
  readonly fail?: "error" | "spin";
  /** Synchronous "decoding" time per data piece. */
  readonly busyMs?: number;
  /** Broadcasts "tick" every 10 ms while alive. */
  readonly heartbeat?: boolean;
}

/**
 * A stand-in decoder worker that broadcasts each request it receives (the data piece's index, or
 * "end") on its own channel, so a test sees what was sent when. It answers each data piece with
 * two chunks: the piece's bytes as samples, then the piece's index.
 */
function fakeWorker(dir: string, name: string, cfg: Fake): { url: URL; channel: string } {
  const channel = `voxvault-pipeline-${name}-${process.pid}`;
  const p = join(dir, `${name}.mjs`);
  writeFileSync(
    p,
    `import { parentPort, BroadcastChannel } from "node:worker_threads";
     const cfg = ${JSON.stringify(cfg)};
     const bc = new BroadcastChannel(${JSON.stringify(channel)});
     if (cfg.heartbeat) setInterval(() => bc.postMessage("tick"), 10);
     let n = 0;
     parentPort.on("message", (m) => {
       if (m.type === "init") return void parentPort.postMessage({ type: "ack" });
       const i = m.type === "end" ? "end" : n++;
       bc.postMessage(i);
       if (i === cfg.failAt && cfg.fail === "error")
         return void parentPort.postMessage({ type: "error", code: "CORRUPT_AUDIO", message: "bad piece" });
       if (i === cfg.failAt && cfg.fail === "spin") for (;;);
       const until = Date.now() + (cfg.busyMs ?? 0);
       while (Date.now() < until);
       if (m.type === "data") {
         parentPort.postMessage({ type: "pcm", channels: [Float32Array.from(m.bytes)] });
         parentPort.postMessage({ type: "pcm", channels: [new Float32Array([i])] });
       }
       parentPort.postMessage({ type: "ack" });
     });`,
  );
  return { url: pathToFileURL(p), channel };
}

/** What the fake worker reported receiving, with a wait for a report. */
function listen(channel: string): {
  got: (number | string)[];
  until: (what: number | string, ms?: number) => Promise<void>;
  close: () => void;
} {
  const bc = new BroadcastChannel(channel);
  const got: (number | string)[] = [];
  bc.onmessage = (e) => got.push(e.data as number | string);
  const until = async (what: number | string, ms = 5000): Promise<void> => {
    const deadline = performance.now() + ms;
    while (!got.includes(what)) {
      if (performance.now() > deadline) throw new Error(`the worker was not sent ${what}`);
      await sleep(5);
    }
  };
  return {
    got,
    until,
    close: () => {
      bc.close();
    },
  };
}

/** n pieces of 8 distinct bytes each, counting how many were pulled and whether input closed. */
function counted(
  n: number,
  failAfter = Infinity,
): { pieces: AsyncIterable<WorkerPiece>; pulled: () => number; closed: () => boolean } {
  let pulled = 0;
  let closed = false;
  async function* gen(): AsyncGenerator<WorkerPiece, void, undefined> {
    try {
      for (let i = 0; i < n; i++) {
        await Promise.resolve();
        if (i >= failAfter) throw new Error("input broke");
        pulled++;
        yield Uint8Array.from({ length: 8 }, (_, j) => 10 * i + j);
      }
    } finally {
      closed = true;
    }
  }
  return { pieces: gen(), pulled: () => pulled, closed: () => closed };
}

/** The fake worker's output for pieces 0..n-1. */
function expected(n: number): number[][] {
  return Array.from({ length: n }, (_, i) => [Array.from({ length: 8 }, (_, j) => 10 * i + j), [i]]).flat();
}

const info: AudioInfo = { container: "flac", codec: "flac", sampleRate: 16000, channels: 1 };
const limitsOf = (o: Partial<DecodeLimits> = {}): DecodeLimits => resolveLimits(o);
const busy = (ms: number): void => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

describe("pipelined worker decode", () => {
  const t = tempDir();
  beforeAll(() => {
    compiledDecode();
  });
  afterAll(t.cleanup);

  it("sends piece k+1 while the consumer is busy with piece k, and no further", async () => {
    const n = 5;
    const fake = fakeWorker(t.dir, "overlap", {});
    const w = listen(fake.channel);
    try {
      const input = counted(n);
      const d = await openWorkerDecode(input.pieces, {
        codec: "flac",
        info,
        limits: limitsOf(),
        workerUrl: fake.url,
      });
      const out: number[][] = [];
      for await (const c of d.chunks) {
        out.push(Array.from(c[0]!));
        if (out.length % 2 === 1) continue;
        // Piece k's last chunk, the consumer still at work: the worker has piece k+1 (or the end).
        const k = out.length / 2 - 1;
        await w.until(k + 1 < n ? k + 1 : "end");
        await sleep(30); // a slow consumer: nothing more is read or sent meanwhile
        const sent = Array.from({ length: Math.min(k + 2, n) }, (_, i) => i);
        expect(w.got.filter((g) => typeof g === "number")).toEqual(sent);
        expect(input.pulled()).toBe(Math.min(k + 2, n));
      }
      expect(out).toEqual(expected(n));
    } finally {
      w.close();
    }
  });

  const skip = missingTools("sox");
  it.skipIf(skip !== null)(
    `real decoder: same chunks as a fast consumer, same samples as one request ${skip ?? ""}`,
    async () => {
      const flac = join(t.dir, "tones.flac");
      run("sox", [
        "-n",
        "-r",
        "16000",
        "-c",
        "2",
        "-b",
        "16",
        flac,
        "synth",
        "6",
        "sine",
        "200-3000",
        "sine",
        "440",
        "vol",
        "0.5",
      ]);
      const bytes = new Uint8Array(readFileSync(flac));
      const { workerUrl } = compiledDecode();
      const stereo: AudioInfo = { ...info, channels: 2 };
      const decode = async (
        pieceBytes: number,
        perChunk?: () => Promise<unknown>,
      ): Promise<PlanarChunk[]> => {
        const d = await openWorkerDecode(bytesOf(bytes, pieceBytes), {
          codec: "flac",
          info: stereo,
          limits: limitsOf(),
          workerUrl,
        });
        const out: PlanarChunk[] = [];
        for await (const c of d.chunks) {
          out.push(c);
          await perChunk?.();
        }
        return out;
      };
      const slow = await decode(4096, () => sleep(5));
      const fast = await decode(4096);
      const whole = await decode(bytes.length);
      expect(slow.length).toBeGreaterThan(10);
      expect(slow).toEqual(fast);
      const joined = (cs: PlanarChunk[], ch: number): number[] => cs.flatMap((c) => Array.from(c[ch]!));
      for (const ch of [0, 1]) {
        expect(joined(slow, ch)).toEqual(joined(whole, ch));
        expect(joined(slow, ch).length).toBe(6 * 16000);
      }
    },
  );

  it.each<[string, Fake, number, string]>([
    ["a decoder error", { failAt: 2, fail: "error" }, Infinity, "CORRUPT_AUDIO"],
    ["a stalled decoder", { failAt: 2, fail: "spin" }, Infinity, "DECODE_TIMEOUT"],
    ["an input error", {}, 2, "input broke"],
  ])("%s in a later piece surfaces after the earlier pieces' output", async (name, cfg, failAfter, code) => {
    const fake = fakeWorker(t.dir, `fail-${name.replace(/ /g, "-")}`, cfg);
    const input = counted(5, failAfter);
    const limits = limitsOf({ decodeFloorMs: 600, decodeMsPerMiB: 0, decodeMsPerAudioSec: 0 });
    const d = await openWorkerDecode(input.pieces, { codec: "flac", info, limits, workerUrl: fake.url });
    const out: number[][] = [];
    const consume = async (): Promise<void> => {
      for await (const c of d.chunks) {
        out.push(Array.from(c[0]!));
        await sleep(20); // slow: the failure comes while the consumer is still on piece 1
      }
    };
    if (code === "input broke") await expect(consume()).rejects.toThrow(code);
    else await expectCode(consume, code as "CORRUPT_AUDIO" | "DECODE_TIMEOUT");
    expect(out).toEqual(expected(2));
  });

  it("the consumer's time is not counted, even when it blocks this thread", async () => {
    // The worker answers at once, but its replies sit unread while the consumer computes:
    // counting from post to reading would charge 3 × 400 ms against an 800 ms budget.
    const fake = fakeWorker(t.dir, "blocking", {});
    const limits = limitsOf({ decodeFloorMs: 800, decodeMsPerMiB: 0, decodeMsPerAudioSec: 0 });
    const d = await openWorkerDecode(counted(3).pieces, { codec: "flac", info, limits, workerUrl: fake.url });
    const out: number[][] = [];
    for await (const c of d.chunks) {
      out.push(Array.from(c[0]!));
      if (out.length % 2 === 0) busy(400);
    }
    expect(out).toEqual(expected(3));
  });

  it("the worker's own time while the consumer is busy is counted", async () => {
    // 6 × 150 ms of decoding, all of it while the consumer sleeps: over a 500 ms budget.
    const fake = fakeWorker(t.dir, "hidden", { busyMs: 150 });
    const limits = limitsOf({ decodeFloorMs: 500, decodeMsPerMiB: 0, decodeMsPerAudioSec: 0 });
    const d = await openWorkerDecode(counted(6).pieces, { codec: "flac", info, limits, workerUrl: fake.url });
    await expectCode(async () => {
      for await (const c of d.chunks) if (c[0]!.length === 1) await sleep(250);
    }, "DECODE_TIMEOUT");
  });

  it("return() mid-stream stops the worker and the input; release() works before iterating", async () => {
    const fake = fakeWorker(t.dir, "stop", { busyMs: 100, heartbeat: true });
    const w = listen(fake.channel);
    const ticks = (): number => w.got.filter((g) => g === "tick").length;
    try {
      const input = counted(5);
      const d = await openWorkerDecode(input.pieces, {
        codec: "flac",
        info,
        limits: limitsOf(),
        workerUrl: fake.url,
      });
      for await (const c of d.chunks) {
        expect(Array.from(c[0]!)).toEqual(expected(1)[0]);
        await w.until(1);
        break; // piece 1 is in flight, its decoding (100 ms) under way
      }
      expect(input.closed()).toBe(true);
      await sleep(150); // where its reply would have come, and any stray rejection with it
      const stopped = ticks();
      await sleep(60);
      expect(ticks()).toBe(stopped);

      const unread = counted(5);
      const e = await openWorkerDecode(unread.pieces, {
        codec: "flac",
        info,
        limits: limitsOf(),
        workerUrl: fake.url,
      });
      await e.release();
      expect(unread.pulled()).toBe(0);
      const released = ticks();
      await sleep(60);
      expect(ticks()).toBe(released);
    } finally {
      w.close();
    }
  });
});
