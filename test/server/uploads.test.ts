/**
 * Uploads over HTTP: direct uploads stream into the abstraction pipeline; resumable uploads take
 * chunks at an offset (409 on a wrong one), survive a failed chunk, are queued on the last byte
 * (202) and ingested by the worker beside the API, report their status (with `Prefer: wait` and
 * `?wait=` for the outcome), and can be aborted — leaving no encrypted parts behind.
 */
import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Derivation, Recording } from "../../src/server/routes/schemas.js";
import { convert, HAVE_AUDIO_TOOLS, wavBytes } from "../support/audio.js";
import { BACKENDS } from "../support/backends.js";
import { call, codeOf, makeWorld, speechBytes, speechFile, type Reply, type World } from "./helpers.js";

interface Upload {
  id: string;
  subjectId: string;
  offset: number;
  length: number;
  status: string;
  expiresAt: string;
  recordingId: string | null;
  attempts: number;
  error: { code: string; message: string } | null;
  metadata?: Record<string, string>;
}
interface RecordingReply {
  id: string;
  subjectId: string;
  durationSec: number;
  derivations: { id: string; name: string }[];
}

const EXPECTED_NAMES = ["quality", "speaker-template", "speakers", "voice-stats"];

describe.runIf(HAVE_AUDIO_TOOLS).each(BACKENDS)("uploads ($name)", (backend) => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld(backend);
  });
  afterAll(async () => {
    await w.close();
  });

  const start = async (
    subjectId: string,
    length: number,
    token = w.tok.operator,
    metadata?: Record<string, string>,
  ): Promise<Upload> => {
    const r = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${subjectId}/uploads`,
      token,
      json: metadata ? { length, metadata } : { length },
    });
    expect(r.status, r.text).toBe(201);
    return r.json() as Upload;
  };
  const chunk = (
    id: string,
    offset: number | undefined,
    body: Buffer | Readable,
    token = w.tok.operator,
    headers: Record<string, string> = {},
  ): Promise<Reply> =>
    call(w.app, {
      method: "PATCH",
      url: `/v1/uploads/${id}`,
      token,
      type: "application/offset+octet-stream",
      headers: { ...headers, ...(offset === undefined ? {} : { "upload-offset": String(offset) }) },
      body,
    });
  const state = async (id: string, token = w.tok.operator, wait = 0): Promise<Upload> =>
    (
      (
        await call(w.app, { method: "GET", url: `/v1/uploads/${id}${wait ? `?wait=${wait}` : ""}`, token })
      ).json() as { upload: Upload }
    ).upload;
  const blobCount = async (subjectId: string): Promise<number> =>
    (
      (
        await call(w.app, { method: "GET", url: `/v1/subjects/${subjectId}`, token: w.tok.operator })
      ).json() as { blobCount: number }
    ).blobCount;

  function checkRecording(r: Reply, subjectId: string): RecordingReply {
    const rec = r.json() as RecordingReply;
    expect(rec.id).toMatch(/^rec_/);
    expect(rec.subjectId).toBe(subjectId);
    expect(rec.durationSec).toBeGreaterThan(3);
    expect(rec.derivations.map((d) => d.name).sort()).toEqual(EXPECTED_NAMES);
    // Only schema fields: no blob ids, nothing of the audio.
    // (metadata only when the platform gave some)
    const fields = Object.keys(Recording.properties).filter((k) => k !== "metadata" || "metadata" in rec);
    expect(Object.keys(rec).sort()).toEqual(fields.sort());
    for (const d of rec.derivations)
      expect(Object.keys(d).sort()).toEqual(Object.keys(Derivation.properties).sort());
    return rec;
  }

  it("ingests a direct upload through the queue and keeps no raw audio", async () => {
    const p = await w.fresh();
    const bytes = speechBytes("awb");
    // (Chunked, slowly streamed bodies over a real socket: https.test.ts.)
    const r = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${p.id}/recordings`,
      token: w.tok.operator,
      type: "audio/wav",
      body: bytes,
    });
    expect(r.status, r.text).toBe(201);
    const rec = checkRecording(r, p.id);
    expect(await blobCount(p.id)).toBe(rec.derivations.length);
    const listed = await call(w.app, {
      method: "GET",
      url: `/v1/subjects/${p.id}/recordings`,
      token: w.tok.operator,
    });
    expect((listed.json() as { recordings: { id: string }[] }).recordings.map((x) => x.id)).toEqual([rec.id]);
    // Other containers and the generic binary type take the same path; the contractor may upload its own.
    const mp3 = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${p.id}/recordings`,
      token: p.contractor,
      type: "audio/mpeg",
      body: Readable.from([readFileSync(convert(speechFile("awb"), ".mp3", ["-b:a", "64k"]))]),
    });
    expect(mp3.status, mp3.text).toBe(201);
    const octet = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${p.id}/recordings`,
      token: w.tok.operator,
      type: "application/octet-stream",
      body: bytes,
    });
    expect(octet.status, octet.text).toBe(201);
    // Not audio: refused with the decoder's code, nothing stored.
    const before = await blobCount(p.id);
    const junk = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${p.id}/recordings`,
      token: w.tok.operator,
      type: "audio/wav",
      body: Buffer.from("RIFF1234WAVEjunkjunkjunk"),
    });
    expect(junk.status).toBe(422);
    expect(await blobCount(p.id)).toBe(before);
  });

  it("answers a direct upload at once with Prefer: respond-async (202 and the upload to follow)", async () => {
    const p = await w.fresh();
    const r = await call(w.app, {
      method: "POST",
      url: `/v1/subjects/${p.id}/recordings?externalId=int-77&kind=interview`,
      token: w.tok.operator,
      type: "audio/wav",
      headers: { prefer: "respond-async" },
      body: speechBytes("slt"),
    });
    expect(r.status, r.text).toBe(202);
    expect(r.headers["preference-applied"]).toBe("respond-async");
    const { upload } = r.json() as { upload: Upload };
    expect(r.headers.location).toBe(`/v1/uploads/${upload.id}`);
    expect(upload.subjectId).toBe(p.id);
    // Acknowledged once stored encrypted and queued: nothing was decoded in the request.
    expect(["queued", "processing"]).toContain(upload.status);
    const done = await state(upload.id, w.tok.operator, 30);
    expect(done.status).toBe("complete");
    expect(done.metadata).toEqual({ externalId: "int-77", kind: "interview" });
    const listed = await call(w.app, {
      method: "GET",
      url: `/v1/subjects/${p.id}/recordings`,
      token: w.tok.operator,
    });
    expect((listed.json() as { recordings: { id: string }[] }).recordings.map((x) => x.id)).toEqual([
      done.recordingId,
    ]);
    // The staged ciphertext went with the recording's commit: only derivations remain.
    const rec = (
      await call(w.app, { method: "GET", url: `/v1/uploads/${upload.id}`, token: w.tok.operator })
    ).json() as { recording: RecordingReply };
    expect(await blobCount(p.id)).toBe(rec.recording.derivations.length);
  });

  it("takes chunks at the right offset, resumes after a failed chunk, and returns the recording on the last byte", async () => {
    const p = await w.fresh();
    const bytes = speechBytes("slt");
    const L = bytes.length;
    const cut = Math.floor(L / 3);
    const u = await start(p.id, L);
    expect(u).toMatchObject({
      subjectId: p.id,
      offset: 0,
      length: L,
      status: "open",
      recordingId: null,
      attempts: 0,
      error: null,
    });
    expect(Date.parse(u.expiresAt) - w.clock.now().getTime()).toBeGreaterThan(23 * 3_600_000);

    const first = await chunk(u.id, 0, bytes.subarray(0, cut));
    expect(first.status, first.text).toBe(200);
    expect(first.headers["upload-offset"]).toBe(String(cut));
    expect(first.json()).toEqual({ upload: { ...u, offset: cut } });
    expect((await state(u.id)).offset).toBe(cut);

    // Wrong offsets are conflicts, a missing one is malformed; none moves the offset.
    for (const off of [0, cut - 1, cut + 1, L]) {
      const r = await chunk(u.id, off, bytes.subarray(cut, cut + 100));
      expect([r.status, codeOf(r)], `offset ${off}`).toEqual([409, "CONFLICT"]);
    }
    const none = await chunk(u.id, undefined, bytes.subarray(cut, cut + 100));
    expect([none.status, codeOf(none)]).toEqual([400, "BAD_REQUEST"]);
    const empty = await chunk(u.id, cut, Buffer.alloc(0));
    expect(empty.status).toBe(400);

    // A chunk that fails part-way (here: runs past the declared length) stores nothing.
    const parts = await blobCount(p.id);
    const failed = await chunk(u.id, cut, Buffer.concat([bytes.subarray(cut), Buffer.alloc(10)]));
    expect([failed.status, codeOf(failed)]).toEqual([413, "PAYLOAD_TOO_LARGE"]);
    expect((await state(u.id)).offset).toBe(cut);
    expect(await blobCount(p.id)).toBe(parts);

    // Resume from the offset the server reports; the last byte queues the upload for a worker,
    // and Prefer: wait (RFC 7240) waits for its outcome.
    const middle = await chunk(u.id, cut, bytes.subarray(cut, 2 * cut));
    expect(middle.status).toBe(200);
    const last = await chunk(u.id, 2 * cut, Readable.from([bytes.subarray(2 * cut)]), w.tok.operator, {
      prefer: "wait=60",
    });
    expect(last.status, last.text).toBe(200);
    expect(last.headers["preference-applied"]).toBe("wait=60");
    const done = last.json() as { upload: Upload; recording: RecordingReply };
    expect(done.upload).toMatchObject({
      status: "complete",
      offset: L,
      recordingId: done.recording.id,
      attempts: 1,
      error: null,
    });
    const rec = checkRecording({ ...last, json: () => done.recording }, p.id);
    expect(await state(u.id)).toMatchObject({ status: "complete", recordingId: rec.id });
    const got = await call(w.app, { method: "GET", url: `/v1/uploads/${u.id}`, token: w.tok.operator });
    expect((got.json() as { recording: RecordingReply }).recording).toEqual(done.recording);
    // The encrypted parts are gone; only the derivations remain.
    expect(await blobCount(p.id)).toBe(rec.derivations.length);
    const again = await chunk(u.id, L, Buffer.alloc(1));
    expect(again.status).toBe(409);
  });

  it("aborts an upload and deletes its parts", async () => {
    const p = await w.fresh();
    const u = await start(p.id, 50_000, p.contractor);
    expect((await chunk(u.id, 0, Buffer.alloc(20_000, 7), p.contractor)).status).toBe(200);
    expect(await blobCount(p.id)).toBe(1);
    // Only the principal that started an upload sees it.
    expect(
      (await call(w.app, { method: "DELETE", url: `/v1/uploads/${u.id}`, token: w.tok.operator })).status,
    ).toBe(404);
    const aborted = await call(w.app, { method: "DELETE", url: `/v1/uploads/${u.id}`, token: p.contractor });
    expect(aborted.status, aborted.text).toBe(200);
    expect(aborted.json()).toMatchObject({ id: u.id, status: "aborted" });
    expect(await blobCount(p.id)).toBe(0);
    expect((await chunk(u.id, 20_000, Buffer.alloc(10), p.contractor)).status).toBe(409);
  });

  it("fails an upload whose assembled audio is refused with the decoder's code, keeping nothing", async () => {
    const p = await w.fresh();
    const silence = wavBytes(new Int16Array(16000 * 2));
    const u = await start(p.id, silence.length);
    const r = await chunk(u.id, 0, silence);
    // Acknowledged once stored and queued: nothing is decoded in the request.
    expect(r.status, r.text).toBe(202);
    expect((r.json() as { upload: Upload }).upload.status).toMatch(/^(queued|processing)$/);
    const s = await state(u.id, w.tok.operator, 30);
    expect(s).toMatchObject({ status: "failed", attempts: 1, recordingId: null });
    expect(s.error?.code).toBe("NO_SPEECH");
    expect(await blobCount(p.id)).toBe(0);
    // An ended upload can be neither appended to nor aborted.
    expect((await chunk(u.id, silence.length, Buffer.alloc(1))).status).toBe(409);
    expect(
      (await call(w.app, { method: "DELETE", url: `/v1/uploads/${u.id}`, token: w.tok.operator })).status,
    ).toBe(409);
  });

  it("carries the platform's metadata to the recording and lists a subject's uploads with their status", async () => {
    const p = await w.fresh();
    const bytes = speechBytes("rms");
    const meta = { externalId: "interview-4711", kind: "interview", recordedAt: "2026-11-30T09:15:00Z" };
    const u = await start(p.id, bytes.length, w.tok.operator, meta);
    expect(u.metadata).toEqual({ ...meta, recordedAt: "2026-11-30T09:15:00.000Z" });
    const open = await start(p.id, 10);
    const r = await chunk(u.id, 0, bytes);
    expect([202, 200]).toContain(r.status);
    const done = (
      await call(w.app, { method: "GET", url: `/v1/uploads/${u.id}?wait=60`, token: w.tok.operator })
    ).json() as { upload: Upload; recording: RecordingReply & { metadata: unknown } };
    expect(done.upload.status).toBe("complete");
    expect(done.recording.metadata).toEqual(u.metadata);
    const listed = await call(w.app, {
      method: "GET",
      url: `/v1/subjects/${p.id}/recordings`,
      token: w.tok.operator,
    });
    expect((listed.json() as { recordings: { metadata?: unknown }[] }).recordings[0]?.metadata).toEqual(
      u.metadata,
    );
    // The subject's uploads, newest first, with a status filter; the contractor sees them too.
    const all = await call(w.app, {
      method: "GET",
      url: `/v1/subjects/${p.id}/uploads`,
      token: p.contractor,
    });
    expect(all.status, all.text).toBe(200);
    expect((all.json() as { uploads: Upload[] }).uploads.map((x) => [x.id, x.status])).toEqual([
      [open.id, "open"],
      [u.id, "complete"],
    ]);
    const complete = await call(w.app, {
      method: "GET",
      url: `/v1/subjects/${p.id}/uploads?status=complete`,
      token: w.tok.operator,
    });
    expect((complete.json() as { uploads: Upload[] }).uploads.map((x) => x.id)).toEqual([u.id]);
    // Metadata is an allow-list: unknown fields and malformed values are refused.
    const refusals: [Record<string, string>, string][] = [
      [{ name: "Jane Doe" }, "BAD_REQUEST"], // not in the schema
      [{ kind: "Interview!" }, "INVALID_ARGUMENT"], // in the schema, refused by the service
      [{ recordedAt: "yesterday" }, "INVALID_ARGUMENT"],
      [{ externalId: "has spaces in it" }, "INVALID_ARGUMENT"],
    ];
    for (const [bad, code] of refusals) {
      const r2 = await call(w.app, {
        method: "POST",
        url: `/v1/subjects/${p.id}/uploads`,
        token: w.tok.operator,
        json: { length: 10, metadata: bad },
      });
      expect([r2.status, codeOf(r2)], JSON.stringify(bad)).toEqual([400, code]);
    }
  });
});
