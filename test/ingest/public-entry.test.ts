import { createReadStream, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { initVault, openVault } from "../../src/index.js";
import { HAVE_AUDIO_TOOLS, speech } from "../support/audio.js";
import { DECODER_WORKER } from "../support/backends.js";

const file = (p: string) => createReadStream(p) as AsyncIterable<Uint8Array>;

describe.runIf(HAVE_AUDIO_TOOLS)("the public entry (import from 'voxvault')", () => {
  const roots: string[] = [];
  afterEach(() => {
    for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
  });

  it("builds the configured embedder by default: a library ingest enrols, and verify-speaker works", async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), "vv-public-"));
    roots.push(root);
    const env = { ...process.env, XDG_CONFIG_HOME: path.join(root, "config"), HOME: root };
    const dataDir = path.join(root, "data");
    const decoder = { workerUrl: DECODER_WORKER };
    const v = await initVault({ dataDir, env, decoder });
    let subjectId: string;
    try {
      subjectId = (await v.subjects.add({ ref: "public-entry" })).id;
      const text = "Please describe a project you are proud of, and what you would do differently next time.";
      const r = await v.recordings.ingest({ subjectId, source: file(speech(text, "awb")) });
      expect(r.derivations.map((d) => d.name).sort()).toEqual([
        "quality",
        "speaker-template",
        "speakers",
        "voice-stats",
      ]);
    } finally {
      await v.close();
    }
    const again = await openVault({ dataDir, env, decoder });
    try {
      const probe = speech("The quick brown fox jumps over the lazy dog while the interviewer waits.", "awb");
      const same = await again.recordings.verifySpeaker({ subjectId, source: file(probe) });
      expect(same.templates).toBe(1);
      const other = speech("The quick brown fox jumps over the lazy dog while the interviewer waits.", "slt");
      const proxy = await again.recordings.verifySpeaker({ subjectId, source: file(other) });
      expect(same.score).toBeGreaterThan(proxy.score);
    } finally {
      await again.close();
    }
  });
});
