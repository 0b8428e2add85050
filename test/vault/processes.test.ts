import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { BACKENDS, collectBytes, sandbox, type Sandbox } from "../support/backends.js";

const WORKER = new URL("../support/vault-worker.mjs", import.meta.url).pathname;

function worker(sb: Sandbox, args: string[]) {
  const env = { ...sb.env, ...(sb.backend.pgUrl ? { VOXVAULT_PG_URL: sb.backend.pgUrl } : {}) };
  const child = spawn(process.execPath, [WORKER, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  // Progress lines ("ready", then one "op" per committed operation), for tests that act on them.
  const lines = createInterface({ input: child.stdout });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>(
    (resolve) =>
      child.on("exit", (code, signal) => {
        resolve({ code, signal, stderr });
      }),
  );
  return { child, done, lines };
}

/**
 * Kills a chaos worker at a random point of real work: after it opened the vault and committed a
 * random number of operations, plus a random offset of up to 20 ms so the kill lands
 * inside an operation (mid-transaction, mid-rename) rather than between two. Returns how many
 * operations it had committed. Nothing waits for a guessed time: a loaded machine only slows it.
 */
async function killAfterProgress(w: ReturnType<typeof worker>, ops: number): Promise<number> {
  let ready = false;
  let done = 0;
  for await (const line of w.lines) {
    if (line === "ready") ready = true;
    else if (line === "op" && ready && ++done >= ops) break;
  }
  await new Promise((r) => setTimeout(r, Math.random() * 20));
  w.child.kill("SIGKILL");
  return done;
}

/** Invariants that must hold whatever instant a writer died at. */
async function checkInvariants(sb: Sandbox): Promise<{ subjects: number; shredded: number }> {
  const v = await sb.open(); // reconciles root versions
  try {
    const status = await v.keys.status();
    // every recorded puncture applied to this host's root, the active generation held
    expect(status.provider.appliedSeq).toBe(status.punctureSeq);
    expect(status.provider.generations).toContain(status.activeGeneration);
    const events = await v.audit.list({ limit: 100_000 });
    const created = new Set(
      events
        .filter((e) => e.event.type === "subject.created")
        .map((e) => (e.event as { subjectId: string }).subjectId),
    );
    const written = new Set(
      events
        .filter((e) => e.event.type === "blob.written")
        .map((e) => (e.event as { blobId: string }).blobId),
    );
    const shreddedEv = new Set(
      events
        .filter((e) => e.event.type === "subject.shredded")
        .map((e) => (e.event as { subjectId: string }).subjectId),
    );
    const subjects = await v.subjects.list({ limit: 10_000 });
    let shredded = 0;
    for (const s of subjects) {
      expect(created.has(s.id), `subject ${s.id} without its creation event`).toBe(true);
      const versions = await v.subjects.keyVersions(s.id);
      if (s.status === "shredded") {
        shredded++;
        expect(shreddedEv.has(s.id)).toBe(true);
        expect(versions).toEqual([]);
        continue;
      }
      expect(versions.length).toBeGreaterThan(0);
      expect(await v.subjects.revealRef(s.id)).toMatch(/^[0-9a-f]{16}$|^\d+-\d+$/);
      for (const b of await v.blobs.list(s.id)) {
        expect(written.has(b.id), `blob ${b.id} without its write event`).toBe(true);
        expect((await collectBytes((await v.blobs.read(b.id)).stream)).length).toBe(b.plaintextSize);
      }
    }
    return { subjects: subjects.length, shredded };
  } finally {
    await v.close();
  }
}

describe.each(BACKENDS)("several processes on one vault ($name)", (backend) => {
  let sb: Sandbox;
  afterEach(async () => {
    await sb.cleanup();
  });

  it("concurrent writers all succeed and never share a slot", async () => {
    sb = sandbox(backend);
    await (await sb.init()).close();
    const runs = [0, 1, 2, 3].map(() => worker(sb, ["writer", sb.dataDir, "15"]));
    const results = await Promise.all(runs.map((r) => r.done));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const { subjects } = await checkInvariants(sb);
    expect(subjects).toBe(60);
  });

  it("a writer killed at random points never leaves the vault inconsistent", async () => {
    sb = sandbox(backend);
    await (await sb.init()).close();
    const rounds = 8;
    let kills = 0;
    for (let round = 0; round < rounds; round++) {
      const w = worker(sb, ["chaos", sb.dataDir]);
      const ops = 2 + Math.floor(Math.random() * 10);
      const committed = await killAfterProgress(w, ops); // returns early if the worker died
      const r = await w.done;
      // A chaos worker only ends when killed: anything else is a failure, shown with its stderr.
      expect([r.signal, r.code, r.stderr]).toEqual(["SIGKILL", null, ""]);
      expect(committed).toBe(ops);
      kills++;
      await checkInvariants(sb);
    }
    expect(kills).toBe(rounds);
    const final = await checkInvariants(sb);
    expect(final.subjects).toBeGreaterThan(5);
    expect(final.shredded).toBeGreaterThan(0);
  }, 120_000);
});
