import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FeaturePipeline,
  LoudnessMeter,
  QualityAnalyzer,
  VoiceStatsAnalyzer,
  type PcmStats,
} from "../../src/audio/features/index.js";
import { downmix, Resampler } from "../../src/audio/pcm/resample.js";
import { loadBuiltinEmbedder } from "../../src/embed/builtin.js";
import type { Embedder } from "../../src/embed/types.js";
import { isVaultError } from "../../src/errors.js";
import { analyseRecording } from "../../src/ingest/analyse.js";
import {
  inlineFrontEnd,
  releaseAnalysisWorker,
  threadFrontEnd,
  warmAnalysisWorker,
  type FrontEndPort,
} from "../../src/ingest/analysis-thread.js";
import { FrontEnd, type FrontEndOptions } from "../../src/ingest/front-end.js";
import { prng } from "../support/prng.js";
import {
  compiledAnalysisWorker,
  compiledDecode,
  concat,
  fileBytes,
  run,
  speech,
  tempDir,
} from "../audio/decode/fixtures.js";
import { missingTools } from "../audio/decode/tools.js";

/** A voiced-ish test signal: a gliding harmonic tone in bursts, with noise and a level per channel. */
function signal(rate: number, channels: number, seconds: number, seed: number): Float32Array[] {
  const rnd = prng(seed);
  const n = Math.round(rate * seconds);
  return Array.from({ length: channels }, (_, c) => {
    const out = new Float32Array(n);
    let phase = 0;
    for (let i = 0; i < n; i++) {
      const t = i / rate;
      const f0 = 130 + 30 * Math.sin(2 * Math.PI * 0.7 * t);
      phase += (2 * Math.PI * f0) / rate;
      // on for 0.6 s, off for 0.2 s, so the voice statistics see syllable-like bursts
      const gate = t % 0.8 < 0.6 ? 1 : 0.01;
      out[i] =
        (1 - 0.3 * c) *
          gate *
          (0.3 * Math.sin(phase) + 0.15 * Math.sin(2 * phase) + 0.05 * Math.sin(3 * phase)) +
        0.01 * (rnd() - 0.5);
    }
    return out;
  });
}

/** Planar chunks of pseudo-random lengths (1 sample to 1.5 s). */
function chunksOf(planar: Float32Array[], rate: number, seed: number): Float32Array[][] {
  const rnd = prng(seed);
  const out: Float32Array[][] = [];
  const n = planar[0]!.length;
  for (let at = 0; at < n;) {
    const len = Math.min(
      n - at,
      rnd() < 0.1 ? 1 + Math.floor(rnd() * 10) : Math.floor(rnd() * rate * 1.5) + 1,
    );
    out.push(planar.map((c) => c.slice(at, at + len)));
    at += len;
  }
  return out;
}

async function runPort(port: FrontEndPort, chunks: Float32Array[][], ahead: number) {
  const mono: Float32Array[] = [];
  try {
    for (const c of chunks) {
      port.send(c);
      if (port.inFlight >= ahead) mono.push(await port.next());
    }
    while (port.inFlight > 0) mono.push(await port.next());
    const { tail, result } = await port.end();
    mono.push(tail);
    return { pcm: concat(mono), ...result };
  } finally {
    await port.close();
  }
}

