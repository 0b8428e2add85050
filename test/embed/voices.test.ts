import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseWav } from "../../bench/privacy/wav.js";
import { trainingSentences } from "../../scripts/embedder/sentences.js";
import { embedPcm, chunked } from "../../src/embed/index.js";
import { loadBuiltinEmbedder } from "../../src/embed/node.js";
import { createTemplateProtector } from "../../src/template/index.js";
import { hasCommand, need } from "../support/tools.js";

const available = need("flite", hasCommand("flite"), "flite is not installed (apt-get install flite)");

describe.skipIf(!available)("built-in embedder on real-voice synthesis (flite awb, rms, slt)", () => {
  const dir = mkdtempSync(join(tmpdir(), "vv-embed-voices-"));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  // Texts from the training-sentence generator, but ones the training corpus did not draw
  // (it uses at most the first few hundred of each shuffled list).
  const texts = trainingSentences("en").slice(-2);

  async function embedVoice(voice: string, k: number): Promise<Float32Array> {
    const wav = join(dir, `${voice}-${k}.wav`);
    execFileSync("flite", ["-voice", voice, "-t", texts[k]!, "-o", wav]);
    const { samples, sampleRate } = parseWav(new Uint8Array(readFileSync(wav)));
    expect(sampleRate).toBe(16000);
    const e = await loadBuiltinEmbedder();
    return (await embedPcm(e, chunked(samples))).embedding;
  }

  // awb and rms are both male: at the EER threshold (FMR 3.7 % on the bench corpus) one of their
  // cross pairs may pass; the assertion is the ranking plus the female/male pairs.
  it("same voice scores above the calibrated threshold and above every other voice", async () => {
    const e = await loadBuiltinEmbedder();
    const voices = ["awb", "rms", "slt"];
    const emb = await Promise.all(
      voices.map(async (v) => [await embedVoice(v, 0), await embedVoice(v, 1)] as const),
    );
    const p = createTemplateProtector(new Uint8Array(32).fill(3), { profile: e.profile });
    const t = emb.map(([a, b]) => [p.protect(a), p.protect(b)] as const);
    const threshold = e.calibration!.threshold;
    for (let i = 0; i < voices.length; i++) {
      const own = p.compare(t[i]![0], t[i]![1]);
      expect(own).toBeGreaterThanOrEqual(threshold);
      for (let j = 0; j < voices.length; j++) {
        if (i === j) continue;
        expect(p.compare(t[i]![0], t[j]![1])).toBeLessThan(own);
        if (voices[i] === "slt" || voices[j] === "slt")
          expect(p.compare(t[i]![0], t[j]![1])).toBeLessThan(threshold);
      }
    }
    p.dispose();
  });
});
