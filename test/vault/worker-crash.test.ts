/**
 * Workers killed with SIGKILL at random points (issue 13 §3): `voxvault worker` processes are
 * started and killed twenty times while they ingest queued uploads, then one drains the queue.
 * Afterwards every upload has exactly one recording with the full set of derivations, no blob row
 * or object is left over once the sweep has removed the partial writes of the killed ones, and no
 * file anywhere under the vault (store, database, its journal) holds a byte run of the audio.
 */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { internalsOf, type Vault } from "../../src/platform/vault.js";
import { HAVE_AUDIO_TOOLS, sox, speech } from "../support/audio.js";
import { BACKENDS, bytesOf, sandbox, type Sandbox } from "../support/backends.js";
import { spawnCli } from "../support/cli.js";
import { prng } from "../support/prng.js";

const MAIN = new URL("../../dist/bin/voxvault.js", import.meta.url).pathname;
const KILLS = 20;
const UPLOADS = 12;

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

describe.runIf(HAVE_AUDIO_TOOLS).each(BACKENDS)("workers killed mid-job ($name)", (backend) => {
  let sb: Sandbox;
  let audio: Buffer[];
  const env = (): NodeJS.ProcessEnv => ({
    ...sb.env,
    VOXVAULT_DATA_DIR: sb.dataDir,
    ...(backend.pgUrl ? { VOXVAULT_PG_URL: backend.pgUrl } : {}),
  });

  beforeAll(async () => {
    sb = sandbox(backend);
    await (await sb.init()).close();
    // About 25 s each, so that an ingest takes long enough for kills to land inside it.
    audio = (["slt", "awb", "rms", "kal16"] as const).map((voice) =>
      readFileSync(
        sox(
          speech(
            "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background.",
            voice,
          ),
          "x5",
          ["repeat", "4"],
        ),
      ),
    );
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  it(`${KILLS} kills at random points: no duplicate or missing derivation, no plaintext`, async () => {
    const seed = Number(process.env.VOXVAULT_TEST_SEED ?? Date.now() % 1_000_000);
    const random = prng(seed);
    let v: Vault = await sb.open();
    const s = await v.subjects.add({ ref: "contractor-crash" });
    const uploads: string[] = [];
    for (let i = 0; i < UPLOADS; i++) {
      const bytes = audio[i % audio.length]!;
      const u = await v.uploads.create(s.id, "tester", bytes.length);
      await v.uploads.append(u.id, undefined, 0, bytesOf(bytes));
      uploads.push(u.id);
    }
    await v.close();

    // Claims made so far (each claim counts one attempt), read from this process meanwhile.
    const watcher = await sb.open();
    const claims = async () => {
      const r = await internalsOf(watcher)
        .meta.db.selectFrom("uploads")
        .select((eb) => eb.fn.sum<number | string>("attempts").as("n"))
        .where("subject_id", "=", s.id)
        .executeTakeFirstOrThrow();
      return Number(r.n);
    };
    const queued = async () =>
      (
        await internalsOf(watcher)
          .meta.db.selectFrom("uploads")
          .select("id")
          .where("subject_id", "=", s.id)
          .where("status", "!=", "complete")
          .execute()
      ).length;
    try {
      for (let k = 0; k < KILLS; k++) {
        const before = await claims();
        const proc = spawn(
          process.execPath,
          [MAIN, "worker", "--lease-seconds", "1", "--poll-ms", "50", "--max-attempts", "100", "--json"],
          { env: env(), stdio: ["ignore", "pipe", "pipe"] },
        );
        const exited = new Promise((r) => proc.once("exit", r));
        if (k % 4 !== 0) {
          // Start-up takes a few hundred milliseconds, an ingest less than that to a second or
          // two: kills land in both, and between jobs.
          await new Promise((r) => setTimeout(r, 300 + random() * 1700));
        } else {
          // Every fourth kill, the first while every upload is queued, waits for the worker's
          // claim and lands within the job it claimed, however fast the ingest or slow start-up.
          const end = Date.now() + 20_000;
          while (
            (await claims()) === before &&
            (await queued()) > 0 &&
            Date.now() < end &&
            proc.exitCode === null
          )
            await new Promise((r) => setTimeout(r, 5));
          await new Promise((r) => setTimeout(r, random() * 30));
        }
        proc.kill("SIGKILL");
        await exited;
      }
    } finally {
      await watcher.close();
    }

    // One worker drains what is left (the killed workers' leases lapse after a second).
    const drained = await spawnCli(
      ["worker", "--drain", "--lease-seconds", "1", "--poll-ms", "50", "--max-attempts", "100", "--json"],
      env(),
    );
    expect(drained.code, `seed ${seed}: ${drained.stderr}`).toBe(0);

    v = await sb.open();
    try {
      const db = internalsOf(v).meta.db;
      const states = await Promise.all(uploads.map((id) => v.uploads.status(id)));
      expect(
        states.map((x) => x.status),
        `seed ${seed}`,
      ).toEqual(uploads.map(() => "complete"));
      const recs = await db
        .selectFrom("recordings")
        .select(["id", "upload_id"])
        .where("subject_id", "=", s.id)
        .execute();
      // Exactly one recording per upload, each named by its upload.
      expect(recs.map((r) => r.upload_id).sort()).toEqual([...uploads].sort());
      expect(new Set(states.map((x) => x.recordingId))).toEqual(new Set(recs.map((r) => r.id)));
      // Kills landed inside jobs (a claimed attempt that never finished), not only between them.
      const lostAttempts = states.reduce((n, x) => n + x.attempts - 1, 0);
      expect(lostAttempts, `seed ${seed}`).toBeGreaterThan(0);
      const drv = await db
        .selectFrom("derivations")
        .select(["recording_id", "name"])
        .where("subject_id", "=", s.id)
        .execute();
      const names = (id: string) =>
        drv
          .filter((d) => d.recording_id === id)
          .map((d) => d.name)
          .sort();
      const expected = names(recs[0]!.id);
      expect(expected).toEqual(expect.arrayContaining(["quality", "voice-stats"]));
      for (const r of recs) expect(names(r.id), r.id).toEqual(expected);
      // Rows: derivations only. Objects: the sweep removes partial writes of killed workers, then
      // the store holds exactly the committed blobs.
      const blobs = await db.selectFrom("blobs").select("id").where("subject_id", "=", s.id).execute();
      expect(blobs.length).toBe(drv.length);
      await v.maintenance.run({ graceMs: 0 });
      const objects = filesUnder(path.join(sb.dataDir, "blobs")).map((f) => path.basename(f));
      expect(objects.sort()).toEqual(blobs.map((b) => b.id).sort());
    } finally {
      await v.close();
    }

    // No run of the audio anywhere: sample 64-byte windows from each source's PCM.
    const probes = audio.flatMap((a) =>
      [0.2, 0.4, 0.6, 0.8].map((f) => a.subarray(Math.floor(a.length * f), Math.floor(a.length * f) + 64)),
    );
    for (const file of filesUnder(sb.root)) {
      if (statSync(file).size < 64) continue;
      const content = readFileSync(file);
      for (const p of probes) expect(content.indexOf(p), `${file} holds audio`).toBe(-1);
    }
  }, 300_000);
});