describe("analysis front end", () => {
  const t = tempDir();
  let workerUrl: URL;
  beforeAll(() => {
    workerUrl = compiledAnalysisWorker();
  });
  afterAll(async () => {
    await releaseAnalysisWorker();
    t.cleanup();
  });

  const cases: { name: string; options: FrontEndOptions; seconds: number }[] = [
    { name: "44.1 kHz stereo, downmixed", options: { sampleRate: 44100, channels: 2 }, seconds: 7 },
    {
      name: "48 kHz three channels, the second one",
      options: { sampleRate: 48000, channels: 3, channel: 1 },
      seconds: 5,
    },
    { name: "16 kHz mono, no resampling", options: { sampleRate: 16000, channels: 1 }, seconds: 6 },
  ];

  for (const { name, options, seconds } of cases) {
    it(`${name}: equals the stages it replaces, on this thread and on a worker, chunked any way`, async () => {
      const planar = signal(options.sampleRate, options.channels, seconds, 7);
      // The reference: the stages as the ingest composed them before, on the whole signal.
      const meter = new LoudnessMeter({ sampleRate: options.sampleRate, channels: options.channels });
      meter.push(planar);
      const mono = options.channel === undefined ? downmix(planar) : planar[options.channel]!;
      const resampler = options.sampleRate === 16000 ? null : new Resampler(options.sampleRate, 16000);
      const pcm = resampler ? concat([resampler.process(mono), resampler.flush()]) : mono;
      const voice = new VoiceStatsAnalyzer({ sampleRate: 16000 });
      voice.push(pcm);
      const quality = new QualityAnalyzer({ sampleRate: 16000 });
      quality.push(pcm);
      const want = { pcm, loudness: meter.finish(), voice: voice.finish(), quality: quality.result() };
      expect(want.voice.f0Hz).not.toBeNull();
      expect(want.voice.syllableCount).toBeGreaterThan(3);

      const inline = await runPort(inlineFrontEnd(options), chunksOf(planar, options.sampleRate, 1), 1);
      const threaded = await runPort(
        threadFrontEnd(options, workerUrl),
        chunksOf(planar, options.sampleRate, 2),
        2,
      );
      for (const got of [inline, threaded]) {
        expect(got.pcm).toEqual(want.pcm);
        expect(got.loudness).toEqual(want.loudness);
        expect(got.quality).toEqual(want.quality);
        expect(got.voice).toEqual(want.voice);
      }
    });
  }

  it("a worker keeps the sender's own buffers intact when chunks are views of a larger one", async () => {
    const whole = signal(16000, 1, 2, 3)[0]!;
    const port = threadFrontEnd({ sampleRate: 16000, channels: 1 }, workerUrl);
    const views = [whole.subarray(0, 16000), whole.subarray(16000)];
    const got = await runPort(
      port,
      views.map((v) => [v]),
      2,
    );
    expect(whole.length).toBe(32000); // not detached by a transfer
    expect(got.pcm).toEqual(whole);
  });

  it("refuses non-finite samples with the pipeline's code and index, from either thread", async () => {
    const planar = signal(16000, 1, 3, 5);
    planar[0]![20000] = Number.NaN;
    for (const port of [
      inlineFrontEnd({ sampleRate: 16000, channels: 1 }),
      threadFrontEnd({ sampleRate: 16000, channels: 1 }, workerUrl),
    ]) {
      const e = await runPort(port, chunksOf(planar, 16000, 4), 2).catch((x: unknown) => x);
      expect(isVaultError(e, "CORRUPT_AUDIO")).toBe(true);
      expect(isVaultError(e) && e.details?.index).toBe(20000);
    }
  });

  it("keeps one worker warm across recordings; a second recording meanwhile runs inline", async () => {
    // Sent chunks are transferred: each run gets its own copy.
    const speechLike = (): Float32Array[][] => [signal(16000, 1, 3, 11)];
    const want = await runPort(inlineFrontEnd({ sampleRate: 16000, channels: 1 }), speechLike(), 1);
    await runPort(threadFrontEnd({ sampleRate: 16000, channels: 1 }, workerUrl), speechLike(), 1);
    const first = warmAnalysisWorker();
    expect(first).not.toBeNull();
    const a = threadFrontEnd({ sampleRate: 16000, channels: 1 }, workerUrl);
    const b = threadFrontEnd({ sampleRate: 44100, channels: 2 }, workerUrl);
    expect(a.onWorker).toBe(true);
    expect(b.onWorker).toBe(false);
    expect(warmAnalysisWorker()).toBeNull(); // held by a
    const [ra] = await Promise.all([runPort(a, speechLike(), 2), runPort(b, [signal(44100, 2, 1, 3)], 2)]);
    expect(ra.voice).toEqual(want.voice);
    expect(ra.pcm).toEqual(want.pcm);
    expect(warmAnalysisWorker()).toBe(first); // the same thread, back after a's clean end
    const c = threadFrontEnd({ sampleRate: 16000, channels: 1 }, workerUrl);
    expect(c.onWorker).toBe(true);
    expect((await runPort(c, speechLike(), 1)).quality).toEqual(want.quality);
  });

  it("a recording that stops early or fails takes the worker with it; the next gets a fresh one", async () => {
    await runPort(threadFrontEnd({ sampleRate: 16000, channels: 1 }, workerUrl), [signal(16000, 1, 1, 2)], 1);
    const before = warmAnalysisWorker();
    expect(before).not.toBeNull();
    const port = threadFrontEnd({ sampleRate: 16000, channels: 1 }, workerUrl);
    port.send([signal(16000, 1, 2, 2)[0]!]);
    await port.close();
    expect(warmAnalysisWorker()).toBeNull();
    const bad = signal(16000, 1, 2, 4);
    bad[0]![5] = Number.POSITIVE_INFINITY;
    const e = await runPort(threadFrontEnd({ sampleRate: 16000, channels: 1 }, workerUrl), [bad], 1).catch(
      (x: unknown) => x,
    );
    expect(isVaultError(e, "CORRUPT_AUDIO")).toBe(true);
    expect(warmAnalysisWorker()).toBeNull();
    await runPort(threadFrontEnd({ sampleRate: 16000, channels: 1 }, workerUrl), [signal(16000, 1, 1, 2)], 1);
    const after = warmAnalysisWorker();
    expect(after).not.toBeNull();
    expect(after).not.toBe(before);
  });

  it("a warm worker that dies while idle is not handed out again", async () => {
    await runPort(threadFrontEnd({ sampleRate: 16000, channels: 1 }, workerUrl), [signal(16000, 1, 1, 2)], 1);
    const idle = warmAnalysisWorker()!;
    await idle.terminate();
    expect(warmAnalysisWorker()).toBeNull();
    const port = threadFrontEnd({ sampleRate: 16000, channels: 1 }, workerUrl);
    expect(port.onWorker).toBe(true);
    const got = await runPort(port, [signal(16000, 1, 1, 2)], 1);
    expect(got.pcm.length).toBe(16000);
  });

  it("a chunk with the wrong channel count is CORRUPT_AUDIO", () => {
    const fe = new FrontEnd({ sampleRate: 16000, channels: 2 });
    expect(() => fe.push([new Float32Array(10)])).toThrow(/channel count/);
  });

  it("a worker that dies is an INTERNAL error, not a hang", async () => {
    const p = join(t.dir, "dies.mjs");
    writeFileSync(
      p,
      `import { parentPort } from "node:worker_threads"; parentPort.on("message", () => process.exit(3));`,
    );
    const port = threadFrontEnd({ sampleRate: 16000, channels: 1 }, pathToFileURL(p));
    const e = await runPort(port, [[new Float32Array(1000)]], 1).catch((x: unknown) => x);
    expect(isVaultError(e, "INTERNAL")).toBe(true);
  });

  it("close() mid-stream stops the worker; the port then refuses use", async () => {
    const port = threadFrontEnd({ sampleRate: 44100, channels: 1 }, workerUrl);
    port.send([new Float32Array(44100)]);
    await port.close();
    await port.close();
    expect(() => {
      port.send([new Float32Array(10)]);
    }).toThrow(/after close/);
  });
});

