import { describe, expect, it } from "vitest";
import { decodeAudio } from "../../../src/audio/decode/index.js";
import { decodeWav } from "../../../src/audio/pcm/decode-wav.js";
import { bytesOf, collectPlanar, expectCode } from "./fixtures.js";
import { buildWav, fourcc, riffChunk, tone } from "./wav-builder.js";

const RATE = 16000;
const SEC = RATE; // frames in one second at 16 kHz

async function decodeAll(b: Uint8Array, chunk?: number, limits = {}) {
  const d = await decodeAudio(bytesOf(b, chunk), { limits });
  return { info: d.info, data: await collectPlanar(d.chunks) };
}

describe("WAV parser: sample formats", () => {
  const cases = [
    { bits: 8, tag: 1, tol: 1 / 128 },
    { bits: 16, tag: 1, tol: 1 / 32768 },
    { bits: 24, tag: 1, tol: 1 / 8388608 },
    { bits: 32, tag: 1, tol: 1e-7 },
    { bits: 32, tag: 3, tol: 1e-7 },
    { bits: 64, tag: 3, tol: 1e-7 },
  ];
  for (const c of cases) {
    for (const extensible of [false, true]) {
      it(`decodes ${c.tag === 3 ? "float" : "int"} ${c.bits}-bit${extensible ? " (extensible)" : ""} stereo`, async () => {
        const f = tone(440, RATE);
        const wav = buildWav({
          ...c,
          extensible,
          channels: 2,
          frames: SEC,
          sample: (i, ch) => (ch ? -f(i) : f(i)),
        });
        const { info, data } = await decodeAll(wav, 1000);
        expect(info).toMatchObject({
          container: "wav",
          sampleRate: RATE,
          channels: 2,
          bitsPerSample: c.bits,
        });
        expect(info.declaredDurationSec).toBeCloseTo(1, 9);
        expect(data[0]!.length).toBe(SEC);
        for (const i of [0, 7, 1234, SEC - 1]) {
          expect(Math.abs(data[0]![i]! - f(i))).toBeLessThanOrEqual(c.tol);
          expect(Math.abs(data[1]![i]! + f(i))).toBeLessThanOrEqual(c.tol);
        }
      });
    }
  }

  it("decodes G.711 µ-law and A-law", async () => {
    // 0xff is µ-law +0, 0x80 is µ-law +32124; 0xd5 is A-law +8, 0xaa is A-law +32256.
    const mu = await decodeAll(buildWav({ tag: 7, bits: 8, data: new Uint8Array(SEC).fill(0x80) }));
    expect(mu.info.codec).toBe("pcm_mulaw");
    expect(mu.data[0]![5]).toBeCloseTo(32124 / 32768, 6);
    const a = await decodeAll(buildWav({ tag: 6, bits: 8, data: new Uint8Array(SEC).fill(0xaa) }));
    expect(a.info.codec).toBe("pcm_alaw");
    expect(a.data[0]![5]).toBeCloseTo(32256 / 32768, 6);
  });

  it("yields identical samples whatever the input chunking", async () => {
    const wav = buildWav({
      bits: 24,
      channels: 3,
      frames: 9000,
      sample: (i, c) => Math.sin(i * 0.01 * (c + 1)) * 0.9,
    });
    const whole = (await decodeAll(wav)).data;
    for (const size of [1, 7, 4096]) expect((await decodeAll(wav, size)).data).toEqual(whole);
  });
});

