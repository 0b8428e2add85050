/**
 * Passkeys over HTTP (docs/portal.md, Passkeys): a contractor registers one from a session, signs
 * in with it later (public routes, limited per client address like /v1/enrol), and an operator can
 * reset a lost one. The relying party is the configured public URL (serve --public-url).
 */
import { Type } from "typebox";
import { relyingParty } from "../../access/passkeys.js";
import { RATE, route, type AnyRoute } from "../route.js";
import { ownSubject, subjectResource } from "./resources.js";
import { NoQuery, SubjectIdParams } from "./schemas.js";

const B64U = (max: number) => Type.String({ pattern: "^[A-Za-z0-9_-]*$", minLength: 1, maxLength: max });
const Options = Type.Record(Type.String(), Type.Unknown(), { description: "WebAuthn options, JSON form" });
const Passkey = Type.Object(
  {
    credentialId: Type.String(),
    alg: Type.Integer(),
    backupEligible: Type.Boolean(),
    createdAt: Type.String(),
    lastUsedAt: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);
const Session = Type.Object(
  { sessionToken: Type.String(), subjectId: Type.String(), expiresAt: Type.String() },
  { additionalProperties: false },
);

export function passkeyRoutes(publicUrl: () => string | undefined): AnyRoute[] {
  const rp = () => relyingParty(publicUrl());
  return [
    route({
      method: "POST",
      url: "/v1/me/passkeys/options",
      summary: "Options to create a passkey for my subject (a single-use challenge, 5 minutes)",
      tags: ["self-service"],
      auth: "token",
      action: "passkey.register",
      rateLimit: RATE.write,
      query: NoQuery,
      response: { 200: Options },
      resource: (ctx) => ownSubject(ctx.vault, ctx.auth),
      handler: (ctx) => ctx.vault.access.passkeys.registrationOptions(ctx.resource.subject!.id, rp()),
    }),
    route({
      method: "POST",
      url: "/v1/me/passkeys",
      summary: "Register the passkey the browser created (revokes my unused enrolment links)",
      tags: ["self-service"],
      auth: "token",
      action: "passkey.register",
      rateLimit: RATE.write,
      query: NoQuery,
      body: Type.Object(
        { rawId: B64U(1400), clientDataJSON: B64U(4000), attestationObject: B64U(8000) },
        { additionalProperties: false },
      ),
      response: { 201: Passkey },
      resource: (ctx) => ownSubject(ctx.vault, ctx.auth),
      async handler(ctx) {
        const out = await ctx.vault.access.passkeys.register(ctx.resource.subject!.id, ctx.body, rp());
        void ctx.reply.code(201);
        return out;
      },
    }),
    route({
      method: "GET",
      url: "/v1/me/passkeys",
      summary: "My passkeys",
      tags: ["self-service"],
      auth: "token",
      action: "subject.read",
      rateLimit: RATE.read,
      query: NoQuery,
      response: { 200: Type.Object({ passkeys: Type.Array(Passkey) }, { additionalProperties: false }) },
      resource: (ctx) => ownSubject(ctx.vault, ctx.auth),
      async handler(ctx) {
        return { passkeys: await ctx.vault.access.passkeys.list(ctx.resource.subject!.id) };
      },
    }),
    route({
      method: "POST",
      url: "/v1/passkey/options",
      summary: "Options to sign in with a passkey (a single-use challenge, 5 minutes)",
      tags: ["self-service"],
      auth: "public",
      rateLimit: RATE.auth,
      response: { 200: Options },
      handler: (ctx) => ctx.vault.access.passkeys.authenticationOptions(rp()),
    }),
    route({
      method: "POST",
      url: "/v1/passkey/session",
      summary: "Sign in with a passkey: a verified assertion makes a contractor session",
      tags: ["self-service"],
      auth: "public",
      rateLimit: RATE.auth,
      body: Type.Object(
        {
          rawId: B64U(1400),
          clientDataJSON: B64U(4000),
          authenticatorData: B64U(4000),
          signature: B64U(600),
        },
        { additionalProperties: false },
      ),
      response: { 200: Session },
      handler: (ctx) => ctx.vault.access.passkeys.authenticate(ctx.body, rp()),
    }),
    route({
      method: "DELETE",
      url: "/v1/subjects/:id/passkeys",
      summary: "Reset a contractor's passkeys (a lost device); a new enrolment link can then be made",
      tags: ["subjects"],
      auth: "token",
      action: "passkey.reset",
      rateLimit: RATE.write,
      params: SubjectIdParams,
      query: NoQuery,
      response: { 200: Type.Object({ removed: Type.Integer() }, { additionalProperties: false }) },
      resource: (ctx) => subjectResource(ctx.vault, ctx.params.id),
      handler: (ctx) => ctx.vault.access.passkeys.reset(ctx.params.id),
    }),
  ];
}
