/**
 * `voxvault import` (issue 13 §4) through the CLI: a directory archive with a manifest or a key
 * pattern; subjects made as needed (idempotent on the reference); bad objects recorded with their
 * code without stopping the run; the same content skipped; `--dry-run` touching nothing;
 * `--delete-source` deleting an object only once its recording is committed; a run resumed after
 * its process is killed. And an S3 source with versioning on: every version is deleted.
 */
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { readFileSync } from "node:fs";
import type { ImportReport } from "../../src/ingest/import/service.js";
import { internalsOf } from "../../src/platform/vault.js";
import { HAVE_AUDIO_TOOLS, convert, speech, wavBytes } from "../support/audio.js";
import { BACKENDS, sandbox, type Sandbox } from "../support/backends.js";
import { spawnCli } from "../support/cli.js";
import { freshBucket, HAVE_S3, S3_ENDPOINT, s3Env } from "../support/s3.js";

const MAIN = new URL("../../dist/bin/voxvault.js", import.meta.url).pathname;

type Report = ImportReport;

describe.runIf(HAVE_AUDIO_TOOLS).each(BACKENDS)("voxvault import ($name)", (backend) => {
  let sb: Sandbox;
  let archive: string;
  const env = (): NodeJS.ProcessEnv => ({
    ...sb.env,
    VOXVAULT_DATA_DIR: sb.dataDir,
    ...(backend.pgUrl ? { VOXVAULT_PG_URL: backend.pgUrl } : {}),
  });
  const run = async (args: string[]) => {
    const r = await spawnCli(["--json", "import", ...args], env());
    expect(r.code, r.stderr).toBe(0);
    return r;
  };
  const lastJson = (stdout: string): Report => JSON.parse(stdout.trim().split("\n").at(-1)!) as Report;

  beforeEach(async () => {
    sb = sandbox(backend);
    await (await sb.init()).close();
    archive = path.join(sb.root, "archive");
    mkdirSync(path.join(archive, "alice"), { recursive: true });
    mkdirSync(path.join(archive, "bob"), { recursive: true });
    const a = speech("The birch canoe slid on the smooth planks.", "slt");
    const b = speech("Glue the sheet to the dark blue background.", "awb");
    copyFileSync(a, path.join(archive, "alice", "int-1.wav"));
    copyFileSync(convert(b, ".mp3", ["-b:a", "64k"]), path.join(archive, "bob", "int-2.mp3"));
    copyFileSync(convert(a, ".flac"), path.join(archive, "alice", "int-3.flac"));
    copyFileSync(a, path.join(archive, "bob", "copy-of-int-1.wav")); // same bytes as alice/int-1
    writeFileSync(path.join(archive, "bob", "broken.wav"), Buffer.from("RIFF1234WAVEjunkjunkjunk"));
    writeFileSync(path.join(archive, "alice", "silence.wav"), wavBytes(new Int16Array(16000 * 2)));
  });
  afterEach(async () => {
    await sb.cleanup();
  });

  it("imports a directory by key pattern: subjects made once, bad objects coded, duplicates skipped", async () => {
    const pattern = "^(?<ref>[a-z]+)/(?<externalId>[a-z0-9-]+)\\.(wav|mp3|flac)$";
    // Dry run first: a plan, nothing touched.
    const dry = await run([archive, "--key-pattern", pattern, "--dry-run"]);
    const plan = dry.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { key: string; action: string; subject: string | null });
    expect(plan.map((p) => [p.key, p.action]).sort()).toEqual(
      [
        ["alice/int-1.wav", "import"],
        ["alice/int-3.flac", "import"],
        ["alice/silence.wav", "import"],
        ["bob/broken.wav", "import"],
        ["bob/copy-of-int-1.wav", "import"],
        ["bob/int-2.mp3", "import"],
      ].sort(),
    );
    expect(plan.every((p) => p.subject === "new")).toBe(true);
    let v = await sb.open();
    expect(await v.subjects.list()).toEqual([]);
    await v.close();

    const r = lastJson((await run([archive, "--key-pattern", pattern])).stdout);
    expect(r).toMatchObject({
      objects: 6,
      imported: 3,
      skipped: 1,
      failed: 2,
      resumed: false,
      bytesDestroyed: 0,
    });
    expect(r.failedByCode).toEqual({ NO_SPEECH: 1, CORRUPT_AUDIO: 1 });
    expect(r.audioHours).toBeGreaterThan(0);
    // Nothing at the source was touched without --delete-source.
    expect(readdirSync(path.join(archive, "bob")).length).toBe(3);

    v = await sb.open();
    try {
      const subjects = await v.subjects.list();
      expect(subjects).toHaveLength(2);
      const alice = (await v.subjects.findByRef("alice"))!;
      const recs = await v.recordings.recordings(alice.id);
      expect(recs.map((x) => x.metadata?.externalId).sort()).toEqual(["int-1", "int-3"]);
      const events = await v.audit.list({ type: "import.object" });
      expect(events).toHaveLength(6);
      // The audit log names objects by a keyed hash, never by their key (which may hold a name).
      expect(JSON.stringify(events)).not.toMatch(/alice|bob|int-1/);
      expect((await v.audit.list({ type: "import.finished" })).length).toBe(1);
    } finally {
      await v.close();
    }

    // The same command again: a new run, everything already imported is skipped by content.
    const again = lastJson((await run([archive, "--key-pattern", pattern])).stdout);
    expect(again).toMatchObject({ imported: 0, skipped: 4, failed: 2 });
  }, 180_000);

  it("imports by manifest with --delete-source, deleting each object only after its recording", async () => {
    const manifest = path.join(sb.root, "manifest.csv");
    writeFileSync(
      manifest,
      [
        "key,ref,externalId,kind,recordedAt",
        "alice/int-1.wav,alice,int-1,interview,2025-03-01T10:00:00Z",
        'bob/int-2.mp3,bob,"int-2",assessment,',
        "alice/silence.wav,alice,,,",
        "carol/missing.wav,carol,,,",
      ].join("\n"),
    );
    const r = lastJson((await run([archive, "--manifest", manifest, "--delete-source"])).stdout);
    expect(r).toMatchObject({ objects: 4, imported: 2, failed: 2 });
    expect(r.failedByCode).toEqual({ NO_SPEECH: 1, FILE_UNREADABLE: 1 });
    expect(existsSync(path.join(archive, "alice", "int-1.wav"))).toBe(false);
    expect(existsSync(path.join(archive, "bob", "int-2.mp3"))).toBe(false);
    // Failed objects stay where they were.
    expect(existsSync(path.join(archive, "alice", "silence.wav"))).toBe(true);
    expect(r.bytesDestroyed).toBeGreaterThan(1000);
    const v = await sb.open();
    try {
      const bob = (await v.subjects.findByRef("bob"))!;
      expect((await v.recordings.recordings(bob.id))[0]?.metadata).toEqual({
        externalId: "int-2",
        kind: "assessment",
      });
      // A manifest that does not parse stops before anything happens.
      writeFileSync(manifest, "key,ref,name\nx,y,z\n");
      const bad = await spawnCli(["import", archive, "--manifest", manifest], env());
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/INVALID_ARGUMENT.*unknown column name/);
    } finally {
      await v.close();
    }
  }, 180_000);

  it("resumes a run whose process was killed, importing each object once", async () => {
    // More objects, so that the kill lands mid-run.
    for (let i = 0; i < 6; i++)
      copyFileSync(
        speech(`Recording number ${i} of the archive is here.`, i % 2 ? "rms" : "kal16"),
        path.join(archive, "alice", `extra-${i}.wav`),
      );
    const pattern = "^(?<ref>[a-z]+)/(?<externalId>[a-z0-9-]+)\\.(wav|mp3|flac)$";
    // A short lease, so that the resumed run's worker takes over the killed one's job soon.
    const lease = ["--lease-seconds", "2"];
    const proc = spawn(
      process.execPath,
      [MAIN, "import", archive, "--key-pattern", pattern, "--window", "2", ...lease],
      {
        env: env(),
        stdio: "ignore",
      },
    );
    const exited = new Promise((r) => proc.once("exit", r));
    // Kill once some objects are in.
    const v0 = await sb.open();
    const db = internalsOf(v0).meta.db;
    for (let i = 0; i < 300; i++) {
      const n = await db
        .selectFrom("import_items")
        .select("status")
        .where("status", "in", ["imported", "skipped"])
        .execute()
        .catch(() => []);
      if (n.length >= 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await v0.close();
    proc.kill("SIGKILL");
    await exited;
    const r = lastJson((await run([archive, "--key-pattern", pattern, ...lease])).stdout);
    expect(r.resumed).toBe(true);
    expect(r).toMatchObject({ objects: 12, imported: 9, skipped: 1, failed: 2 });
    const v = await sb.open();
    try {
      const alice = (await v.subjects.findByRef("alice"))!;
      const recs = await v.recordings.recordings(alice.id);
      // One recording per object, whatever the kill interrupted.
      expect(recs.map((x) => x.metadata?.externalId).sort()).toEqual(
        ["int-1", "int-3", ...[0, 1, 2, 3, 4, 5].map((i) => `extra-${i}`)].sort(),
      );
    } finally {
      await v.close();
    }
  }, 240_000);
});

