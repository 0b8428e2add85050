import { execFileSync } from "node:child_process";
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import { Readable } from "node:stream";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodeAudio } from "../../src/audio/decode/index.js";
import { isVaultError, type VaultError } from "../../src/errors.js";
import { SPEECH_SEARCH_SEC } from "../../src/ingest/analyse.js";
import type { Vault } from "../../src/platform/vault.js";
import { HAVE_AUDIO_TOOLS, convert, sox, speech, wavBytes, writeTemp } from "../support/audio.js";
import {
  BACKENDS,
  DECODER_WORKER,
  codeOf,
  collectBytes,
  sandbox,
  type Sandbox,
} from "../support/backends.js";

const file = (p: string) => createReadStream(p) as AsyncIterable<Uint8Array>;
const SENTENCE = "The quick brown fox jumps over the lazy dog while the interviewer waits patiently.";

/** AMR-NB at 12.2 kbit/s made by sox (ffmpeg here has no AMR encoder). */
function amrNb(wav: string): string {
  const out = `${wav}.amr`;
  if (!existsSync(out)) execFileSync("sox", [wav, "-r", "8000", "-C", "7", "-t", "amr-nb", out]);
  return out;
}

function filesUnder(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile())
      .map((d) => path.join(d.parentPath, d.name));
  } catch {
    return [];
  }
}

async function counts(v: Vault) {
  const events = await v.audit.list({ limit: 100_000 });
  return {
    recordings: (await v.recordings.derivations({ subjectId: (await v.subjects.list())[0]!.id })).length,
    events: events.length,
  };
}

