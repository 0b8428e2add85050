import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { HAVE_AUDIO_TOOLS, convert, float64WavBytes, speech, writeTemp } from "../support/audio.js";
import { sandbox, type Sandbox } from "../support/backends.js";
import { cli, spawnCli } from "../support/cli.js";

describe.runIf(HAVE_AUDIO_TOOLS)("voxvault ingest (built binary)", () => {
  let sb: Sandbox;
  afterEach(async () => {
    await sb.cleanup();
  });

  it("ingests a batch, reports each bad file with its code, keeps going, exits non-zero", async () => {
    sb = sandbox({ name: "sqlite" });
    const env = { ...sb.env, VOXVAULT_DATA_DIR: sb.dataDir };
    expect((await spawnCli(["init", "--retain-raw", "30d"], env)).code).toBe(0);
    const subject = JSON.parse(
      (await spawnCli(["subject", "add", "--ref", "batch", "--json"], env)).stdout,
    ) as { id: string };
    const good1 = speech("Please state your name and the position you are applying for.", "slt");
    const bad = writeTemp("cli-bad.wav", "not audio at all\n".repeat(50));
    const good2 = convert(speech("I have five years of experience in data annotation.", "awb"), ".mp3");
    const r = await spawnCli(["ingest", "--subject", subject.id, "--json", good1, bad, good2], env);
    expect(r.code).toBe(1);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map(
        (l) =>
          JSON.parse(l) as {
            file: string;
            id?: string;
            derivations?: { name: string }[];
            error?: { code: string };
          },
      );
    expect(lines).toHaveLength(3);
    expect(lines[0]!.id).toMatch(/^rec_/);
    expect(lines[0]!.derivations!.map((d) => d.name).sort()).toEqual([
      "quality",
      "raw",
      "speaker-template",
      "speakers",
      "voice-stats",
    ]);
    expect(lines[1]).toMatchObject({ file: bad, error: { code: "UNSUPPORTED_FORMAT" } });
    expect(lines[2]!.id).toMatch(/^rec_/);
    expect(r.stderr).toContain(`error[UNSUPPORTED_FORMAT]: ${bad}: `);
    expect(r.stderr.trim().split("\n").at(-1)).toMatch(/^error\[INGEST_FAILED\]: 1 of 3 files failed$/);

    const human = await spawnCli(["ingest", "--subject", subject.id, good1], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(
      /: recording rec_\w+, \d+\.\d s \(\d+\.\d s speech\), pcm_s16 16000 Hz x1 -> /,
    );
    expect(human.stdout).toContain("quality");
    expect(human.stdout).toContain("voice-stats");
    expect(human.stdout).toMatch(/raw \(kept until \d{4}-\d\d-\d\d\)/);
    const list = JSON.parse(
      (await spawnCli(["derivation", "list", "--subject", subject.id, "--json"], env)).stdout,
    ) as {
      derivations: { id: string; name: string }[];
    };
    expect(list.derivations).toHaveLength(15); // three recordings × quality, raw, template, speakers, voice-stats
    // the CLI serves under the same rules as the API: recorded, and raw audio only with a grant
    const quality = list.derivations.find((d) => d.name === "quality")!;
    const got = await spawnCli(["derivation", "get", quality.id], env);
    expect(got.code, got.stderr).toBe(0);
    expect((JSON.parse(got.stdout) as { format: { sampleRate: number } }).format.sampleRate).toBe(16000);
    const raw = list.derivations.find((d) => d.name === "raw")!;
    const out = path.join(sb.root, "raw.wav");
    const refused = await spawnCli(["derivation", "get", raw.id, "--out", out], env);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(
      /^error\[FORBIDDEN\]: reconstructable material needs a break-glass grant/m,
    );
    expect(() => readFileSync(out)).toThrow();
    const served = (await spawnCli(["audit", "events", "--type", "derivation.served", "--json"], env)).stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { event: { derivationId: string } });
    expect(served.map((e) => e.event.derivationId)).toEqual([quality.id]);
    const verify = await spawnCli(["verify-speaker", "--subject", subject.id, "--json", good2], env);
    expect(verify.code, verify.stderr).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ match: true });
    const sweep = await spawnCli(["retention", "sweep"], env);
    expect(sweep.stdout).toContain("no retention day has expired");
  });

  it("reports unreadable files and damaged float data per file, and ingests the rest", async () => {
    sb = sandbox({ name: "sqlite" });
    const env = { ...sb.env, VOXVAULT_DATA_DIR: sb.dataDir };
    expect((await spawnCli(["init"], env)).code).toBe(0);
    const subject = JSON.parse(
      (await spawnCli(["subject", "add", "--ref", "odd-files", "--json"], env)).stdout,
    ) as { id: string };
    const good = speech("My first job was transcribing interviews for a radio station.", "rms");
    // Float64 WAV of the same speech at 1e100: finite, but beyond float32 (becomes ±Infinity).
    const huge = writeTemp("cli-f64-huge.wav", float64Wav(good, 1e100));
    // Float32-safe but absurd: 1e18 over full scale.
    const loud = writeTemp("cli-f64-loud.wav", float64Wav(good, 1e18));
    const missing = path.join(tmpdir(), "voxvault-no-such-file.wav");
    const dir = mkdtempSync(path.join(tmpdir(), "voxvault-dir-"));
    const r = await spawnCli(
      ["ingest", "--subject", subject.id, "--json", missing, dir, huge, loud, good],
      env,
    );
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+|Unhandled|INTERNAL/);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { file: string; id?: string; error?: { code: string; message: string } });
    expect(lines.map((l) => l.error?.code ?? "ok")).toEqual([
      "FILE_UNREADABLE",
      "FILE_UNREADABLE",
      "CORRUPT_AUDIO",
      "CORRUPT_AUDIO",
      "ok",
    ]);
    // The message does not echo absolute paths back.
    expect(lines[0]!.error!.message).toBe("no such file");
    expect(lines[1]!.error!.message).toBe("not a regular file");
    expect(lines[4]!.id).toMatch(/^rec_/);
    expect(r.stderr.trim().split("\n").at(-1)).toBe("error[INGEST_FAILED]: 4 of 5 files failed");
    const recordings = JSON.parse(
      (await spawnCli(["recording", "list", "--subject", subject.id, "--json"], env)).stdout,
    ) as { recordings: unknown[] };
    expect(recordings.recordings).toHaveLength(1);
  });

  it("ingests an interview video from standard input (`-`, --name, --track) and M4A/3GP files", async () => {
    sb = sandbox({ name: "sqlite" });
    const env = { ...sb.env, VOXVAULT_DATA_DIR: sb.dataDir };
    expect((await spawnCli(["init"], env)).code).toBe(0);
    const subject = JSON.parse(
      (await spawnCli(["subject", "add", "--ref", "interviews", "--json"], env)).stdout,
    ) as { id: string };
    const answer = speech(
      "I led the migration of our call centre recordings to a new storage system.",
      "awb",
    );
    // A video recording whose first audio track is a tone, the second the candidate's answer.
    const video = path.join(mkdtempSync(path.join(tmpdir(), "voxvault-video-")), "interview.mp4");
    execFileSync("ffmpeg", [
      "-loglevel",
      "error",
      "-y",
      ...["-f", "lavfi", "-i", "testsrc=size=160x120:rate=15"],
      ...["-f", "lavfi", "-i", "sine=f=300:d=6"],
      ...["-i", answer, "-shortest"],
      ...["-map", "0:v", "-map", "1:a", "-map", "2:a", "-c:v", "libx264", "-c:a", "aac"],
      video,
    ]);
    const piped = await spawnWithStdin(
      ["ingest", "--subject", subject.id, "--json", "-", "--name", "interview.mp4", "--track", "2"],
      env,
      readFileSync(video),
    );
    expect(piped.code, piped.stderr).toBe(0);
    const r = JSON.parse(piped.stdout) as { file: string; format: { container: string; codec: string } };
    expect(r).toMatchObject({ file: "interview.mp4", format: { container: "mp4", codec: "aac" } });
    // the tone on track 1 holds no speech
    const first = await spawnWithStdin(["ingest", "--subject", subject.id, "-"], env, readFileSync(video));
    expect(first.code).toBe(1);
    expect(first.stderr).toContain("error[NO_SPEECH]: stdin: ");
    // a phone's M4A and an Android 3GP (AMR-NB) as files; a damaged one in between
    const m4a = convert(answer, ".m4a", ["-c:a", "aac"]);
    const damaged = writeTemp("cli-damaged.m4a", readFileSync(m4a).subarray(0, 4000));
    const amr = `${answer}.amr`;
    execFileSync("sox", [answer, "-r", "8000", "-t", "amr-nb", amr]);
    const gp = convert(amr, ".3gp", ["-c:a", "copy"]);
    const batch = await spawnCli(["ingest", "--subject", subject.id, "--json", m4a, damaged, gp], env);
    expect(batch.code).toBe(1);
    const lines = batch.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { error?: { code: string }; format?: { codec: string } });
    expect(lines.map((l) => l.error?.code ?? l.format?.codec)).toEqual(["aac", "CORRUPT_AUDIO", "amr_nb"]);
    // standard input queued (its length unknown up front), then ingested by a worker
    const queued = await spawnWithStdin(
      ["ingest", "--subject", subject.id, "--queue", "--json", "-", "--name", "phone.m4a"],
      env,
      readFileSync(m4a),
    );
    expect(queued.code, queued.stderr).toBe(0);
    const q = JSON.parse(queued.stdout) as {
      file: string;
      upload: { id: string; status: string; length: number };
    };
    expect(q).toMatchObject({ file: "phone.m4a", upload: { status: "queued", length: statSync(m4a).size } });
    expect((await spawnCli(["worker", "--drain"], env)).code).toBe(0);
    const status = await spawnCli(["upload", "status", q.upload.id, "--json"], env);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ upload: { status: "complete" } });
    const empty = await spawnWithStdin(
      ["ingest", "--subject", subject.id, "--queue", "-"],
      env,
      Buffer.alloc(0),
    );
    expect(empty.code).not.toBe(0);
    expect(empty.stderr).toContain("error[BAD_REQUEST]: empty upload");
  });
});

