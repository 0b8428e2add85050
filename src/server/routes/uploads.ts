/**
 * Resumable uploads (tus-style: create with a length, PATCH chunks at an offset, GET the offset).
 * The last chunk queues the upload for an ingest worker and answers 202; `GET ?wait=` or the
 * `Prefer: wait=N` header (RFC 7240 §4.3) waits for the outcome.
 */
import { Type } from "typebox";
import { ERROR_CODES, VaultError, type ErrorCode } from "../../errors.js";
import { MAX_WAIT_MS } from "../../ingest/uploads.js";
import { bodyStream, CHUNK_TYPE } from "../app.js";
import { RATE, route, type AnyRoute } from "../route.js";
import { subjectResource } from "./resources.js";
import { Id, NoQuery, Recording, RecordingMetadata, SubjectIdParams } from "./schemas.js";

const UploadStatus = Type.Union([
  Type.Literal("open"),
  Type.Literal("queued"),
  Type.Literal("processing"),
  Type.Literal("complete"),
  Type.Literal("failed"),
  Type.Literal("aborted"),
]);

export const Upload = Type.Object(
  {
    id: Type.String(),
    subjectId: Type.String(),
    offset: Type.Integer(),
    length: Type.Integer(),
    status: UploadStatus,
    expiresAt: Type.String(),
    recordingId: Type.Union([Type.String(), Type.Null()]),
    attempts: Type.Integer(),
    error: Type.Union([
      Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: false }),
      Type.Null(),
    ]),
    metadata: Type.Optional(RecordingMetadata),
  },
  { additionalProperties: false },
);
export const UploadWithRecording = Type.Object(
  { upload: Upload, recording: Type.Optional(Recording) },
  { additionalProperties: false },
);
const UploadParams = Type.Object({ id: Id("upl") }, { additionalProperties: false });
export const MAX_WAIT_S = MAX_WAIT_MS / 1000;

/**
 * `Prefer: wait=N` (RFC 7240 §4.3): seconds the client is willing to wait, capped; `fallback`
 * when absent; 0 with `Prefer: respond-async` (§4.1).
 */
export function preferWait(header: string | string[] | undefined, fallback = 0): number {
  const values = Array.isArray(header) ? header : header ? [header] : [];
  let wait: number | undefined;
  for (const v of values)
    for (const pref of v.split(",")) {
      const token = (pref.split(";")[0] ?? "").trim();
      if (/^respond-async$/i.test(token)) return 0;
      const m = /^wait\s*=\s*"?(\d{1,6})"?$/i.exec(token);
      if (m) wait ??= Math.min(Number(m[1]), MAX_WAIT_S);
    }
  return wait ?? fallback;
}

/** The error a failed upload ended with, as the vault error it was (INTERNAL if unknown). */
export function uploadFailure(error: { readonly code: string; readonly message: string } | null): VaultError {
  const code = error && error.code in ERROR_CODES ? (error.code as ErrorCode) : "INTERNAL";
  return new VaultError(code, error?.message ?? "ingest failed");
}