describe.runIf(HAVE_AUDIO_TOOLS).each(BACKENDS)("ingest ($name)", (backend) => {
  let sb: Sandbox;
  let v: Vault;
  beforeEach(async () => {
    sb = sandbox(backend);
    v = await sb.init();
  });
  afterEach(async () => {
    await v.close();
    await sb.cleanup();
  });

  it("abstracts a recording into quality and voice statistics and drops the raw audio", async () => {
    const s = await v.subjects.add({ ref: "c1" });
    const wav = speech(SENTENCE, "slt");
    const r = await v.recordings.ingest({ subjectId: s.id, source: file(wav) });
    expect(r.id).toMatch(/^rec_/);
    expect(r.format).toEqual({ container: "wav", codec: "pcm_s16", sampleRate: 16000, channels: 1 });
    expect(r.speechSec).toBeGreaterThan(1.5);
    const names = r.derivations.map((d) => d.name).sort();
    expect(names).toEqual(["quality", "speaker-template", "speakers", "voice-stats"]);
    const tpl = r.derivations.find((d) => d.name === "speaker-template")!;
    expect(tpl.application).toBe("vault");
    expect(tpl.recipe.params).toMatchObject({ application: "vault", templateKeyVersion: 1 });
    expect(tpl.recipe.params.embedderId).toMatch(/^voxvault-dsp-v2\+sha256:[0-9a-f]{16}$/);
    expect(r.derivations.every((d) => d.class === "non-reconstructable" && d.expiresAt === null)).toBe(true);
    const quality = r.derivations.find((d) => d.name === "quality")!;
    const q = JSON.parse(
      (await collectBytes((await v.blobs.read(quality.blobId)).stream)).toString(),
    ) as Record<string, unknown>;
    const expected = (readFileSync(wav).length - 44) / 2 / 16;
    expect(Math.abs((q.durationMilliSec as number) - expected)).toBeLessThan(2);
    expect(q.integratedMilliLufs as number).toBeLessThan(-5_000);
    expect(q.speechRatioMilli as number).toBeGreaterThan(400);
    const stats = r.derivations.find((d) => d.name === "voice-stats")!;
    const vs = JSON.parse((await collectBytes((await v.blobs.read(stats.blobId)).stream)).toString()) as {
      f0MilliHz: { p50: number };
    };
    expect(vs.f0MilliHz.p50).toBeGreaterThan(120_000); // slt is a female voice
    expect(vs.f0MilliHz.p50).toBeLessThan(300_000);
    const ev = (await v.audit.list({ type: "recording.ingested" }))[0]!.event;
    expect(ev).toMatchObject({ type: "recording.ingested", recordingId: r.id, rawKept: false });
    expect((await v.recordings.recordings(s.id)).map((x) => x.id)).toEqual([r.id]);
  });

  it("ingests every supported container from real speech", async () => {
    const s = await v.subjects.add({ ref: "c2" });
    const base = speech(SENTENCE, "awb");
    const stereo48 = sox(base, "48k-stereo", [], ["-r", "48000", "-c", "2"]);
    const inputs: [string, string][] = [
      ["wav 48 kHz stereo", stereo48],
      ["flac", convert(base, ".flac")],
      ["mp3", convert(stereo48, ".mp3", ["-b:a", "96k"])],
      ["ogg vorbis", convert(base, ".ogg", ["-c:a", "libvorbis"])],
      ["ogg opus", convert(stereo48, ".opus", ["-c:a", "libopus", "-b:a", "32k"])],
      ["webm opus", convert(stereo48, ".webm", ["-c:a", "libopus", "-b:a", "32k"])],
      ["wav float 24-bit-ish", sox(base, "f32", [], ["-e", "floating-point", "-b", "32"])],
      ["m4a (index last)", convert(stereo48, ".m4a", ["-c:a", "aac", "-b:a", "96k"])],
      ["m4a (fast start)", convert(base, ".m4a", ["-c:a", "aac", "-movflags", "+faststart"])],
      ["aac adts", convert(base, ".aac", ["-c:a", "aac"])],
      ["3gp amr-nb", convert(amrNb(base), ".3gp", ["-c:a", "copy"])],
      ["amr-nb", amrNb(base)],
    ];
    for (const [label, p] of inputs) {
      const r = await v.recordings.ingest({ subjectId: s.id, source: file(p) });
      expect(r.speechSec, label).toBeGreaterThan(1.5);
      expect(r.derivations.length, label).toBe(4);
    }
    expect((await v.recordings.recordings(s.id)).length).toBe(inputs.length);
  });

  it("keeps raw audio only under retention, as ciphertext, and it decodes back to the speech", async () => {
    await v.close();
    await sb.cleanup();
    sb = sandbox(backend);
    v = await sb.init({
      abstraction: { retention: { raw: { mode: "keep", ttl: "30d" }, frames: { mode: "keep", ttl: "7d" } } },
    });
    const s = await v.subjects.add({ ref: "c3" });
    const wav = speech(SENTENCE, "rms");
    const r = await v.recordings.ingest({ subjectId: s.id, source: file(wav) });
    const raw = r.derivations.find((d) => d.name === "raw")!;
    const frames = r.derivations.find((d) => d.name === "frames")!;
    expect(raw.class).toBe("reconstructable");
    expect(raw.expiresAt).not.toBeNull();
    expect(frames.recipe.params).toMatchObject({ numMelBins: 80, type: "kaldi-fbank" });
    const blob = await v.blobs.info(raw.blobId);
    expect(blob.retentionEpoch).toMatch(/^\d{8}$/);
    const wavBack = await collectBytes((await v.blobs.read(raw.blobId)).stream);
    const decoded = await decodeAudio(Readable.from([wavBack]), { workerUrl: DECODER_WORKER });
    let n = 0;
    for await (const c of decoded.chunks) n += c[0]!.length;
    const original = (readFileSync(wav).length - 44) / 2;
    expect(Math.abs(n - original)).toBeLessThanOrEqual(1);
    const fbytes = (await collectBytes((await v.blobs.read(frames.blobId)).stream)).length;
    expect(fbytes).toBe((frames.recipe.params.frames as number) * 80 * 4);
  });

  it("never leaves decoded PCM on disk: the data directory and temp directory hold no trace of it", async () => {
    await v.close();
    await sb.cleanup();
    sb = sandbox(backend);
    v = await sb.init({
      abstraction: { retention: { raw: { mode: "keep", ttl: "30d" }, frames: { mode: "keep", ttl: "30d" } } },
    });
    const s = await v.subjects.add({ ref: "c4" });
    const speechPcm = readFileSync(speech(SENTENCE, "kal16")).subarray(44);
    // A recognisable pattern: 4000 pseudo-random samples appended after the speech.
    const pattern = new Int16Array(4000);
    let x = 12345;
    for (let i = 0; i < pattern.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      pattern[i] = ((x >>> 16) & 0x7fff) - 16384;
    }
    const all = new Int16Array(speechPcm.length / 2 + pattern.length);
    all.set(
      new Int16Array(speechPcm.buffer.slice(speechPcm.byteOffset, speechPcm.byteOffset + speechPcm.length)),
      0,
    );
    all.set(pattern, speechPcm.length / 2);
    const input = writeTemp(`pattern-${backend.name}.wav`, wavBytes(all));
    await v.recordings.ingest({ subjectId: s.id, source: file(input) });
    // Every encoding the pipeline could write the pattern in: the input bytes, s16 re-quantised, float32.
    const slice = pattern.subarray(1000, 1032);
    const needles = [
      Buffer.from(slice.buffer, slice.byteOffset, slice.byteLength),
      Buffer.from(Int16Array.from(slice, (s16) => Math.round((s16 / 32768) * 32767)).buffer),
      Buffer.from(Float32Array.from(slice, (s16) => s16 / 32768).buffer),
    ];
    const places = [
      ...filesUnder(sb.dataDir),
      ...filesUnder(os.tmpdir()).filter((f) => !f.includes("voxvault-test-audio")),
    ];
    expect(places.length).toBeGreaterThan(3);
    for (const f of places) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(f);
      } catch {
        continue; // vanished or unreadable temp files of other processes
      }
      for (const n of needles) expect(bytes.includes(n), f).toBe(false);
    }
  });

  it("refuses bad input with a specific code and stores nothing of it", async () => {
    const s = await v.subjects.add({ ref: "c5" });
    await v.recordings.ingest({ subjectId: s.id, source: file(speech(SENTENCE, "slt")) });
    const before = await counts(v);
    const objectsBefore = filesUnder(path.join(sb.dataDir, "blobs")).length;
    const silence = writeTemp("silence.wav", wavBytes(new Int16Array(16000 * 3)));
    const short = writeTemp("short.wav", wavBytes(new Int16Array(16000 * 0.3).fill(1000)));
    const text = writeTemp("notes.wav", "This is a text file renamed to .wav\n".repeat(100));
    const adpcm = sox(speech(SENTENCE, "slt"), "adpcm", [], ["-e", "ima-adpcm"]);
    const truncated = writeTemp(
      "truncated.flac",
      readFileSync(convert(speech(SENTENCE, "slt"), ".flac")).subarray(0, 9000),
    );
    const empty = writeTemp("empty.wav", "");
    const cases: [string, string][] = [
      [silence, "NO_SPEECH"],
      [short, "TOO_SHORT"],
      [text, "UNSUPPORTED_FORMAT"],
      [adpcm, "UNSUPPORTED_FORMAT"],
      [truncated, "CORRUPT_AUDIO"],
      [empty, "CORRUPT_AUDIO"],
    ];
    for (const [p, code] of cases) {
      expect(await codeOf(v.recordings.ingest({ subjectId: s.id, source: file(p) })), path.basename(p)).toBe(
        code,
      );
    }
    expect(await counts(v)).toEqual(before);
    expect(filesUnder(path.join(sb.dataDir, "blobs")).length).toBe(objectsBefore);
    // the vault keeps working
    await v.recordings.ingest({ subjectId: s.id, source: file(speech(SENTENCE, "awb")) });
  });

  it("gives up on hours of silence after a bounded search: NO_SPEECH without decoding it all", async () => {
    const s = await v.subjects.add({ ref: "c5b" });
    // three hours of digital silence: a FLAC of a few MB
    const silent = path.join(os.tmpdir(), "voxvault-test-audio", "silence-3h.flac");
    if (!existsSync(silent))
      execFileSync("sox", ["-n", "-r", "16000", "-c", "1", silent, "trim", "0", "10800"]);
    const total = statSync(silent).size;
    let read = 0;
    async function* counted(): AsyncGenerator<Uint8Array> {
      for await (const b of file(silent)) {
        read += b.length;
        yield b;
      }
    }
    let err: unknown;
    try {
      await v.recordings.ingest({ subjectId: s.id, source: counted() });
    } catch (e) {
      err = e;
    }
    expect(isVaultError(err, "NO_SPEECH")).toBe(true);
    // checked after each decoded chunk: a chunk of FLAC silence holds up to ~40 s of audio
    const searched = Number((err as VaultError).details?.searchedSec);
    expect(searched).toBeGreaterThanOrEqual(SPEECH_SEARCH_SEC);
    expect(searched).toBeLessThan(SPEECH_SEARCH_SEC + 60);
    // ten minutes of three hours: the rest of the file was never read (the decoder reads ahead a little)
    expect(read).toBeLessThan(total * 0.2);
  });

  it("enforces the configured duration limit", async () => {
    await v.close();
    await sb.cleanup();
    sb = sandbox(backend);
    v = await sb.init({ abstraction: { limits: { maxDurationSec: 2 } } });
    const s = await v.subjects.add({ ref: "c6" });
    expect(
      await codeOf(v.recordings.ingest({ subjectId: s.id, source: file(speech(SENTENCE, "slt")) })),
    ).toBe("TOO_LONG");
    expect(filesUnder(path.join(sb.dataDir, "blobs", "objects")).length).toBe(0);
  });

  it("verifies a speaker against enrolled templates: the same voice matches, another does not", async () => {
    const s = await v.subjects.add({ ref: "interviewee" });
    for (const t of [
      SENTENCE,
      "I have worked on speech annotation projects for three years.",
      "My favourite task is transcribing interviews.",
    ]) {
      await v.recordings.ingest({ subjectId: s.id, source: file(speech(t, "slt")) });
    }
    const same = await v.recordings.verifySpeaker({
      subjectId: s.id,
      source: file(convert(speech("Thank you for inviting me to this interview today.", "slt"), ".mp3")),
    });
    expect(same.templates).toBe(3);
    expect(same.match).toBe(true);
    const proxy = await v.recordings.verifySpeaker({
      subjectId: s.id,
      source: file(speech("Thank you for inviting me to this interview today.", "kal16")),
    });
    expect(proxy.match).toBe(false);
    expect(proxy.score).toBeLessThan(same.score);
    expect(same.threshold).toBeGreaterThan(0);
    const events = (await v.audit.list({ type: "speaker.verified" })).map((e) => e.event);
    expect(events).toHaveLength(2);
    const other = await v.subjects.add({ ref: "no-templates" });
    expect(
      await codeOf(
        v.recordings.verifySpeaker({ subjectId: other.id, source: file(speech(SENTENCE, "slt")) }),
      ),
    ).toBe("NO_TEMPLATE");
    // Renewal (ISO/IEC 24745): a new template key makes every earlier template incomparable...
    expect((await v.keys.rotateTemplateKey()).version).toBe(2);
    const probe = file(speech("Thank you for inviting me to this interview today.", "slt"));
    expect(await codeOf(v.recordings.verifySpeaker({ subjectId: s.id, source: probe }))).toBe("NO_TEMPLATE");
    // ...until the subject enrols again with a new recording.
    await v.recordings.ingest({ subjectId: s.id, source: file(speech(SENTENCE, "slt")) });
    const renewed = await v.recordings.verifySpeaker({
      subjectId: s.id,
      source: file(speech("Thank you for inviting me to this interview today.", "slt")),
    });
    expect(renewed).toMatchObject({ templates: 1, match: true });
  });

  it("refuses to ingest for a shredded subject", async () => {
    const s = await v.subjects.add({ ref: "c7" });
    await v.shredding.request(s.id);
    expect(
      await codeOf(v.recordings.ingest({ subjectId: s.id, source: file(speech(SENTENCE, "slt")) })),
    ).toBe("SUBJECT_SHREDDED");
  });
});
