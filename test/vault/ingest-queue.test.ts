/**
 * The ingest queue (src/ingest/jobs.ts, src/ingest/worker.ts) on every metadata backend: an
 * upload's last byte queues it in the same transaction; a worker ingests it exactly once however
 * often it is claimed; a worker that died loses its job after the lease; a worker whose lease was
 * taken over cannot commit beside the new holder; transient errors back off and retry, other
 * errors fail at once with their code; expired, aborted and shredded uploads leave nothing.
 */
import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { VaultError } from "../../src/errors.js";
import { createJobQueue, DEFAULT_QUEUE_OPTIONS, type QueueOptions } from "../../src/ingest/jobs.js";
import { createIngestService } from "../../src/ingest/service.js";
import { createUploadService } from "../../src/ingest/uploads.js";
import { internalsOf, type Vault } from "../../src/platform/vault.js";
import { HAVE_AUDIO_TOOLS, speech, wavBytes } from "../support/audio.js";
import { BACKENDS, bytesOf, sandbox, type Sandbox } from "../support/backends.js";

class Clock {
  offsetMs = 0;
  readonly now = (): Date => new Date(Date.now() + this.offsetMs);
}

const QUEUE: QueueOptions = { leaseMs: 30_000, maxAttempts: 3, backoffBaseMs: 1000, backoffMaxMs: 10_000 };

async function staged(v: Vault, subjectId: string, bytes: Uint8Array, pieces = 3): Promise<string> {
  const u = await v.uploads.create(subjectId, "tester", bytes.length);
  const step = Math.ceil(bytes.length / pieces);
  for (let off = 0; off < bytes.length; off += step)
    await v.uploads.append(
      u.id,
      "tester",
      off,
      bytesOf(bytes.subarray(off, Math.min(bytes.length, off + step))),
    );
  return u.id;
}

/** The internal upload service a worker uses, with its own queue (a second worker, say). */
function workerSide(v: Vault, options: QueueOptions = QUEUE) {
  const init = internalsOf(v);
  const queue = createJobQueue(init, options);
  const ingest = createIngestService({
    ...init,
    abstraction: v.abstraction,
    decoder: init.decoder ?? {},
    embedder: async () => init.embedderFactory?.(v.abstraction.embedder),
  });
  const uploads = createUploadService({ ...init, ingest, queue, maxBytes: 1 << 30, notify: () => undefined });
  return { queue, uploads };
}

async function counts(v: Vault, subjectId: string) {
  const db = internalsOf(v).meta.db;
  const n = async (t: "recordings" | "derivations" | "blobs") =>
    Number(
      (
        await db
          .selectFrom(t)
          .select((eb) => eb.fn.countAll<number | string>().as("n"))
          .where("subject_id", "=", subjectId)
          .executeTakeFirstOrThrow()
      ).n,
    );
  return { recordings: await n("recordings"), derivations: await n("derivations"), blobs: await n("blobs") };
}

