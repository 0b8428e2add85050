import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 as zlibCrc32, inflateSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { buildCorpus, drawConditions } from "../../bench/privacy/corpus.js";
import { renderHistogramPlot, GREEN, RED } from "../../bench/privacy/plot.js";
import { crc32, encodePng } from "../../bench/privacy/png.js";
import { SeededRng } from "../../bench/privacy/rng.js";
import { evaluatePrivacy } from "../../bench/privacy/runner.js";
import { STANDIN_DIM, STANDIN_ID, standinEmbed } from "../../bench/privacy/standin-embedder.js";
import { missingTools } from "../../bench/privacy/tools.js";
import { ALL_SPEAKERS } from "../../bench/privacy/voices.js";
import { encodeWav16, parseWav } from "../../bench/privacy/wav.js";

function pngChunks(png: Uint8Array): { type: string; data: Uint8Array }[] {
  expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const out: { type: string; data: Uint8Array }[] = [];
  for (let o = 8; o < png.length;) {
    const len = view.getUint32(o);
    const type = String.fromCharCode(...png.subarray(o + 4, o + 8));
    const data = png.subarray(o + 8, o + 8 + len);
    expect(view.getUint32(o + 8 + len)).toBe(zlibCrc32(png.subarray(o + 4, o + 8 + len)));
    out.push({ type, data });
    o += 12 + len;
  }
  return out;
}

describe("bench helpers (no external tools)", () => {
  it("CRC-32 matches zlib and PNGs are well formed", () => {
    const bytes = new TextEncoder().encode("123456789");
    expect(crc32(bytes)).toBe(0xcbf43926);
    expect(crc32(bytes)).toBe(zlibCrc32(bytes));
    const rgb = Uint8Array.from({ length: 4 * 3 * 3 }, (_, i) => i * 7);
    const chunks = pngChunks(encodePng(4, 3, rgb));
    expect(chunks.map((c) => c.type)).toEqual(["IHDR", "IDAT", "IEND"]);
    const raw = inflateSync(chunks[1]!.data);
    expect(raw.length).toBe(3 * (1 + 4 * 3));
    expect(Array.from(raw.subarray(1, 13))).toEqual(Array.from(rgb.subarray(0, 12)));
  });

  it("renders a histogram plot", () => {
    const c = renderHistogramPlot({
      title: "TEST",
      xLabel: "SCORE",
      series: [
        { label: "MATED", values: [0.6, 0.7, 0.8, 0.75], color: GREEN },
        { label: "NON-MATED", values: [0.1, 0.2, 0.25, 0.3], color: RED },
      ],
      curve: { label: "D", x: [0, 0.5, 1], y: [0, 0.5, 1], color: [0, 0, 255] },
      marker: { label: "T", x: 0.5 },
    });
    const ihdr = pngChunks(c.toPng())[0]!.data;
    expect(new DataView(ihdr.buffer, ihdr.byteOffset).getUint32(0)).toBe(900);
    // Both colours were drawn.
    let green = 0;
    let red = 0;
    for (let i = 0; i < c.pixels.length; i += 3) {
      if (c.pixels[i] === GREEN[0] && c.pixels[i + 1] === GREEN[1]) green++;
      if (c.pixels[i] === RED[0] && c.pixels[i + 1] === RED[1]) red++;
    }
    expect(green).toBeGreaterThan(50);
    expect(red).toBeGreaterThan(50);
  });

  it("WAV round-trip and a deterministic stand-in embedder", () => {
    const tone = (f: number): Float32Array =>
      Float32Array.from({ length: 16000 }, (_, i) => 0.3 * Math.sin((2 * Math.PI * f * i) / 16000));
    const back = parseWav(encodeWav16(tone(220), 16000));
    expect(back.sampleRate).toBe(16000);
    expect(back.samples[100]).toBeCloseTo(tone(220)[100]!, 4);
    const e1 = standinEmbed(tone(220));
    expect(e1).toHaveLength(STANDIN_DIM);
    expect(e1.every(Number.isFinite)).toBe(true);
    expect(Array.from(standinEmbed(tone(220)))).toEqual(Array.from(e1));
    expect(Array.from(standinEmbed(tone(1500)))).not.toEqual(Array.from(e1));
  });

  it("channel conditions are a pure function of the seed", () => {
    const a = Array.from(
      { length: 50 },
      (
        (r) => () =>
          drawConditions(r)
      )(new SeededRng("x")),
    );
    const b = Array.from(
      { length: 50 },
      (
        (r) => () =>
          drawConditions(r)
      )(new SeededRng("x")),
    );
    expect(a).toEqual(b);
    const kinds = new Set(a.flat().map((c) => c.kind));
    expect(kinds.size).toBeGreaterThanOrEqual(6);
    for (const c of a.flat()) if (c.kind === "noise") expect(c.snrDb >= 10 && c.snrDb <= 30).toBe(true);
  });
});