describe("WAV parser: container structure", () => {
  it("skips odd-sized chunks with their pad byte", async () => {
    const list = riffChunk("LIST", new Uint8Array([1, 2, 3, 4, 5])); // 5 bytes + 1 pad
    const wav = buildWav({
      frames: SEC,
      sample: tone(300, RATE),
      extra: [list, riffChunk("junk", new Uint8Array(1))],
    });
    const { data } = await decodeAll(wav, 3);
    expect(data[0]!.length).toBe(SEC);
    expect(data[0]![100]).toBeCloseTo(tone(300, RATE)(100), 4);
  });

  it("reads RF64 with a ds64 chunk", async () => {
    const { info, data } = await decodeAll(buildWav({ rf64: true, frames: SEC, sample: tone(300, RATE) }));
    expect(info.declaredDurationSec).toBeCloseTo(1, 9);
    expect(data[0]!.length).toBe(SEC);
  });

  it("treats data size 0xFFFFFFFF as a stream to end of input, dropping a partial frame", async () => {
    const wav = buildWav({ channels: 2, frames: SEC, dataSize: 0xffffffff, riffSize: 0xffffffff });
    const { info, data } = await decodeAll(new Uint8Array([...wav, 1, 2, 3]), 999);
    expect(info.declaredDurationSec).toBeUndefined();
    expect(data[0]!.length).toBe(SEC);
  });

  it("rejects a stream that ends before the declared data size (gigabytes declared, no allocation)", async () => {
    const before = process.memoryUsage().arrayBuffers;
    const wav = buildWav({ channels: 2, rate: 48000, frames: 48000, dataSize: 1_000_000_000 });
    const d = await decodeAudio(bytesOf(wav));
    expect(d.info.declaredDurationSec).toBeCloseTo(1e9 / 4 / 48000, 6);
    let maxBuffers = 0;
    await expectCode(async () => {
      for await (const _ of d.chunks) maxBuffers = Math.max(maxBuffers, process.memoryUsage().arrayBuffers);
    }, "CORRUPT_AUDIO");
    expect(maxBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });

  it("refuses a declared duration over the limit from the header alone (TOO_LONG)", async () => {
    const wav = buildWav({ frames: 10, dataSize: 0xfffffff0 }); // ~37 h at 16 kHz
    await expectCode(decodeAudio(bytesOf(wav)), "TOO_LONG");
  });

  it("refuses input over maxInputBytes while streaming (TOO_LARGE)", async () => {
    const wav = buildWav({ frames: SEC, dataSize: 0xffffffff });
    await expectCode(() => decodeAll(wav, 1024, { maxInputBytes: 10_000 }), "TOO_LARGE");
  });

  it("refuses a declared data size over maxInputBytes from the header alone (TOO_LARGE)", async () => {
    const wav = buildWav({ frames: 10, dataSize: 2_000_000 });
    await expectCode(decodeAudio(bytesOf(wav), { limits: { maxInputBytes: 1_000_000 } }), "TOO_LARGE");
  });

  it("counts duration while streaming when the header does not declare it (TOO_LONG)", async () => {
    const wav = buildWav({ frames: 3 * SEC, dataSize: 0xffffffff });
    await expectCode(() => decodeAll(wav, 4096, { maxDurationSec: 2 }), "TOO_LONG");
  });

  const corrupt: [string, () => Uint8Array][] = [
    ["empty input", () => new Uint8Array(0)],
    ["truncated RIFF header", () => new Uint8Array([0x52, 0x49, 0x46, 0x46, 0x10])],
    ["header cut inside fmt", () => buildWav({ frames: 10 }).subarray(0, 30)],
    ["missing fmt chunk", () => buildWav({ frames: 10, omitFmt: true })],
    ["data before fmt", () => buildWav({ frames: 10, dataBeforeFmt: true })],
    ["no data chunk", () => buildWav({ frames: 10 }).subarray(0, 36)],
    ["data not a whole number of frames", () => buildWav({ channels: 2, frames: 10, dataSize: 39 })],
    ["zero channels", () => buildWav({ channels: 0, frames: 0 })],
    [
      // 16-bit PCM whose block align says 4 bytes per mono frame: read as 32-bit it is noise.
      "block align not channels × bytes per sample",
      () => {
        const wav = buildWav({ frames: SEC });
        new DataView(wav.buffer, wav.byteOffset).setUint16(32, 4, true);
        return wav;
      },
    ],
    [
      "extensible container bits not the block align",
      () => {
        const wav = buildWav({ frames: SEC, extensible: true });
        new DataView(wav.buffer, wav.byteOffset).setUint16(34, 32, true);
        return wav;
      },
    ],
    [
      "NaN float sample",
      () => buildWav({ tag: 3, bits: 32, frames: SEC, sample: (i) => (i === 500 ? NaN : 0) }),
    ],
    [
      "infinite float sample",
      () => buildWav({ tag: 3, bits: 64, frames: SEC, sample: (i) => (i === 9 ? -Infinity : 0) }),
    ],
  ];
  for (const [name, make] of corrupt) {
    it(`CORRUPT_AUDIO: ${name}`, async () => {
      await expectCode(() => decodeAll(make()), "CORRUPT_AUDIO");
    });
  }

  const unsupported: [string, () => Uint8Array][] = [
    [
      "IMA ADPCM format tag",
      () => buildWav({ tag: 0x11, bits: 4, channels: 1, frames: 0, data: new Uint8Array(256) }),
    ],
    ["MS ADPCM format tag", () => buildWav({ tag: 2, bits: 4, frames: 0, data: new Uint8Array(256) })],
    ["big-endian RIFX", () => new Uint8Array(fourcc("RIFX").concat(new Array(40).fill(0)))],
    ["RIFF AVI", () => new TextEncoder().encode("RIFF\x20\x00\x00\x00AVI LIST....................")],
    [
      "a text file renamed .wav",
      () => new TextEncoder().encode("hello, this is not audio at all\n".repeat(20)),
    ],
  ];
  for (const [name, make] of unsupported) {
    it(`UNSUPPORTED_FORMAT: ${name}`, async () => {
      await expectCode(() => decodeAll(make()), "UNSUPPORTED_FORMAT");
    });
  }
});

describe("WAV parser: limits and layouts", () => {
  it("decodes 8-channel 192 kHz float and downmixes it (documented outcome)", async () => {
    const wav = buildWav({
      tag: 3,
      bits: 32,
      channels: 8,
      rate: 192000,
      frames: 192000,
      sample: tone(1000, 192000),
    });
    const { info, data } = await decodeAll(wav, 65536);
    expect(info).toMatchObject({ channels: 8, sampleRate: 192000, codec: "pcm_f32" });
    expect(data).toHaveLength(8);
  });

  it("UNSUPPORTED_LAYOUT: 9 channels, 4 kHz, 384 kHz", async () => {
    await expectCode(() => decodeAll(buildWav({ channels: 9, frames: SEC })), "UNSUPPORTED_LAYOUT");
    await expectCode(() => decodeAll(buildWav({ rate: 4000, frames: SEC })), "UNSUPPORTED_LAYOUT");
    await expectCode(() => decodeAll(buildWav({ rate: 384000, frames: 384000 })), "UNSUPPORTED_LAYOUT");
  });

  it("decodes silence-only audio (speech detection is decided later)", async () => {
    const { data } = await decodeAll(buildWav({ frames: 2 * SEC }));
    expect(data[0]!.length).toBe(2 * SEC);
    expect(data[0]!.every((v) => v === 0)).toBe(true);
  });

  it("TOO_SHORT under 0.5 s, before yielding any sample", async () => {
    const d = await decodeAudio(bytesOf(buildWav({ frames: 0.4 * SEC, dataSize: 0xffffffff })));
    let yielded = 0;
    await expectCode(async () => {
      for await (const _ of d.chunks) yielded++;
    }, "TOO_SHORT");
    expect(yielded).toBe(0);
    await expectCode(() => decodeAll(buildWav({ frames: 0 })), "TOO_SHORT");
  });

  it("accepts exactly the minimum duration", async () => {
    expect((await decodeAll(buildWav({ frames: 0.5 * SEC }))).data[0]!.length).toBe(0.5 * SEC);
  });

  it("rejects invalid limit overrides (INVALID_ARGUMENT)", async () => {
    await expectCode(
      () => decodeAll(buildWav({ frames: SEC }), undefined, { maxChannels: 0 }),
      "INVALID_ARGUMENT",
    );
    await expectCode(
      () => decodeAll(buildWav({ frames: SEC }), undefined, { maxDurationSec: NaN }),
      "INVALID_ARGUMENT",
    );
  });

  it("the browser-safe decodeWav gives the same samples", async () => {
    const wav = buildWav({ channels: 2, frames: SEC, sample: tone(500, RATE) });
    const d = await decodeWav(bytesOf(wav, 333));
    expect(await collectPlanar(d.chunks)).toEqual((await decodeAll(wav)).data);
  });
});
