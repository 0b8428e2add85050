import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ByteReader } from "../../../src/audio/pcm/byte-reader.js";
import { parseMpegHeader } from "../../../src/audio/pcm/mpeg-header.js";
import { OGG_EOS, opusPacketSamples, readOggPage, writeOggPage } from "../../../src/audio/pcm/ogg.js";
import { parseAdtsHeader, parseAudioSpecificConfig } from "../../../src/audio/pcm/aac.js";
import { amrFrameBytes, amrMagic, countAmrFrames } from "../../../src/audio/pcm/amr.js";
import { childBoxes, parseBoxHeader } from "../../../src/audio/pcm/mp4-boxes.js";
import { detectContainer } from "../../../src/audio/pcm/sniff.js";
import { blockFrames } from "../../../src/audio/pcm/webm.js";
import { REPO, bytesOf, expectCode } from "./fixtures.js";

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);
function pad(b: Uint8Array | number[], n = 64): Uint8Array {
  const out = new Uint8Array(Math.max(n, b.length));
  out.set(b);
  return out;
}

/** Two consecutive MPEG-1 layer III frames, 128 kbps, 44.1 kHz, joint stereo or mono. */
function mp3Frames(mono = false): Uint8Array {
  const h = [0xff, 0xfb, 0x90, mono ? 0xc4 : 0x44];
  const len = 417;
  const b = new Uint8Array(2 * len);
  b.set(h, 0);
  b.set(h, len);
  return b;
}

describe("container detection by magic bytes", () => {
  const cases: [string, Uint8Array, string][] = [
    ["RIFF WAVE", pad(ascii("RIFF\0\0\0\0WAVEfmt ")), "wav"],
    ["RF64 WAVE", pad([...ascii("RF64"), 0xff, 0xff, 0xff, 0xff, ...ascii("WAVE")]), "wav"],
    ["FLAC", pad(ascii("fLaC")), "flac"],
    ["Ogg", pad(ascii("OggS")), "ogg"],
    ["EBML", pad([0x1a, 0x45, 0xdf, 0xa3]), "webm"],
    ["MPEG audio frames", mp3Frames(), "mp3"],
    ["ID3v2", pad([0x49, 0x44, 0x33, 4, 0, 0, 0, 0, 1, 0]), "id3"],
    ["AMR-NB", pad(ascii("#!AMR\n")), "amr"],
    ["AMR-WB", pad(ascii("#!AMR-WB\n")), "amr"],
    ["multichannel AMR", pad(ascii("#!AMR_MC1.0\n")), "unsupported"],
    ["AIFF", pad(ascii("FORM\0\0\0\0AIFF")), "unsupported"],
    ["MP4/M4A", pad(ascii("\0\0\0\x20ftypM4A ")), "mp4"],
    ["bare QuickTime movie", pad(ascii("\0\0\0\x08wide\0\0\0\0mdat")), "mp4"],
    ["AAC ADTS", pad([0xff, 0xf1, 0x50, 0x80]), "adts"],
    ["RIFX", pad(ascii("RIFX\0\0\0\0WAVE")), "unsupported"],
    ["text", ascii("just some text that happens to be long enough to sniff"), "unknown"],
    ["a lone MPEG sync word", pad([0xff, 0xfb, 0x90, 0x44], 4096), "unknown"],
    ["truncated RIFF", ascii("RIFF\0\0"), "truncated"],
  ];
  for (const [name, head, kind] of cases) {
    it(`${name} -> ${kind}`, () => {
      expect(detectContainer(head, true).kind).toBe(kind);
    });
  }

  it("reads the ID3v2 size (syncsafe) including the footer flag", () => {
    expect(detectContainer(pad([0x49, 0x44, 0x33, 4, 0, 0x10, 0, 0, 1, 1]), false)).toEqual({
      kind: "id3",
      tagBytes: 10 + 129 + 10,
    });
  });

  it("parses MPEG headers, including mono", () => {
    expect(parseMpegHeader(mp3Frames(true))).toMatchObject({
      version: 1,
      layer: 3,
      sampleRate: 44100,
      channels: 1,
      frameBytes: 417,
    });
    expect(parseMpegHeader(new Uint8Array([0xff, 0xfb, 0xf0, 0]))).toBeNull(); // bad bitrate index
  });
});

