import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeAudio, decodeToMono16k, type DecodeOptions } from "../../../src/audio/decode/index.js";
import { parseMpegHeader } from "../../../src/audio/pcm/mpeg-header.js";
import {
  bytesOf,
  collectMono,
  collectPlanar,
  compiledDecode,
  expectCode,
  fileBytes,
  readWavSimple,
  run,
  snrDb,
  speech,
  tempDir,
} from "./fixtures.js";
import { missingTools } from "./tools.js";

const skip = missingTools("flite", "sox", "ffmpeg", "flac", "lame", "opusenc", "oggenc");
const TEXT = "Voice recordings are abstracted on arrival. The quick brown fox jumps over the lazy dog.";

describe.skipIf(skip !== null)(`compressed formats ${skip ?? ""}`, () => {
  const t = tempDir();
  let opts: DecodeOptions;
  let ref16: Float32Array; // the source speech at 16 kHz
  const f = (name: string): string => join(t.dir, name);

  beforeAll(() => {
    opts = { workerUrl: compiledDecode().workerUrl };
    const base = speech(t.dir, TEXT);
    ref16 = readWavSimple(base).data;
    run("sox", [base, "-r", "48000", "-c", "2", f("s48.wav")]);
    run("sox", [base, "-r", "44100", f("s44.wav")]);
    run("flac", ["-s", "-f", f("s44.wav"), "-o", f("s44.flac")]);
    run("lame", ["--quiet", f("s48.wav"), f("s48.mp3")]);
    run("lame", ["--quiet", "-m", "m", f("s44.wav"), f("s44m.mp3")]);
    // No Xing/Info tag: truncation can only be seen in the frame chain.
    run("lame", ["--quiet", "-t", "-b", "64", f("s44.wav"), f("s44-notag.mp3")]);
    run("opusenc", ["--quiet", f("s48.wav"), f("s48.opus")]);
    run("oggenc", ["-Q", f("s44.wav"), "-o", f("s44.ogg")]);
    run("ffmpeg", ["-loglevel", "error", "-y", "-i", f("s48.wav"), "-c:a", "libopus", f("s48.webm")]);
    run("sox", [base, f("short.wav"), "trim", "0", "0.3"]);
    run("lame", ["--quiet", f("short.wav"), f("short.mp3")]);
    run("sox", [base, "-e", "ima-adpcm", f("adpcm.wav")]);
  });
  afterAll(t.cleanup);

  const formats: [string, object, number][] = [
    ["s48.wav", { container: "wav", codec: "pcm_s16", channels: 2, sampleRate: 48000 }, 40],
    ["s44.flac", { container: "flac", codec: "flac", channels: 1, sampleRate: 44100, bitsPerSample: 16 }, 40],
    ["s48.mp3", { container: "mp3", codec: "mp3", channels: 2, sampleRate: 48000 }, 10],
    ["s44m.mp3", { container: "mp3", codec: "mp3", channels: 1, sampleRate: 44100 }, 10],
    ["s48.opus", { container: "ogg", codec: "opus", channels: 2, sampleRate: 48000 }, 6],
    ["s44.ogg", { container: "ogg", codec: "vorbis", channels: 1, sampleRate: 44100 }, 6],
    ["s48.webm", { container: "webm", codec: "opus", channels: 2, sampleRate: 48000 }, 6],
  ];
  for (const [name, info, minSnr] of formats) {
    it(`decodes ${name} to 16 kHz mono, sample-aligned with the source`, async () => {
      const d = await decodeToMono16k(fileBytes(f(name), 10_000), opts);
      expect(d.info).toMatchObject(info);
      const pcm = await collectMono(d.pcm);
      // Gapless MP3, Opus pre-skip and end trimming (incl. WebM DiscardPadding) give exact lengths.
      expect(Math.abs(pcm.length - ref16.length)).toBeLessThanOrEqual(1);
      expect(snrDb(pcm, ref16, 400)).toBeGreaterThan(minSnr);
    });
  }

  it("detects by magic bytes, not by name", async () => {
    writeFileSync(f("really-flac.mp3"), readFileSync(f("s44.flac")));
    expect((await decodeAudio(fileBytes(f("really-flac.mp3")), opts)).info.container).toBe("flac");
  });

  it("decodes MediaRecorder-style WebM (unknown Segment and Cluster sizes)", async () => {
    const b = new Uint8Array(readFileSync(f("s48.webm")));
    markUnknownSizes(b);
    const d = await decodeToMono16k(bytesOf(b, 777), opts);
    expect((await collectMono(d.pcm)).length).toBeCloseTo(ref16.length, -1);
  });

  it("decodes Opus WebM with ffmpeg's DiscardPadding quickly and exactly (no quadratic path)", async () => {
    // 1.013 s is not a multiple of 20 ms, so the last block carries DiscardPadding.
    run("sox", [f("s48.wav"), f("odd.wav"), "trim", "0", "1.013"]);
    run("ffmpeg", ["-loglevel", "error", "-y", "-i", f("odd.wav"), "-c:a", "libopus", f("odd.webm")]);
    const started = performance.now();
    const d = await decodeAudio(fileBytes(f("odd.webm")), opts);
    const pcm = await collectPlanar(d.chunks);
    expect(pcm[0]!.length).toBe(Math.round(1.013 * 48000));
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it("checks layout and declared duration from the header, before decoding (TOO_LONG)", async () => {
    for (const name of ["s44.flac", "s48.mp3", "s48.webm"]) {
      await expectCode(
        decodeAudio(fileBytes(f(name)), { ...opts, limits: { maxDurationSec: 2 } }),
        "TOO_LONG",
      );
    }
    await expectCode(
      decodeAudio(fileBytes(f("s44.flac")), { ...opts, limits: { maxDurationSec: 2 } }),
      "TOO_LONG",
    );
    await expectCode(
      decodeAudio(fileBytes(f("s44.flac")), { ...opts, limits: { maxChannels: 0.5 } }),
      "INVALID_ARGUMENT",
    );
    await expectCode(
      decodeAudio(fileBytes(f("s48.mp3")), { ...opts, limits: { maxSampleRate: 44100 } }),
      "UNSUPPORTED_LAYOUT",
    );
  });

  it("enforces the duration limit while decoding when nothing is declared (TOO_LONG)", async () => {
    const d = await decodeAudio(fileBytes(f("s48.opus")), { ...opts, limits: { maxDurationSec: 2 } });
    await expectCode(() => collectPlanar(d.chunks), "TOO_LONG");
  });

  it("TOO_SHORT for a 0.3 s MP3", async () => {
    const d = await decodeAudio(fileBytes(f("short.mp3")), opts);
    await expectCode(() => collectPlanar(d.chunks), "TOO_SHORT");
  });

  it("UNSUPPORTED_FORMAT for IMA ADPCM WAV (made by sox) and for AIFF", async () => {
    await expectCode(decodeAudio(fileBytes(f("adpcm.wav")), opts), "UNSUPPORTED_FORMAT");
    run("sox", [f("s44.wav"), f("s44.aiff")]);
    await expectCode(decodeAudio(fileBytes(f("s44.aiff")), opts), "UNSUPPORTED_FORMAT");
  });

  for (const [name, keep] of [
    ["s48.mp3", 0.6],
    ["s44.flac", 0.6],
    ["s48.opus", 0.6],
    ["s44.ogg", 0.6],
    ["s48.webm", 0.6],
    ["s48.webm", 0.999],
  ] as const) {
    it(`CORRUPT_AUDIO for ${name} truncated to ${keep * 100}%`, async () => {
      const b = readFileSync(f(name));
      const cut = b.subarray(0, Math.floor(b.length * keep));
      await expectCode(
        async () => collectPlanar((await decodeAudio(bytesOf(cut, 4096), opts)).chunks),
        "CORRUPT_AUDIO",
      );
    });
  }

  it("CORRUPT_AUDIO for a damaged Ogg page (CRC) and a truncated FLAC header", async () => {
    const b = new Uint8Array(readFileSync(f("s48.opus")));
    b[Math.floor(b.length / 2)]! ^= 0x55;
    await expectCode(
      async () => collectPlanar((await decodeAudio(bytesOf(b), opts)).chunks),
      "CORRUPT_AUDIO",
    );
    await expectCode(
      decodeAudio(bytesOf(readFileSync(f("s44.flac")).subarray(0, 20)), opts),
      "CORRUPT_AUDIO",
    );
  });

  it("CORRUPT_AUDIO when MP3 frames are garbage mid-stream", async () => {
    const b = new Uint8Array(readFileSync(f("s48.mp3")));
    for (let i = Math.floor(b.length / 3); i < b.length / 2; i += 7) b[i] = (i * 31) & 0xff;
    await expectCode(
      async () => collectPlanar((await decodeAudio(bytesOf(b), opts)).chunks),
      "CORRUPT_AUDIO",
    );
  });

  it("CORRUPT_AUDIO for an untagged MP3 cut inside a frame; a cut at a frame boundary decodes", async () => {
    const b = readFileSync(f("s44-notag.mp3"));
    const decode = async (bytes: Uint8Array, piece = 4096) =>
      collectPlanar((await decodeAudio(bytesOf(bytes, piece), opts)).chunks);
    // Frame boundaries, walked with the header parser.
    const starts: number[] = [];
    for (let at = 0; at + 4 <= b.length;) {
      const h = parseMpegHeader(b, at)!;
      starts.push(at);
      at += h.frameBytes;
    }
    expect(starts.length).toBeGreaterThan(20);
    const boundary = starts[Math.floor(starts.length / 2)]!;
    // Mid-frame and mid-header cuts, with piece sizes that split headers across pieces.
    for (const [cut, piece] of [
      [boundary + 100, 4096],
      [boundary + 2, 4096],
      [boundary + 2, 1],
      [starts[5]! + 50, 333],
    ] as const) {
      await expectCode(() => decode(b.subarray(0, cut), piece), "CORRUPT_AUDIO");
    }
    expect((await decode(b.subarray(0, boundary), 333))[0]!.length).toBeGreaterThan(0);
    // Trailing ID3v1 and APE tags after the last frame are not truncation.
    const ape = Buffer.concat([Buffer.from("APETAGEX"), Buffer.alloc(24)]);
    const id3v1 = Buffer.concat([Buffer.from("TAG"), Buffer.alloc(125, 0x20)]);
    expect((await decode(Buffer.concat([b, ape, id3v1])))[0]!.length).toBeGreaterThan(0);
  });

  it("decodes FLAC followed by an ID3v1 tag, but not by other trailing bytes", async () => {
    const flac = readFileSync(f("s44.flac"));
    const decode = async (bytes: Uint8Array) =>
      collectPlanar((await decodeAudio(bytesOf(bytes, 1000), opts)).chunks);
    const plain = await decode(flac);
    const tag = Buffer.concat([Buffer.from("TAG"), Buffer.alloc(125, 0x20)]);
    const tagged = await decode(Buffer.concat([flac, tag]));
    expect(tagged[0]).toEqual(plain[0]);
    const junk = Buffer.alloc(128, 0x41);
    await expectCode(() => decode(Buffer.concat([flac, junk])), "CORRUPT_AUDIO");
  });

  it("CORRUPT_AUDIO for MP3 frames with valid headers and a noise payload", async () => {
    const b = readFileSync(f("s44-notag.mp3"));
    const h = parseMpegHeader(b, 0)!;
    // Real headers (so the frame walk and the decoder accept them), seeded noise after them.
    let x = 0x9e3779b9;
    const forged = new Uint8Array(h.frameBytes * 400);
    for (let fr = 0; fr < 400; fr++) {
      forged.set(b.subarray(0, 4), fr * h.frameBytes);
      for (let i = 4; i < h.frameBytes; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        forged[fr * h.frameBytes + i] = x & 0xff;
      }
    }
    await expectCode(
      async () => collectPlanar((await decodeAudio(bytesOf(forged, 4096), opts)).chunks),
      "CORRUPT_AUDIO",
    );
  });

  it("chained Ogg streams are UNSUPPORTED_FORMAT", async () => {
    const one = readFileSync(f("s48.opus"));
    const d = await decodeAudio(bytesOf(new Uint8Array([...one, ...one]), 8192), opts);
    await expectCode(() => collectPlanar(d.chunks), "UNSUPPORTED_FORMAT");
  });

  it("an ID3v2 tag in front of FLAC is skipped", async () => {
    const tag = new Uint8Array(10 + 300);
    tag.set([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 2, 44]); // size 300 (syncsafe)
    const b = new Uint8Array([...tag, ...readFileSync(f("s44.flac"))]);
    expect((await decodeAudio(bytesOf(b), opts)).info.container).toBe("flac");
  });

  it("with ffmpegFallback, decodes a container without a native decoder (AIFF)", async () => {
    run("sox", [f("s44.wav"), f("s44fb.aiff")]);
    await expectCode(decodeAudio(fileBytes(f("s44fb.aiff")), opts), "UNSUPPORTED_FORMAT");
    const d = await decodeToMono16k(fileBytes(f("s44fb.aiff")), { ...opts, ffmpegFallback: true });
    expect(d.info.container).toBe("ffmpeg");
    const pcm = await collectMono(d.pcm);
    expect(Math.abs(pcm.length - ref16.length)).toBeLessThan(2000);
  });

  it("8-channel 192 kHz FLAC is decoded and downmixed (documented outcome)", async () => {
    run("sox", [
      "-n",
      "-r",
      "192000",
      "-c",
      "8",
      "-b",
      "24",
      f("8ch.flac"),
      "synth",
      "1",
      "sine",
      "1000",
      "vol",
      "0.5",
    ]);
    const d = await decodeToMono16k(fileBytes(f("8ch.flac")), opts);
    expect(d.info).toMatchObject({ channels: 8, sampleRate: 192000, bitsPerSample: 24 });
    const pcm = await collectMono(d.pcm);
    expect(pcm.length).toBe(16000);
    let peak = 0;
    for (const v of pcm.subarray(1000, 15000)) peak = Math.max(peak, Math.abs(v));
    expect(peak).toBeCloseTo(0.5, 2);
  });

  it("WebM with Vorbis audio is UNSUPPORTED_FORMAT; without an audio track NO_AUDIO", async () => {
    run("ffmpeg", ["-loglevel", "error", "-y", "-i", f("s44.wav"), "-c:a", "libvorbis", f("vorbis.webm")]);
    await expectCode(decodeAudio(fileBytes(f("vorbis.webm")), opts), "UNSUPPORTED_FORMAT");
    run("ffmpeg", [
      "-loglevel",
      "error",
      "-y",
      "-f",
      "lavfi",
      "-i",
      "color=c=black:s=16x16:d=1",
      "-c:v",
      "libvpx",
      f("video.webm"),
    ]);
    await expectCode(decodeAudio(fileBytes(f("video.webm")), opts), "NO_AUDIO");
  });

  it("stopping early terminates the decoder and releases the input", async () => {
    let returned = false;
    async function* src(): AsyncGenerator<Uint8Array> {
      try {
        yield* fileBytes(f("s44.flac"), 4096);
      } finally {
        returned = true;
      }
    }
    const d = await decodeAudio(src(), opts);
    for await (const _ of d.chunks) break;
    expect(returned).toBe(true);
  });
});

/** Rewrites the size fields of Segment and Cluster elements to "unknown", as MediaRecorder does. */
function markUnknownSizes(b: Uint8Array): void {
  const ids = [
    [0x18, 0x53, 0x80, 0x67],
    [0x1f, 0x43, 0xb6, 0x75],
  ];
  for (let i = 0; i + 5 < b.length; i++) {
    if (!ids.some((id) => id.every((v, k) => b[i + k] === v))) continue;
    const first = b[i + 4]!;
    let len = 1;
    while (len <= 8 && !(first & (0x80 >> (len - 1)))) len++;
    b[i + 4] = 0xff >> (len - 1);
    for (let k = 1; k < len; k++) b[i + 4 + k] = 0xff;
  }
}