describe("FeaturePipeline with the PCM statistics from elsewhere", () => {
  const pcm = signal(16000, 1, 4, 9)[0]!;
  const run = (external: PcmStats | undefined, externalPcmStats: boolean) => {
    const p = new FeaturePipeline({ externalPcmStats });
    p.push(pcm);
    return p.finish(external);
  };
  const statsOf = (x: Float32Array): PcmStats => {
    const v = new VoiceStatsAnalyzer({ sampleRate: 16000 });
    v.push(x);
    const q = new QualityAnalyzer({ sampleRate: 16000 });
    q.push(x);
    return { voice: v.finish(), quality: q.result() };
  };

  it("reports the statistics it is given, and otherwise the same", () => {
    const own = run(undefined, false);
    expect(run(statsOf(pcm), true)).toEqual(own);
  });

  it("refuses statistics it computes itself, missing ones, and ones of another stream", () => {
    const short = statsOf(pcm.subarray(0, 16000));
    expect(() => run(short, false)).toThrow(/iff externalPcmStats/);
    expect(() => run(undefined, true)).toThrow(/iff externalPcmStats/);
    expect(() => run(short, true)).toThrow(/another stream/);
    const full = statsOf(pcm);
    expect(() => run({ voice: full.voice, quality: short.quality }, true)).toThrow(/another stream/);
  });
});

const skip = missingTools("flite", "sox", "ffmpeg");
describe.skipIf(skip !== null)(`analysis on two threads equals one thread ${skip ?? ""}`, () => {
  const t = tempDir();
  let embedder: Embedder;
  let decodeWorker: URL;
  let analysisWorker: URL;
  const f = (name: string): string => join(t.dir, name);

  beforeAll(async () => {
    decodeWorker = compiledDecode().workerUrl;
    analysisWorker = compiledAnalysisWorker();
    embedder = await loadBuiltinEmbedder();
    const a = speech(t.dir, "The interviewer asks a question about the project and waits.", "a.wav");
    const b = speech(t.dir, "I led the migration and tested every failure path early.", "b.wav");
    run("sox", [a, b, a, "-r", "44100", "-c", "2", f("s44.wav")]);
    run("ffmpeg", ["-loglevel", "error", "-y", "-i", f("s44.wav"), "-c:a", "aac", "-b:a", "96k", f("s.m4a")]);
    run("sox", [a, b, f("s16.wav")]);
  });
  afterAll(t.cleanup);

  for (const name of ["s.m4a", "s44.wav", "s16.wav"]) {
    it(`${name}: the same report, loudness, embedding and speakers`, async () => {
      const go = (url: URL | false) =>
        analyseRecording(fileBytes(f(name)), {
          workerUrl: decodeWorker,
          analysisWorkerUrl: url,
          embedder,
          diarise: true,
        });
      const one = await go(false);
      const two = await go(analysisWorker);
      expect(two.report).toEqual(one.report);
      expect(two.loudness).toEqual(one.loudness);
      expect(two.embedding).toEqual(one.embedding);
      expect(two.embedding?.length).toBeGreaterThan(0);
      expect(two.diarisation?.segments).toEqual(one.diarisation?.segments);
    });
  }
});
