import { Type } from "typebox";
import { RATE, route, type AnyRoute } from "../route.js";
import { vaultResource, subjectResource } from "./resources.js";
import { Consent, NoQuery, ShredResult, Subject, SubjectIdParams } from "./schemas.js";

export function subjectRoutes(publicUrl: () => string | undefined): AnyRoute[] {
  return [
    route({
      method: "POST",
      url: "/v1/subjects",
      summary: "Enrol a subject (contractor) under an external reference, stored only hashed and encrypted",
      tags: ["subjects"],
      auth: "token",
      action: "subject.create",
      rateLimit: RATE.write,
      body: Type.Object(
        {
          ref: Type.String({ minLength: 1, maxLength: 512 }),
          tenant: Type.Optional(Type.String({ pattern: "^[a-z0-9][a-z0-9-]{0,62}$" })),
          // staff: an interviewer (or an AI interviewer's voice) whose voice is excluded when
          // ingest picks the contractor out of an interview
          role: Type.Optional(Type.Union([Type.Literal("contractor"), Type.Literal("staff")])),
        },
        { additionalProperties: false },
      ),
      response: { 201: Subject },
      resource: vaultResource,
      async handler(ctx) {
        const s = await ctx.vault.subjects.add({
          ref: ctx.body.ref,
          tenant: ctx.body.tenant,
          role: ctx.body.role,
        });
        void ctx.reply.code(201);
        return s;
      },
    }),
    route({
      method: "GET",
      url: "/v1/subjects",
      summary: "List subjects (ids and counts, never references)",
      tags: ["subjects"],
      auth: "token",
      action: "subject.list",
      rateLimit: RATE.read,
      query: Type.Object(
        {
          after: Type.Optional(Type.String({ pattern: "^sub_[0-9a-hjkmnp-tv-z]{26}$" })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          status: Type.Optional(
            Type.Union([Type.Literal("active"), Type.Literal("shred_pending"), Type.Literal("shredded")]),
          ),
        },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Object(
          { subjects: Type.Array(Subject), next: Type.Union([Type.String(), Type.Null()]) },
          { additionalProperties: false },
        ),
      },
      resource: vaultResource,
      async handler(ctx) {
        const limit = ctx.query.limit ?? 100;
        const subjects = await ctx.vault.subjects.list({
          after: ctx.query.after,
          limit,
          status: ctx.query.status,
        });
        return { subjects, next: subjects.length === limit ? subjects[subjects.length - 1]!.id : null };
      },
    }),
    route({
      method: "GET",
      url: "/v1/subjects/:id",
      summary: "One subject",
      tags: ["subjects"],
      auth: "token",
      action: "subject.read",
      rateLimit: RATE.read,
      params: SubjectIdParams,
      query: NoQuery,
      response: { 200: Subject },
      resource: (ctx) => subjectResource(ctx.vault, ctx.params.id),
      handler: (ctx) => ctx.vault.subjects.get(ctx.params.id),
    }),
    route({
      method: "DELETE",
      url: "/v1/subjects/:id",
      summary: "Crypto-shred a subject; returns the signed deletion certificate (or the scheduled time)",
      tags: ["subjects"],
      auth: "token",
      action: "subject.shred",
      rateLimit: RATE.write,
      params: SubjectIdParams,
      query: NoQuery,
      response: { 200: ShredResult, 202: ShredResult },
      resource: (ctx) => subjectResource(ctx.vault, ctx.params.id),
      async handler(ctx) {
        const out = await ctx.vault.shredding.request(ctx.params.id);
        if (out.status === "scheduled") {
          void ctx.reply.code(202);
          return { status: "scheduled", shredAfter: out.shredAfter };
        }
        return { status: "shredded", certificate: out.certificate };
      },
    }),
    route({
      method: "POST",
      url: "/v1/subjects/:id/cancel-shred",
      summary: "Cancel a scheduled shred within the soft-delete window (409 SHRED_NOT_PENDING when none is)",
      tags: ["subjects"],
      auth: "token",
      action: "subject.shred",
      rateLimit: RATE.write,
      params: SubjectIdParams,
      query: NoQuery,
      response: { 200: Subject },
      resource: (ctx) => subjectResource(ctx.vault, ctx.params.id),
      handler: (ctx) => ctx.vault.shredding.cancel(ctx.params.id),
    }),
    route({
      method: "POST",
      url: "/v1/subjects/:id/enrolment-links",
      summary: "A one-time enrolment link for the contractor (yields a contractor session)",
      tags: ["subjects"],
      auth: "token",
      action: "enrolment.create",
      rateLimit: RATE.write,
      params: SubjectIdParams,
      query: NoQuery,
      response: {
        201: Type.Object(
          { token: Type.String(), url: Type.String(), expiresAt: Type.String() },
          { additionalProperties: false },
        ),
      },
      resource: (ctx) => subjectResource(ctx.vault, ctx.params.id),
      async handler(ctx) {
        const { token, info } = await ctx.vault.access.tokens.create({
          role: "contractor",
          subjectId: ctx.params.id,
          kind: "enrolment",
          maxUses: 1,
        });
        void ctx.reply.code(201);
        // The token travels in the URL fragment, which browsers never send to servers or proxies.
        // The origin is configured (serve --public-url): a Host header could send it elsewhere.
        return { token, url: `${publicUrl() ?? ""}/enrol#${token}`, expiresAt: info.expiresAt };
      },
    }),
    route({
      method: "GET",
      url: "/v1/subjects/:id/consents",
      summary: "Consent state of a subject for every purpose",
      tags: ["consent"],
      auth: "token",
      action: "consent.read",
      rateLimit: RATE.read,
      params: SubjectIdParams,
      query: NoQuery,
      response: { 200: Type.Object({ consents: Type.Array(Consent) }, { additionalProperties: false }) },
      resource: (ctx) => subjectResource(ctx.vault, ctx.params.id),
      async handler(ctx) {
        return { consents: await ctx.vault.access.consents.list(ctx.params.id) };
      },
    }),
  ];
}
