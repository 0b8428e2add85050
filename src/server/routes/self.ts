/** Contractor self-service: my subject, my recordings and derivations, my consents, erase me. */
import { Type } from "typebox";
import { RATE, route, type AnyRoute } from "../route.js";
import { ownSubject, subjectResource } from "./resources.js";
import {
  Consent,
  ConsentBody,
  Derivation,
  NoQuery,
  RecordingSummary,
  ShredResult,
  Subject,
  SubjectIdParams,
} from "./schemas.js";

const PurposeParams = Type.Object(
  { purpose: Type.String({ pattern: "^[a-z][a-z0-9-]{0,62}$" }) },
  { additionalProperties: false },
);
const SubjectPurposeParams = Type.Object(
  { id: SubjectIdParams.properties.id, purpose: PurposeParams.properties.purpose },
  { additionalProperties: false },
);

export function selfRoutes(): AnyRoute[] {
  const me = (suffix: string) => `/v1/me${suffix}`;
  return [
    route({
      method: "GET",
      url: me(""),
      summary: "My subject",
      tags: ["self-service"],
      auth: "token",
      action: "subject.read",
      rateLimit: RATE.read,
      query: NoQuery,
      response: { 200: Subject },
      resource: (ctx) => ownSubject(ctx.vault, ctx.auth),
      handler: (ctx) => ctx.vault.subjects.get(ctx.resource.subject!.id),
    }),
    route({
      method: "GET",
      url: me("/recordings"),
      summary: "My recordings",
      tags: ["self-service"],
      auth: "token",
      action: "recording.list",
      rateLimit: RATE.read,
      query: NoQuery,
      response: {
        200: Type.Object({ recordings: Type.Array(RecordingSummary) }, { additionalProperties: false }),
      },
      resource: (ctx) => ownSubject(ctx.vault, ctx.auth),
      async handler(ctx) {
        return { recordings: await ctx.vault.recordings.recordings(ctx.resource.subject!.id) };
      },
    }),
    route({
      method: "GET",
      url: me("/derivations"),
      summary: "What is kept of my voice",
      tags: ["self-service"],
      auth: "token",
      action: "derivation.list",
      rateLimit: RATE.read,
      query: NoQuery,
      response: {
        200: Type.Object({ derivations: Type.Array(Derivation) }, { additionalProperties: false }),
      },
      resource: (ctx) => ownSubject(ctx.vault, ctx.auth),
      async handler(ctx) {
        return {
          derivations: await ctx.vault.recordings.derivations({ subjectId: ctx.resource.subject!.id }),
        };
      },
    }),
    route({
      method: "GET",
      url: me("/consents"),
      summary: "My consents, per purpose",
      tags: ["self-service"],
      auth: "token",
      action: "consent.read",
      rateLimit: RATE.read,
      query: NoQuery,
      response: { 200: Type.Object({ consents: Type.Array(Consent) }, { additionalProperties: false }) },
      resource: (ctx) => ownSubject(ctx.vault, ctx.auth),
      async handler(ctx) {
        return { consents: await ctx.vault.access.consents.list(ctx.resource.subject!.id) };
      },
    }),
    route({
      method: "PUT",
      url: me("/consents/:purpose"),
      summary: "Grant consent for a purpose (the hash of the exact consent text shown)",
      tags: ["self-service"],
      auth: "token",
      action: "consent.write",
      rateLimit: RATE.write,
      params: PurposeParams,
      query: NoQuery,
      body: ConsentBody,
      response: { 200: Consent },
      resource: (ctx) => ownSubject(ctx.vault, ctx.auth),
      handler: (ctx) =>
        ctx.vault.access.consents.grant(ctx.resource.subject!.id, ctx.params.purpose, ctx.body.textHash),
    }),
    route({
      method: "DELETE",
      url: me("/consents/:purpose"),
      summary: "Revoke consent for a purpose (effective on the next request)",
      tags: ["self-service"],
      auth: "token",
      action: "consent.write",
      rateLimit: RATE.write,
      params: PurposeParams,
      query: NoQuery,
      response: { 200: Consent },
      resource: (ctx) => ownSubject(ctx.vault, ctx.auth),
      handler: (ctx) => ctx.vault.access.consents.revoke(ctx.resource.subject!.id, ctx.params.purpose),
    }),
    route({
      method: "DELETE",
      url: me(""),
      summary:
        "Erase all my data (crypto-shred): the certificate, or the scheduled time; and a receipt that fetches the certificate later",
      tags: ["self-service"],
      auth: "token",
      action: "subject.shred",
      rateLimit: RATE.write,
      query: NoQuery,
      response: { 200: ShredResult, 202: ShredResult },
      resource: (ctx) => ownSubject(ctx.vault, ctx.auth),
      async handler(ctx) {
        const out = await ctx.vault.shredding.request(ctx.resource.subject!.id, { receipt: true });
        if (out.status === "scheduled") {
          void ctx.reply.code(202);
          return { status: "scheduled", shredAfter: out.shredAfter, receipt: out.receipt! };
        }
        return { status: "shredded", certificate: out.certificate, receipt: out.receipt! };
      },
    }),
    route({
      method: "POST",
      url: me("/cancel-erasure"),
      summary: "Cancel my scheduled erasure (409 SHRED_NOT_PENDING when none is scheduled)",
      tags: ["self-service"],
      auth: "token",
      action: "subject.shred",
      rateLimit: RATE.write,
      query: NoQuery,
      response: { 200: Subject },
      resource: (ctx) => ownSubject(ctx.vault, ctx.auth),
      handler: (ctx) => ctx.vault.shredding.cancel(ctx.resource.subject!.id),
    }),
    // Operators and contractors on a subject's consent by id (contractors: their own only).
    route({
      method: "PUT",
      url: "/v1/subjects/:id/consents/:purpose",
      summary: "Grant consent for a purpose on behalf of the subject's own session",
      tags: ["consent"],
      auth: "token",
      action: "consent.write",
      rateLimit: RATE.write,
      params: SubjectPurposeParams,
      query: NoQuery,
      body: ConsentBody,
      response: { 200: Consent },
      resource: (ctx) => subjectResource(ctx.vault, ctx.params.id),
      handler: (ctx) => ctx.vault.access.consents.grant(ctx.params.id, ctx.params.purpose, ctx.body.textHash),
    }),
    route({
      method: "DELETE",
      url: "/v1/subjects/:id/consents/:purpose",
      summary: "Revoke consent for a purpose",
      tags: ["consent"],
      auth: "token",
      action: "consent.write",
      rateLimit: RATE.write,
      params: SubjectPurposeParams,
      query: NoQuery,
      response: { 200: Consent },
      resource: (ctx) => subjectResource(ctx.vault, ctx.params.id),
      handler: (ctx) => ctx.vault.access.consents.revoke(ctx.params.id, ctx.params.purpose),
    }),
  ];
}