describe.runIf(HAVE_AUDIO_TOOLS)("voxvault ingest progress on a terminal", () => {
  it("shows percent, speed and time left for a file that declares its duration", async () => {
    const sb = sandbox({ name: "sqlite" });
    try {
      const env = { ...sb.env, VOXVAULT_DATA_DIR: sb.dataDir };
      expect((await cli(["init"], env)).code).toBe(0);
      const subject = JSON.parse((await cli(["subject", "add", "--ref", "tty", "--json"], env)).stdout) as {
        id: string;
      };
      // long enough for several redraws: a minute of speech
      const long = path.join(path.dirname(speech("x", "slt")), "progress-minute.wav");
      const one = speech(
        "A minute of speech keeps the progress line busy for a while, so it redraws.",
        "awb",
      );
      execFileSync("sox", [one, long, "repeat", "12"]);
      const r = await cli(["ingest", "--subject", subject.id, long], env, { isTty: true });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/progress-minute\.wav: \d+ % of \d+ s, \d+× real time, \d+ s left/);
      expect(r.stderr).toContain("\x1b[K"); // the line is cleared before the result is printed
    } finally {
      await sb.cleanup();
    }
  });
});

/** The built binary with `input` on its standard input. */
function spawnWithStdin(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  input: Buffer,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [new URL("../../dist/bin/voxvault.js", import.meta.url).pathname, ...args],
      {
        env,
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", reject);
    child.on("close", (code) => {
      resolve({
        code: code ?? 1,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      });
    });
    child.stdin.on("error", () => undefined); // a refusal may close stdin before all is written
    child.stdin.end(input);
  });
}

/** The 16-bit PCM of a canonical WAV file as IEEE float64 WAV, scaled by `gain`. */
function float64Wav(file: string, gain: number): Buffer {
  const src = readFileSync(file);
  const data = src.indexOf("data", 12, "ascii");
  const n = src.readUInt32LE(data + 4) / 2;
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = (src.readInt16LE(data + 8 + 2 * i) / 32768) * gain;
  return float64WavBytes(x, src.readUInt32LE(24));
}