describe.runIf(HAVE_AUDIO_TOOLS && HAVE_S3)("voxvault import from a versioned S3 bucket", () => {
  it("deletes every version of each imported object, and leaves other keys alone", async () => {
    const sb = sandbox({ name: "sqlite" });
    await (await sb.init()).close();
    const fresh = await freshBucket();
    const { client } = fresh;
    const bucket = fresh.config.bucket;
    const creds = s3Env();
    try {
      await client.send(
        new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }),
      );
      const a = readFileSync(speech("The birch canoe slid on the smooth planks.", "slt"));
      // Two versions of the same key (an archive re-uploaded once), and an unrelated key.
      await client.send(
        new PutObjectCommand({ Bucket: bucket, Key: "old/dana/a.wav", Body: wavBytes(new Int16Array(800)) }),
      );
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: "old/dana/a.wav", Body: a }));
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: "other/keep.txt", Body: "x" }));
      const r = await spawnCli(
        [
          "--json",
          "import",
          `s3://${bucket}/old/`,
          "--key-pattern",
          "^(?<ref>[a-z]+)/(?<externalId>[a-z]+)\\.wav$",
          "--delete-source",
          "--source-endpoint",
          S3_ENDPOINT!,
          "--source-region",
          fresh.config.region,
          "--source-path-style",
        ],
        {
          ...sb.env,
          VOXVAULT_DATA_DIR: sb.dataDir,
          VOXVAULT_IMPORT_S3_ACCESS_KEY_ID: creds.VOXVAULT_S3_ACCESS_KEY_ID,
          VOXVAULT_IMPORT_S3_SECRET_ACCESS_KEY: creds.VOXVAULT_S3_SECRET_ACCESS_KEY,
        },
      );
      expect(r.code, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as Report;
      expect(report).toMatchObject({ imported: 1, failed: 0, versioned: true });
      const versions = await client.send(new ListObjectVersionsCommand({ Bucket: bucket }));
      const left = [...(versions.Versions ?? []), ...(versions.DeleteMarkers ?? [])].map((x) => x.Key);
      expect(left).toEqual(["other/keep.txt"]);
    } finally {
      await fresh.drop();
      await sb.cleanup();
    }
  }, 120_000);
});