const needed = ["sox", "flite", "lame", "opusenc", "opusdec"];
const missing = missingTools(needed);
const requireTools = process.env.VOXVAULT_REQUIRE_TOOLS === "1";
const skipReason = missing.length > 0 && !requireTools ? ` (skipped: missing ${missing.join(", ")})` : "";
if (skipReason) console.warn(`privacy-bench corpus test${skipReason}`);

describe("corpus generation and runner plumbing (needs sox, flite, lame, opus-tools)", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it.skipIf(skipReason !== "")(
    `builds a deterministic mini corpus and evaluates it${skipReason}`,
    async () => {
      if (missing.length > 0) throw new Error(`VOXVAULT_REQUIRE_TOOLS=1 but missing: ${missing.join(", ")}`);
      const speakers = ALL_SPEAKERS.filter((s) => ["awb", "rms", "awb-d1"].includes(s.id));
      const build = async (): Promise<{ dir: string; m: Awaited<ReturnType<typeof buildCorpus>> }> => {
        const dir = mkdtempSync(join(tmpdir(), "vv-corpus-"));
        dirs.push(dir);
        const m = await buildCorpus({
          outDir: dir,
          speakers,
          utterancesPerSpeaker: 4,
          enrolPerSpeaker: 2,
          seed: "test",
        });
        return { dir, m };
      };
      const { dir, m } = await build();
      expect(m.utterances).toHaveLength(12);
      expect(m.trials.mated).toHaveLength(3 * 2 * 2);
      expect(m.trials.nonMated).toHaveLength(3 * 2 * 2 * 2);
      expect(new Set(m.utterances.filter((u) => u.speaker === "awb").map((u) => u.text)).size).toBe(4);
      for (const u of m.utterances) {
        const a = parseWav(readFileSync(join(dir, u.file)));
        expect(a.sampleRate).toBe(16000);
        expect(a.samples.length / 16000).toBeCloseTo(u.durationSec, 6);
        expect(u.durationSec).toBeGreaterThan(1);
      }
      const again = await build();
      expect(again.m.utterances.map((u) => u.sha256)).toEqual(m.utterances.map((u) => u.sha256));

      const outDir = join(dir, "report");
      const r = evaluatePrivacy(m, {
        corpusDir: dir,
        outDir,
        embedder: standinEmbed,
        embedderId: STANDIN_ID,
        standIn: true,
        hashes: 128,
        sweep: [[32, 8]],
        crossKeyPairs: 1,
      });
      expect(r.subsets.map((s) => s.subset)).toEqual(["all", "real"]);
      expect(r.subsets[1]!.speakers).toBe(2);
      expect(r.subsets[0]!.scenarios).toHaveLength(6);
      for (const f of [
        "report.md",
        "report.json",
        "unprotected.png",
        "protected.png",
        "cross-key.png",
        "guessed-key.png",
        "stolen-key.png",
      ]) {
        expect(existsSync(join(outDir, f))).toBe(true);
      }
      expect(r.markdown).toContain("Stand-in embedder");
      expect(r.sweep).toHaveLength(1);
      expect(r.subsets[0]!.crossKeyPairs).toHaveLength(2);
    },
  );
});