describe("AAC configuration (ISO/IEC 14496-3 §1.6.2.1, §1.A.2.2.1)", () => {
  it("reads AAC-LC, explicit HE-AAC v1/v2 and escape-coded rates", () => {
    // LC, 44.1 kHz (index 4), stereo
    expect(parseAudioSpecificConfig(new Uint8Array([0x12, 0x10]))).toMatchObject({
      objectType: 2,
      coreRate: 44100,
      channelConfig: 2,
    });
    // SBR (5) at 24 kHz core (index 6), mono, extension rate index 3 (48 kHz), core LC
    const sbr = parseAudioSpecificConfig(new Uint8Array([0x2b, 0x09, 0x88, 0x00]));
    expect(sbr).toMatchObject({ objectType: 5, coreRate: 24000, channelConfig: 1 });
    // PS (29): HE-AAC v2
    const ps = new Uint8Array([0xeb, 0x09, 0x88, 0x00]);
    expect(parseAudioSpecificConfig(ps).objectType).toBe(29);
    // explicit 24-bit rate (index 15): 16000 Hz
    const esc = new Uint8Array([0x17, 0x80, 0x1f, 0x40, 0x08]);
    expect(parseAudioSpecificConfig(esc)).toMatchObject({ coreRate: 16000, channelConfig: 1 });
  });

  it("refuses what no AAC decoder could use", async () => {
    const parse = (b: number[]) => () =>
      Promise.resolve().then(() => parseAudioSpecificConfig(new Uint8Array(b)));
    await expectCode(parse([0x16, 0x90]), "CORRUPT_AUDIO"); // sampling index 13
    await expectCode(parse([0x12]), "CORRUPT_AUDIO");
    await expectCode(parse([0x3a, 0x10]), "UNSUPPORTED_FORMAT"); // object type 7
    await expectCode(parse([0x12, 0x40]), "CORRUPT_AUDIO"); // channel configuration 8
  });

  it("parses ADTS headers into the equivalent AudioSpecificConfig", () => {
    // LC, 16 kHz (index 8), mono, no CRC, frame length 200
    const len = 200;
    const h = new Uint8Array([
      0xff,
      0xf1,
      0x60,
      0x40 | (len >> 11),
      (len >> 3) & 0xff,
      ((len & 7) << 5) | 0x1f,
      0xfc,
    ]);
    const f = parseAdtsHeader(h)!;
    expect(f).toMatchObject({ headerBytes: 7, frameBytes: 200 });
    expect(parseAudioSpecificConfig(f.asc)).toMatchObject({
      objectType: 2,
      coreRate: 16000,
      channelConfig: 1,
    });
    const shortLen = h.slice();
    shortLen[4] = 0;
    shortLen[5] = 0x1f;
    expect(() => parseAdtsHeader(shortLen)).toThrow(/shorter than its header/);
  });
});

describe("AMR storage format (RFC 4867 §5)", () => {
  it("recognises both magics and refuses reserved frame types", () => {
    expect(amrMagic(ascii("#!AMR\n\x3c"))).toBe("amr_nb");
    expect(amrMagic(ascii("#!AMR-WB\n"))).toBe("amr_wb");
    expect(amrMagic(ascii("#!AM"))).toBe("truncated");
    expect(amrFrameBytes("amr_nb", 7 << 3)).toBe(32);
    expect(amrFrameBytes("amr_wb", 8 << 3)).toBe(61);
    expect(amrFrameBytes("amr_nb", 15 << 3)).toBe(1);
    expect(() => amrFrameBytes("amr_nb", 9 << 3)).toThrow(/reserved/);
    expect(() => amrFrameBytes("amr_wb", 10 << 3)).toThrow(/reserved/);
    const two = new Uint8Array(33);
    two[0] = 7 << 3;
    two[32] = 15 << 3;
    expect(countAmrFrames("amr_nb", two)).toBe(2);
    expect(() => countAmrFrames("amr_nb", two.subarray(0, 20))).toThrow(/inside a frame/);
  });
});

describe("ISO BMFF boxes (ISO/IEC 14496-12 §4.2)", () => {
  it("reads 32-bit, 64-bit and to-the-end sizes and refuses sizes that lie", () => {
    expect(parseBoxHeader(new Uint8Array([0, 0, 0, 16, ...ascii("free"), 0, 0, 0, 0, 0, 0, 0, 0]))).toEqual({
      type: "free",
      headerBytes: 8,
      bodyBytes: 8,
    });
    const big = new Uint8Array([0, 0, 0, 1, ...ascii("mdat"), 0, 0, 0, 1, 0, 0, 0, 0]);
    expect(parseBoxHeader(big)).toEqual({ type: "mdat", headerBytes: 16, bodyBytes: 2 ** 32 - 16 });
    expect(parseBoxHeader(new Uint8Array([0, 0, 0, 0, ...ascii("mdat")]))!.bodyBytes).toBeNull();
    const huge = new Uint8Array([
      0,
      0,
      0,
      1,
      ...ascii("free"),
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
    ]);
    expect(() => parseBoxHeader(huge)).toThrow(/absurd/);
    expect(() => parseBoxHeader(new Uint8Array([0, 0, 0, 4, ...ascii("free")]))).toThrow(
      /smaller than its header/,
    );
    const child = new Uint8Array([0, 0, 0, 40, ...ascii("trak")]);
    expect(() => childBoxes(child)).toThrow(/overruns its parent/);
  });
});