export function uploadRoutes(): AnyRoute[] {
  return [
    route({
      method: "POST",
      url: "/v1/subjects/:id/uploads",
      summary: "Start a resumable upload of a recording of a known length",
      tags: ["recordings"],
      auth: "token",
      action: "recording.upload",
      rateLimit: RATE.upload,
      params: SubjectIdParams,
      query: NoQuery,
      body: Type.Object(
        { length: Type.Integer({ minimum: 1 }), metadata: Type.Optional(RecordingMetadata) },
        { additionalProperties: false },
      ),
      response: { 201: Upload },
      resource: (ctx) => subjectResource(ctx.vault, ctx.params.id),
      async handler(ctx) {
        const u = await ctx.vault.uploads.create(
          ctx.params.id,
          ctx.auth.principal.id,
          ctx.body.length,
          ctx.body.metadata,
        );
        void ctx.reply.code(201);
        return u;
      },
    }),
    route({
      method: "GET",
      url: "/v1/subjects/:id/uploads",
      summary: "A subject's uploads with their ingest status (newest first)",
      tags: ["recordings"],
      auth: "token",
      action: "recording.list",
      rateLimit: RATE.read,
      params: SubjectIdParams,
      query: Type.Object({ status: Type.Optional(UploadStatus) }, { additionalProperties: false }),
      response: { 200: Type.Object({ uploads: Type.Array(Upload) }, { additionalProperties: false }) },
      resource: (ctx) => subjectResource(ctx.vault, ctx.params.id),
      async handler(ctx) {
        const filter = ctx.query.status !== undefined ? { status: ctx.query.status } : {};
        return { uploads: await ctx.vault.uploads.list(ctx.params.id, filter) };
      },
    }),
    route({
      method: "GET",
      url: "/v1/uploads/:id",
      summary:
        "An upload's offset (resume from here) and ingest status; with ?wait=N, waits up to N seconds for the outcome",
      tags: ["recordings"],
      auth: "token",
      action: "recording.upload",
      rateLimit: RATE.read,
      params: UploadParams,
      query: Type.Object(
        { wait: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_WAIT_S })) },
        { additionalProperties: false },
      ),
      response: { 200: UploadWithRecording },
      resource: async (ctx) =>
        subjectResource(ctx.vault, await ctx.vault.uploads.subjectOf(ctx.params.id, ctx.auth.principal.id)),
      async handler(ctx) {
        const r = await ctx.vault.uploads.waitFor(
          ctx.params.id,
          ctx.auth.principal.id,
          (ctx.query.wait ?? 0) * 1000,
        );
        return r.recording ? { upload: r.state, recording: r.recording } : { upload: r.state };
      },
    }),
    route({
      method: "PATCH",
      url: "/v1/uploads/:id",
      summary:
        "Append a chunk at the Upload-Offset header; the last chunk queues the upload (202), or with Prefer: wait=N waits for the recording",
      tags: ["recordings"],
      auth: "token",
      action: "recording.upload",
      rateLimit: RATE.upload,
      params: UploadParams,
      query: NoQuery,
      consumes: [CHUNK_TYPE],
      response: { 200: UploadWithRecording, 202: UploadWithRecording },
      resource: async (ctx) =>
        subjectResource(ctx.vault, await ctx.vault.uploads.subjectOf(ctx.params.id, ctx.auth.principal.id)),
      async handler(ctx) {
        const header = ctx.request.headers["upload-offset"];
        const offset = typeof header === "string" && /^\d+$/.test(header) ? Number(header) : NaN;
        if (!Number.isSafeInteger(offset))
          throw new VaultError("BAD_REQUEST", "Upload-Offset header required");
        const principal = ctx.auth.principal.id;
        const r = await ctx.vault.uploads.append(ctx.params.id, principal, offset, bodyStream(ctx.body));
        void ctx.reply.header("upload-offset", String(r.state.offset));
        if (r.state.status === "open") return { upload: r.state };
        const wait = preferWait(ctx.request.headers.prefer);
        if (wait > 0) void ctx.reply.header("preference-applied", `wait=${wait}`);
        const done = wait > 0 ? await ctx.vault.uploads.waitFor(ctx.params.id, principal, wait * 1000) : r;
        const ended = done.state.status === "complete" || done.state.status === "failed";
        void ctx.reply.code(ended ? 200 : 202);
        return "recording" in done && done.recording
          ? { upload: done.state, recording: done.recording }
          : { upload: done.state };
      },
    }),
    route({
      method: "DELETE",
      url: "/v1/uploads/:id",
      summary: "Abort an upload that has not ended (its encrypted parts are deleted)",
      tags: ["recordings"],
      auth: "token",
      action: "recording.upload",
      rateLimit: RATE.write,
      params: UploadParams,
      query: NoQuery,
      response: { 200: Upload },
      resource: async (ctx) =>
        subjectResource(ctx.vault, await ctx.vault.uploads.subjectOf(ctx.params.id, ctx.auth.principal.id)),
      handler: (ctx) => ctx.vault.uploads.abort(ctx.params.id, ctx.auth.principal.id),
    }),
  ];
}
