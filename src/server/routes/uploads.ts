/** Resumable uploads (tus-style: create with a length, PATCH chunks at an offset, GET the offset). */
import { Type } from "typebox";
import { VaultError } from "../../errors.js";
import { bodyStream, CHUNK_TYPE } from "../app.js";
import { RATE, route, type AnyRoute } from "../route.js";
import { subjectResource } from "./resources.js";
import { Id, NoQuery, Recording, SubjectIdParams } from "./schemas.js";

const Upload = Type.Object(
  {
    id: Type.String(),
    subjectId: Type.String(),
    offset: Type.Integer(),
    length: Type.Integer(),
    status: Type.String(),
    expiresAt: Type.String(),
    recordingId: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);
const UploadParams = Type.Object({ id: Id("upl") }, { additionalProperties: false });

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
      body: Type.Object({ length: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }),
      response: { 201: Upload },
      resource: (ctx) => subjectResource(ctx.vault, ctx.params.id),
      async handler(ctx) {
        const u = await ctx.vault.uploads.create(ctx.params.id, ctx.auth.principal.id, ctx.body.length);
        void ctx.reply.code(201);
        return u;
      },
    }),
    route({
      method: "GET",
      url: "/v1/uploads/:id",
      summary: "An upload's state and offset (resume from here)",
      tags: ["recordings"],
      auth: "token",
      action: "recording.upload",
      rateLimit: RATE.read,
      params: UploadParams,
      query: NoQuery,
      response: { 200: Upload },
      resource: async (ctx) =>
        subjectResource(ctx.vault, await ctx.vault.uploads.subjectOf(ctx.params.id, ctx.auth.principal.id)),
      handler: (ctx) => ctx.vault.uploads.status(ctx.params.id, ctx.auth.principal.id),
    }),
    route({
      method: "PATCH",
      url: "/v1/uploads/:id",
      summary: "Append a chunk at the Upload-Offset header; the last chunk ingests and returns the recording",
      tags: ["recordings"],
      auth: "token",
      action: "recording.upload",
      rateLimit: RATE.upload,
      params: UploadParams,
      query: NoQuery,
      consumes: [CHUNK_TYPE],
      response: {
        200: Type.Object(
          { upload: Upload, recording: Type.Optional(Recording) },
          { additionalProperties: false },
        ),
      },
      resource: async (ctx) =>
        subjectResource(ctx.vault, await ctx.vault.uploads.subjectOf(ctx.params.id, ctx.auth.principal.id)),
      async handler(ctx) {
        const header = ctx.request.headers["upload-offset"];
        const offset = typeof header === "string" && /^\d+$/.test(header) ? Number(header) : NaN;
        if (!Number.isSafeInteger(offset))
          throw new VaultError("BAD_REQUEST", "Upload-Offset header required");
        const r = await ctx.vault.uploads.append(
          ctx.params.id,
          ctx.auth.principal.id,
          offset,
          bodyStream(ctx.body),
        );
        void ctx.reply.header("upload-offset", String(r.state.offset));
        return r.recording ? { upload: r.state, recording: r.recording } : { upload: r.state };
      },
    }),
    route({
      method: "DELETE",
      url: "/v1/uploads/:id",
      summary: "Abort an upload (its encrypted parts are deleted)",
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
