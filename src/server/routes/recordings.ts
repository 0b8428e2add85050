import { Type } from "typebox";
import { VaultError } from "../../errors.js";
import { bodyStream } from "../app.js";
import { RATE, route, type AnyRoute } from "../route.js";
import { subjectResource } from "./resources.js";
import { MAX_WAIT_S, preferWait, uploadFailure, UploadWithRecording } from "./uploads.js";
import {
  NoQuery,
  PurposeQuery,
  Recording,
  RecordingMetadata,
  RecordingSummary,
  SubjectIdParams,
  VerifyResult,
} from "./schemas.js";

export function recordingRoutes(): AnyRoute[] {
  return [
    route({
      method: "POST",
      url: "/v1/subjects/:id/recordings",
      summary:
        "Upload a recording: stored encrypted and queued for an ingest worker; waits for the recording (201) up to 60 s or Prefer: wait=N, else 202 with the upload to follow (Prefer: respond-async answers at once)",
      tags: ["recordings"],
      auth: "token",
      action: "recording.upload",
      rateLimit: RATE.upload,
      params: SubjectIdParams,
      // The body is the audio, so what the platform says about it comes in the query.
      query: RecordingMetadata,
      consumes: ["audio/*"],
      response: { 201: Recording, 202: UploadWithRecording },
      resource: (ctx) => subjectResource(ctx.vault, ctx.params.id),
      async handler(ctx) {
        const principal = ctx.auth.principal.id;
        const queued = await ctx.vault.uploads.submit(
          ctx.params.id,
          principal,
          bodyStream(ctx.body),
          ctx.query,
        );
        const asked = preferWait(ctx.request.headers.prefer, -1);
        const wait = asked >= 0 ? asked : MAX_WAIT_S;
        if (asked >= 0)
          void ctx.reply.header("preference-applied", wait > 0 ? `wait=${wait}` : "respond-async");
        const done = await ctx.vault.uploads.waitFor(queued.id, principal, wait * 1000);
        if (done.state.status === "failed") throw uploadFailure(done.state.error);
        if (done.recording) {
          void ctx.reply.code(201);
          return done.recording;
        }
        void ctx.reply.code(202).header("location", `/v1/uploads/${queued.id}`);
        return { upload: done.state };
      },
    }),
    route({
      method: "GET",
      url: "/v1/subjects/:id/recordings",
      summary: "Recordings ingested for a subject",
      tags: ["recordings"],
      auth: "token",
      action: "recording.list",
      rateLimit: RATE.read,
      params: SubjectIdParams,
      query: NoQuery,
      response: {
        200: Type.Object({ recordings: Type.Array(RecordingSummary) }, { additionalProperties: false }),
      },
      resource: (ctx) => subjectResource(ctx.vault, ctx.params.id),
      async handler(ctx) {
        return { recordings: await ctx.vault.recordings.recordings(ctx.params.id) };
      },
    }),
    route({
      method: "POST",
      url: "/v1/subjects/:id/verify-speaker",
      summary: "Compare a new recording with the subject's enrolled templates (protected domain)",
      tags: ["recordings"],
      auth: "token",
      action: "speaker.verify",
      purposeRequiredFor: ["consumer"],
      rateLimit: RATE.upload,
      params: SubjectIdParams,
      query: PurposeQuery,
      consumes: ["audio/*"],
      response: { 200: VerifyResult },
      resource: (ctx) => subjectResource(ctx.vault, ctx.params.id),
      async handler(ctx) {
        const r = await ctx.vault.recordings.verifySpeaker({
          subjectId: ctx.params.id,
          source: bodyStream(ctx.body),
        });
        // Consumers get the decisions, not the scores: raw scores help hill-climbing attacks.
        const consumer = ctx.auth.principal.role === "consumer";
        const voices = r.speakers
          ? {
              proxySuspected: r.proxySuspected ?? false,
              proxyTurns: r.proxyTurns ?? [],
              speakers: r.speakers.map((v) => ({
                speakingSec: v.speakingSec,
                match: v.match,
                staff: v.staff,
                ...(consumer ? {} : { score: v.score }),
              })),
              segments: r.segments ?? [],
            }
          : {};
        return consumer
          ? { match: r.match, threshold: r.threshold, ...voices }
          : { match: r.match, threshold: r.threshold, score: r.score, ...voices };
      },
    }),
  ];
}

export function requireNoQuery(q: unknown): void {
  if (q && typeof q === "object" && Object.keys(q).length > 0)
    throw new VaultError("BAD_REQUEST", "unexpected query parameters");
}
