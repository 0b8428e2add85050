/** The transparency log over HTTP (docs/tlog.md): checkpoint, leaves, proofs, event search, my log. */
import { Type } from "typebox";
import { RATE, route, type AnyRoute } from "../route.js";
import { auditResource, ownSubject } from "./resources.js";
import { NoQuery } from "./schemas.js";

const Hashes = Type.Array(Type.String({ description: "base64 SHA-256" }));
const Index = Type.Integer({ minimum: 0 });

const Event = Type.Object(
  {
    seq: Type.Integer(),
    id: Type.String(),
    at: Type.String(),
    actor: Type.Record(Type.String(), Type.Unknown()),
    event: Type.Record(Type.String(), Type.Unknown()),
    leafIndex: Type.Union([Type.Integer(), Type.Null()]),
  },
  { additionalProperties: false },
);

export function auditRoutes(): AnyRoute[] {
  return [
    route({
      method: "GET",
      url: "/checkpoint",
      summary:
        "The latest signed checkpoint (C2SP tlog-checkpoint in a signed note, with witness cosignatures)",
      tags: ["audit"],
      auth: "public",
      rateLimit: RATE.public,
      query: NoQuery,
      response: {
        200: { raw: true, description: "signed note", content: { "text/plain; charset=utf-8": "text" } },
      },
      async handler(ctx) {
        const note = await ctx.vault.log.checkpoint();
        return ctx.reply.type("text/plain; charset=utf-8").send(note);
      },
    }),
    route({
      method: "GET",
      url: "/v1/audit/leaves/:index",
      summary: "The exact bytes hashed as a leaf (RFC 9162 leaf input), base64",
      tags: ["audit"],
      auth: "token",
      action: "audit.proof",
      rateLimit: RATE.read,
      params: Type.Object({ index: Index }, { additionalProperties: false }),
      query: NoQuery,
      response: {
        200: Type.Object({ index: Type.Integer(), data: Type.String() }, { additionalProperties: false }),
      },
      resource: auditResource,
      async handler(ctx) {
        const data = await ctx.vault.log.leaf(ctx.params.index);
        return { index: ctx.params.index, data: Buffer.from(data).toString("base64") };
      },
    }),
    route({
      method: "GET",
      url: "/v1/audit/proof/inclusion",
      summary: "RFC 9162 inclusion proof of a leaf in a tree size (default: the latest checkpoint)",
      tags: ["audit"],
      auth: "token",
      action: "audit.proof",
      rateLimit: RATE.read,
      query: Type.Object(
        { index: Index, size: Type.Optional(Type.Integer({ minimum: 1 })) },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Object(
          { index: Type.Integer(), treeSize: Type.Integer(), inclusion: Hashes },
          { additionalProperties: false },
        ),
      },
      resource: auditResource,
      handler: (ctx) => ctx.vault.log.inclusionProof(ctx.query.index, ctx.query.size),
    }),
    route({
      method: "GET",
      url: "/v1/audit/proof/consistency",
      summary: "RFC 9162 consistency proof between two tree sizes (to: default the latest checkpoint)",
      tags: ["audit"],
      auth: "token",
      action: "audit.proof",
      rateLimit: RATE.read,
      query: Type.Object(
        { from: Type.Integer({ minimum: 1 }), to: Type.Optional(Type.Integer({ minimum: 1 })) },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Object(
          { from: Type.Integer(), to: Type.Integer(), consistency: Hashes },
          { additionalProperties: false },
        ),
      },
      resource: auditResource,
      handler: (ctx) => ctx.vault.log.consistencyProof(ctx.query.from, ctx.query.to),
    }),
    route({
      method: "GET",
      url: "/v1/audit/events",
      summary: "Auditor event search by time, principal, action and subject",
      tags: ["audit"],
      auth: "token",
      action: "audit.read",
      rateLimit: RATE.read,
      query: Type.Object(
        {
          from: Type.Optional(Type.String({ format: "date-time" })),
          to: Type.Optional(Type.String({ format: "date-time" })),
          actor: Type.Optional(Type.String({ maxLength: 100 })),
          type: Type.Optional(Type.String({ pattern: "^[a-z_.]{3,64}$" })),
          subject: Type.Optional(Type.String({ pattern: "^sub_[0-9a-hjkmnp-tv-z]{26}$" })),
          after: Type.Optional(Type.Integer({ minimum: 0 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
        },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Object(
          { events: Type.Array(Event), next: Type.Union([Type.Integer(), Type.Null()]) },
          { additionalProperties: false },
        ),
      },
      resource: auditResource,
      async handler(ctx) {
        const q = ctx.query;
        const limit = q.limit ?? 100;
        const events = await ctx.vault.log.events({
          from: q.from,
          to: q.to,
          actorId: q.actor,
          type: q.type,
          subjectId: q.subject,
          afterSeq: q.after,
          limit,
        });
        return { events, next: events.length === limit ? events[events.length - 1]!.seq : null };
      },
    }),
    route({
      method: "POST",
      url: "/v1/me/audit",
      summary:
        "Every event about me, each with an inclusion proof, and a consistency proof from the checkpoint I saw last",
      tags: ["self-service", "audit"],
      auth: "token",
      action: "audit.subject",
      rateLimit: RATE.read,
      query: NoQuery,
      body: Type.Object(
        { since: Type.Optional(Type.String({ maxLength: 20_000 })) },
        { additionalProperties: false },
      ),
      response: { 200: Type.Record(Type.String(), Type.Unknown()) },
      resource: (ctx) => ownSubject(ctx.vault, ctx.auth),
      async handler(ctx) {
        return ctx.vault.log.subject(
          ctx.resource.subject!.id,
          ctx.body.since === undefined ? {} : { since: ctx.body.since },
        );
      },
    }),
  ];
}