describe("Ogg pages", () => {
  it("round-trips pages through the writer and the strict reader", async () => {
    const p1 = writeOggPage([new Uint8Array(300).fill(1), new Uint8Array(10)], 0, 960, 7, 0);
    const p2 = writeOggPage([new Uint8Array(255)], OGG_EOS, 1920, 7, 1);
    const r = new ByteReader(bytesOf(new Uint8Array([...p1, ...p2]), 5), 1e9);
    const a = await readOggPage(r);
    expect(a?.lacing).toEqual(new Uint8Array([255, 45, 10]));
    const b = await readOggPage(r);
    expect(b?.flags).toBe(OGG_EOS);
    expect(await readOggPage(r)).toBeNull();
  });

  it("rejects a bad CRC, lost capture and truncation (CORRUPT_AUDIO)", async () => {
    const p = writeOggPage([new Uint8Array(100)], 0, 0, 1, 0);
    const bad = p.slice();
    bad[50]! ^= 1;
    await expectCode(readOggPage(new ByteReader(bytesOf(bad), 1e9)), "CORRUPT_AUDIO");
    await expectCode(readOggPage(new ByteReader(bytesOf(p.subarray(0, 60)), 1e9)), "CORRUPT_AUDIO");
    await expectCode(readOggPage(new ByteReader(bytesOf(pad(ascii("OggX"), 64)), 1e9)), "CORRUPT_AUDIO");
  });

  it("counts Opus packet samples from the TOC byte", () => {
    expect(opusPacketSamples(new Uint8Array([0xfc]))).toBe(960); // CELT 20 ms, 1 frame
    expect(opusPacketSamples(new Uint8Array([0x1b, 0x03]))).toBe(2880 * 3); // SILK 60 ms, code 3 x3
    expect(opusPacketSamples(new Uint8Array([0x79]))).toBe(1920); // hybrid 20 ms, 2 frames
  });
});

describe("WebM block lacing", () => {
  const head = [0x81, 0, 0]; // track 1, timecode 0
  it("no lacing", () => {
    expect(blockFrames(new Uint8Array([...head, 0x80, 1, 2, 3]))).toEqual({
      track: 1,
      frames: [new Uint8Array([1, 2, 3])],
    });
  });
  it("Xiph lacing", () => {
    const b = new Uint8Array([...head, 0x02, 2, 255, 1, 1, ...new Array<number>(256).fill(7), 8, 9, 10]);
    expect(blockFrames(b).frames.map((f) => f.length)).toEqual([256, 1, 2]);
  });
  it("fixed lacing", () => {
    expect(blockFrames(new Uint8Array([...head, 0x04, 1, 1, 2, 3, 4])).frames.map((f) => f.length)).toEqual([
      2, 2,
    ]);
  });
  it("EBML lacing", () => {
    // 3 frames: first 4 bytes, second 4 + (-1) = 3, last = rest (2).
    const b = new Uint8Array([...head, 0x06, 2, 0x84, 0xbe, 0, 0, 0, 0, 1, 1, 1, 2, 2]);
    expect(blockFrames(b).frames.map((f) => f.length)).toEqual([4, 3, 2]);
  });
  it("rejects lacing that overruns the block", async () => {
    await expectCode(
      () => Promise.resolve().then(() => blockFrames(new Uint8Array([...head, 0x02, 1, 200, 1]))),
      "CORRUPT_AUDIO",
    );
  });
});

describe("src/audio/pcm and src/diarise stay browser-safe", () => {
  for (const [dir, file] of ["src/audio/pcm", "src/diarise"].flatMap((d) =>
    readdirSync(join(REPO, d))
      .filter((f) => f.endsWith(".ts"))
      .map((f) => [join(REPO, d), f] as const),
  )) {
    it(`${file} uses no Node APIs`, () => {
      // Code only: comments may name what is avoided.
      const src = readFileSync(join(dir, file), "utf8")
        .replace(/\/\*[\s\S]*?\*\//g, "")
        .replace(/^\s*\/\/.*$/gm, "")
        .replace(/\s\/\/ .*$/gm, "");
      const imports = [...src.matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]!);
      for (const spec of imports) expect(spec, `${file} imports ${spec}`).toMatch(/^\.\.?\//);
      for (const spec of imports) expect(spec).not.toMatch(/decode\//);
      expect(src).not.toMatch(/\bBuffer\b|\bprocess\.|\brequire\(|node:/);
    });
  }
});
