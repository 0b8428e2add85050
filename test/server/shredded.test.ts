/**
 * What each role still gets of a subject after a shred, and during the soft-delete window before
 * it (docs/api.md "Shredded and scheduled subjects"). After the shred: the subject is a tombstone
 * (status, time, certificate id), its consents, recordings, derivations and blobs answer
 * SUBJECT_SHREDDED from the services — so the API (410), the CLI and the library agree — and the
 * contractor's own tokens, sessions and enrolment links stop authenticating.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HAVE_AUDIO_TOOLS } from "../support/audio.js";
import { BACKENDS, codeOf as libCode } from "../support/backends.js";
import { spawnCli } from "../support/cli.js";
import {
  call,
  codeOf,
  CONSENT_TEXT_HASH,
  makeWorld,
  PURPOSES,
  speechBytes,
  type Party,
  type World,
} from "./helpers.js";

describe.runIf(HAVE_AUDIO_TOOLS).each(BACKENDS)("shredded and scheduled subjects ($name)", (backend) => {
  let w: World;
  beforeAll(async () => {
    w = await makeWorld(backend, { softDeleteWindow: "1h" });
  });
  afterAll(async () => {
    await w.close();
  });
  const get = (url: string, token: string) => call(w.app, { method: "GET", url, token });

  describe("after the shred", () => {
    let p: Party;
    let recordingIds: string[];
    let certificateId: string;
    let session: string;
    let enrolment: string;
    beforeAll(async () => {
      p = await w.fresh(true, "slt");
      recordingIds = (await w.vault.recordings.recordings(p.id)).map((r) => r.id);
      expect(recordingIds).toHaveLength(1);
      const tokens = w.vault.access.tokens;
      session = (await tokens.create({ role: "contractor", subjectId: p.id, kind: "session" })).token;
      enrolment = (
        await tokens.create({ role: "contractor", subjectId: p.id, kind: "enrolment", maxUses: 1 })
      ).token;
      const out = await w.vault.shredding.request(p.id, { immediate: true });
      if (out.status !== "shredded") throw new Error("expected an immediate shred");
      certificateId = out.certificate.certificateId;
    });

    it("gives operators a tombstone for the subject and 410 for its consents, recordings and derivations", async () => {
      const subject = await get(`/v1/subjects/${p.id}`, w.tok.operator);
      expect(subject.status, subject.text).toBe(200);
      expect(subject.json()).toEqual({
        id: p.id,
        status: "shredded",
        shreddedAt: expect.any(String) as string,
        certificateId,
      });
      for (const suffix of ["consents", "recordings", "derivations"]) {
        const r = await get(`/v1/subjects/${p.id}/${suffix}`, w.tok.operator);
        expect([suffix, r.status, codeOf(r)]).toEqual([suffix, 410, "SUBJECT_SHREDDED"]);
        for (const id of [...recordingIds, ...Object.values(p.drv)]) expect(r.text).not.toContain(id);
      }
      const listed = await get("/v1/subjects?status=shredded&limit=1000", w.tok.operator);
      const row = (listed.json() as { subjects: { id: string }[] }).subjects.find((s) => s.id === p.id);
      expect(row).toEqual(subject.json());
    });

    it("refuses the contractor's own token, session and enrolment link", async () => {
      for (const token of [p.contractor, session]) {
        for (const url of ["/v1/me", "/v1/me/recordings", "/v1/me/derivations", "/v1/me/consents"]) {
          const r = await get(url, token);
          expect([url, r.status, codeOf(r)]).toEqual([url, 401, "UNAUTHENTICATED"]);
        }
      }
      const enrol = await call(w.app, { method: "POST", url: "/v1/enrol", json: { token: enrolment } });
      expect([enrol.status, codeOf(enrol)]).toEqual([401, "UNAUTHENTICATED"]);
    });

    it("gives the library and the CLI the same SUBJECT_SHREDDED", async () => {
      const v = w.vault;
      expect(await libCode(v.recordings.recordings(p.id))).toBe("SUBJECT_SHREDDED");
      expect(await libCode(v.recordings.derivations({ subjectId: p.id }))).toBe("SUBJECT_SHREDDED");
      // the recording rows themselves were erased with the shred: by recording id, nothing is left
      expect(await v.recordings.derivations({ recordingId: recordingIds[0]! })).toEqual([]);
      expect(await libCode(v.access.consents.list(p.id))).toBe("SUBJECT_SHREDDED");
      expect(await libCode(v.blobs.list(p.id))).toBe("SUBJECT_SHREDDED");
      expect(await v.subjects.get(p.id)).toEqual({
        id: p.id,
        status: "shredded",
        shreddedAt: expect.any(String) as string,
        certificateId,
      });
      const env = {
        ...w.sb.env,
        VOXVAULT_DATA_DIR: w.sb.dataDir,
        ...(backend.pgUrl ? { VOXVAULT_PG_URL: backend.pgUrl } : {}),
      };
      for (const args of [
        ["recording", "list", "--subject", p.id],
        ["derivation", "list", "--subject", p.id],
      ]) {
        const r = await spawnCli(args, env);
        expect([args.join(" "), r.code, r.stdout]).toEqual([args.join(" "), 1, ""]);
        expect(r.stderr).toMatch(/^error\[SUBJECT_SHREDDED\]: [^\n]+\n$/);
      }
      // the recording's row was erased with the shred: nothing is listed under its id
      const byRecording = await spawnCli(["derivation", "list", "--recording", recordingIds[0]!], env);
      expect([byRecording.code, byRecording.stdout]).toEqual([0, "no derivations\n"]);
    });
  });

  describe("during the soft-delete window", () => {
    let p: Party;
    beforeAll(async () => {
      p = await w.fresh(true, "slt");
      const scheduled = await call(w.app, {
        method: "DELETE",
        url: `/v1/subjects/${p.id}`,
        token: w.tok.operator,
      });
      expect(scheduled.status, scheduled.text).toBe(202);
    });

    it("lets operators and the contractor see what will be erased, but nothing flows", async () => {
      // Metadata stays visible (the shred can still be cancelled): operator and contractor.
      const subject = await get(`/v1/subjects/${p.id}`, w.tok.operator);
      expect(subject.json()).toMatchObject({
        status: "shred_pending",
        shredAfter: expect.any(String) as string,
      });
      for (const suffix of ["consents", "recordings", "derivations"])
        expect((await get(`/v1/subjects/${p.id}/${suffix}`, w.tok.operator)).status).toBe(200);
      expect((await get("/v1/me", p.contractor)).json()).toMatchObject({ status: "shred_pending" });
      for (const url of ["/v1/me/recordings", "/v1/me/derivations"])
        expect((await get(url, p.contractor)).status).toBe(200);
      const consents = (await get("/v1/me/consents", p.contractor)).json() as {
        consents: { active: boolean; textHash: string | null }[];
      };
      // None active (nothing flows), but what was agreed to is still shown.
      expect(consents.consents.map((c) => [c.active, c.textHash])).toEqual(
        PURPOSES.map(() => [false, CONSENT_TEXT_HASH]),
      );
      // Contents, uploads and verification: 410 for everyone otherwise allowed (operators never
      // read non-reconstructable contents; break-glass requests are refused for inactive subjects).
      const quality = p.drv.quality!;
      for (const [who, token, url] of [
        ["contractor", p.contractor, `/v1/derivations/${quality}`],
        ["consumer", w.tok.consumer, `/v1/derivations/${quality}?purpose=quality-review`],
      ] as const) {
        const r = await get(url, token);
        expect([who, r.status, codeOf(r)]).toEqual([who, 410, "SUBJECT_SHREDDED"]);
      }
      const upload = await call(w.app, {
        method: "POST",
        url: `/v1/subjects/${p.id}/recordings`,
        token: w.tok.operator,
        body: speechBytes("slt"),
        type: "audio/wav",
      });
      expect([upload.status, codeOf(upload)]).toEqual([410, "SUBJECT_SHREDDED"]);
      const verify = await call(w.app, {
        method: "POST",
        url: `/v1/subjects/${p.id}/verify-speaker?purpose=identity-verification`,
        token: w.tok.consumer,
        body: speechBytes("slt"),
        type: "audio/wav",
      });
      expect([verify.status, codeOf(verify)]).toEqual([410, "SUBJECT_SHREDDED"]);
      // Auditors and admins see the subject's events and tokens as before; they never read subjects.
      expect((await get(`/v1/subjects/${p.id}`, w.tok.auditor)).status).toBe(403);
    });
  });
});