describe.each(BACKENDS)("ingest queue ($name)", (backend) => {
  let sb: Sandbox;
  let v: Vault;
  let clock: Clock;
  beforeEach(async () => {
    sb = sandbox(backend);
    await (await sb.init()).close();
    clock = new Clock();
    v = await sb.open({ now: clock.now });
  });
  afterEach(async () => {
    await v.close();
    await sb.cleanup();
  });

  it("fails a recording that cannot be abstracted at once, with its code, deleting its staged parts", async () => {
    const s = await v.subjects.add({ ref: "c-silence" });
    const id = await staged(v, s.id, wavBytes(new Int16Array(16000 * 3)));
    expect(await v.uploads.status(id)).toMatchObject({ status: "queued", attempts: 0, error: null });
    expect((await counts(v, s.id)).blobs).toBe(3); // the encrypted parts, nothing else
    expect(await v.jobs.pending()).toBe(1);
    const report = await v.jobs.drain({ ...QUEUE, pollMs: 20 });
    expect(report).toEqual({ complete: 0, failed: 1, retried: 0, lost: 0 });
    const st = await v.uploads.status(id);
    expect(st).toMatchObject({ status: "failed", attempts: 1, recordingId: null });
    expect(st.error?.code).toBe("NO_SPEECH");
    expect(await counts(v, s.id)).toEqual({ recordings: 0, derivations: 0, blobs: 0 });
    const events = await v.audit.list({ subjectId: s.id });
    expect(events.map((e) => e.event.type)).toEqual(
      expect.arrayContaining(["upload.queued", "blobs.removed", "upload.failed"]),
    );
    const failed = events.find((e) => e.event.type === "upload.failed");
    expect(failed?.event).toMatchObject({ uploadId: id, code: "NO_SPEECH", attempts: 1 });
  });

  it("backs off and retries a transient failure, then fails it after the last attempt", async () => {
    const s = await v.subjects.add({ ref: "c-transient" });
    const id = await staged(v, s.id, wavBytes(new Int16Array(16000)));
    const { queue } = workerSide(v);
    const outcomes: string[] = [];
    for (let attempt = 1; attempt <= QUEUE.maxAttempts; attempt++) {
      const job = await queue.claim("w1");
      expect(job?.id, `attempt ${attempt}`).toBe(id);
      expect(job?.attempts).toBe(attempt);
      // Nobody else gets a job that is held.
      expect(await queue.claim("w2")).toBeUndefined();
      outcomes.push(await queue.fail(job!, new VaultError("STORE_IO", "bucket unreachable")));
      const st = await v.uploads.status(id);
      if (attempt < QUEUE.maxAttempts) {
        expect(st).toMatchObject({ status: "queued", error: { code: "STORE_IO" } });
        // Not before its backoff (base · 2^(n-1), ±25 %).
        expect(await queue.claim("w1")).toBeUndefined();
        clock.offsetMs += QUEUE.backoffBaseMs * 2 ** (attempt - 1) * 1.25 + 1;
      }
    }
    expect(outcomes).toEqual(["retry", "retry", "failed"]);
    expect(await v.uploads.status(id)).toMatchObject({
      status: "failed",
      attempts: 3,
      error: { code: "STORE_IO" },
    });
    expect((await counts(v, s.id)).blobs).toBe(0);
  });

  it("hands a dead worker's job to another after the lease, and fails it after too many", async () => {
    const s = await v.subjects.add({ ref: "c-dead" });
    const id = await staged(v, s.id, wavBytes(new Int16Array(16000)));
    const { queue } = workerSide(v);
    for (let i = 1; i <= QUEUE.maxAttempts; i++) {
      expect((await queue.claim(`dead-${i}`))?.id).toBe(id);
      expect(await queue.claim("other")).toBeUndefined(); // leased
      clock.offsetMs += QUEUE.leaseMs + 1;
    }
    // The lease of the last attempt lapsed too: the job fails instead of being handed out again.
    expect(await queue.claim("other")).toBeUndefined();
    const st = await v.uploads.status(id);
    expect(st).toMatchObject({
      status: "failed",
      attempts: QUEUE.maxAttempts,
      error: { code: "INGEST_FAILED" },
    });
    expect((await counts(v, s.id)).blobs).toBe(0);
  });

  it("fails a job whose staged parts expired before any worker took it", async () => {
    const s = await v.subjects.add({ ref: "c-expired" });
    const id = await staged(v, s.id, wavBytes(new Int16Array(16000)));
    clock.offsetMs += 25 * 3_600_000;
    expect(await workerSide(v).queue.claim("w")).toBeUndefined();
    expect(await v.uploads.status(id)).toMatchObject({
      status: "failed",
      error: { code: "RETENTION_EXPIRED" },
    });
  });

  it("fails an upload abandoned before its last chunk at the retention sweep, deleting its parts", async () => {
    const s = await v.subjects.add({ ref: "c-abandoned" });
    const bytes = wavBytes(new Int16Array(16000));
    const u = await v.uploads.create(s.id, "tester", bytes.length);
    await v.uploads.append(u.id, "tester", 0, bytesOf(bytes.subarray(0, 1000)));
    expect((await counts(v, s.id)).blobs).toBe(1);
    expect((await v.retention.sweep()).uploadsExpired).toBe(0); // not expired yet: untouched
    clock.offsetMs += 25 * 3_600_000;
    expect((await v.retention.sweep()).uploadsExpired).toBe(1);
    expect(await v.uploads.status(u.id)).toMatchObject({
      status: "failed",
      offset: 1000,
      error: { code: "RETENTION_EXPIRED" },
    });
    expect((await counts(v, s.id)).blobs).toBe(0);
    const failed = await v.audit.list({ type: "upload.failed" });
    expect(failed.map((e) => (e.event as { uploadId: string }).uploadId)).toContain(u.id);
    expect((await v.retention.sweep()).uploadsExpired).toBe(0);
  });

  it("erases a queued job with its subject's shred", async () => {
    const s = await v.subjects.add({ ref: "c-shred" });
    await staged(v, s.id, wavBytes(new Int16Array(16000)));
    await v.shredding.request(s.id, { immediate: true });
    expect(await v.jobs.pending()).toBe(0);
    expect(await workerSide(v).queue.claim("w")).toBeUndefined();
  });

  describe.runIf(HAVE_AUDIO_TOOLS)("with speech", () => {
    const voice = () => readFileSync(speech("Please call Stella and ask her to bring these things.", "awb"));

    it("ingests a queued upload exactly once: one recording, parts deleted with its commit", async () => {
      const s = await v.subjects.add({ ref: "c-ok" });
      const u = await v.uploads.create(s.id, "tester", voice().length, {
        externalId: "int-1",
        kind: "interview",
      });
      await v.uploads.append(u.id, "tester", 0, bytesOf(voice()));
      const report = await v.jobs.drain({ ...QUEUE, pollMs: 20 });
      expect(report).toMatchObject({ complete: 1, failed: 0 });
      const done = await v.uploads.waitFor(u.id, undefined, 0);
      expect(done.state).toMatchObject({ status: "complete", attempts: 1, error: null });
      expect(done.recording?.id).toBe(done.state.recordingId);
      expect(done.recording?.metadata).toEqual({ externalId: "int-1", kind: "interview" });
      expect(done.recording?.speechSec).toBeGreaterThan(1);
      const c = await counts(v, s.id);
      expect(c.recordings).toBe(1);
      expect(c.blobs).toBe(c.derivations); // only derivations: the staged parts are gone
      const listed = await v.recordings.recordings(s.id);
      expect(listed[0]?.metadata).toEqual({ externalId: "int-1", kind: "interview" });
      // Nothing left for the sweep: the part objects were deleted after the commit.
      expect((await v.maintenance.run({ graceMs: 0 })).orphansRemoved).toBe(0);
    });

    it("a worker whose lease was taken over cannot commit beside the new holder", async () => {
      const s = await v.subjects.add({ ref: "c-race" });
      const id = await staged(v, s.id, voice());
      const a = workerSide(v);
      const b = workerSide(v);
      const jobA = await a.queue.claim("slow");
      expect(jobA?.id).toBe(id);
      clock.offsetMs += QUEUE.leaseMs + 1; // A stalls past its lease and B takes the job over
      const jobB = await b.queue.claim("fast");
      expect(jobB).toMatchObject({ id, attempts: 2, lease_owner: "fast" });
      // A wakes up and runs the whole ingest: its commit is refused (B holds the job), and what A
      // sealed is discarded.
      await expect(a.uploads.ingestJob(jobA!)).rejects.toMatchObject({ code: "CONFLICT" });
      expect(await counts(v, s.id)).toMatchObject({ recordings: 0, derivations: 0 });
      const rec = await b.uploads.ingestJob(jobB!);
      const c = await counts(v, s.id);
      expect(c.recordings).toBe(1);
      expect(c.blobs).toBe(c.derivations);
      expect((await v.maintenance.run({ graceMs: 0 })).orphansRemoved).toBe(0);
      expect(await v.uploads.status(id)).toMatchObject({
        status: "complete",
        attempts: 2,
        recordingId: rec.id,
      });
      // A late attempt after completion finds nothing to do and stores nothing.
      await expect(a.uploads.ingestJob(jobA!)).rejects.toBeInstanceOf(VaultError);
      expect((await counts(v, s.id)).recordings).toBe(1);
      expect((await v.maintenance.run({ graceMs: 0 })).orphansRemoved).toBe(0);
    });

    it("an upload aborted while a worker ingests it ends aborted, with no recording", async () => {
      const s = await v.subjects.add({ ref: "c-abort" });
      const id = await staged(v, s.id, voice());
      const w = workerSide(v);
      const job = await w.queue.claim("w");
      await v.uploads.abort(id);
      // Its parts are gone with the abort: the attempt stops at the first read.
      await expect(w.uploads.ingestJob(job!)).rejects.toMatchObject({ code: "BLOB_NOT_FOUND" });
      expect(await v.uploads.status(id)).toMatchObject({ status: "aborted" });
      expect(await counts(v, s.id)).toEqual({ recordings: 0, derivations: 0, blobs: 0 });
      expect((await v.maintenance.run({ graceMs: 0 })).orphansRemoved).toBe(0);
    });

    it("two workers in one process share the queue without taking the same job", async () => {
      const s = await v.subjects.add({ ref: "c-two" });
      const ids: string[] = [];
      for (let i = 0; i < 4; i++) ids.push(await staged(v, s.id, voice(), 2));
      const seen: string[] = [];
      const a = v.jobs.startWorker({ ...QUEUE, pollMs: 20, onJob: (e) => seen.push(e.uploadId) });
      const b = v.jobs.startWorker({ ...QUEUE, pollMs: 20, onJob: (e) => seen.push(e.uploadId) });
      for (const id of ids)
        expect((await v.uploads.waitFor(id, undefined, 60_000)).state.status).toBe("complete");
      await a.stop();
      await b.stop();
      expect(seen.sort()).toEqual([...ids].sort());
      expect((await counts(v, s.id)).recordings).toBe(4);
    });
  });
});

describe("queue options", () => {
  it("backoff doubles per attempt within ±25 % and stops at its cap", async () => {
    const { backoffMs } = await import("../../src/ingest/jobs.js");
    const o = DEFAULT_QUEUE_OPTIONS;
    expect(backoffMs(1, o, () => 0.5)).toBe(o.backoffBaseMs);
    expect(backoffMs(3, o, () => 0.5)).toBe(o.backoffBaseMs * 4);
    expect(backoffMs(3, o, () => 0)).toBe(o.backoffBaseMs * 3);
    expect(backoffMs(3, o, () => 1)).toBe(o.backoffBaseMs * 5);
    expect(backoffMs(40, o, () => 0.5)).toBe(o.backoffMaxMs);
  });
});
