import { Type } from "typebox";
import { toBase64 } from "../../crypto/bytes.js";
import { certificateKeyId } from "../../vault/certificates.js";
import { RATE, route, type AnyRoute } from "../route.js";
import { Certificate } from "./schemas.js";

const OK = Type.Object({ status: Type.Literal("ok") }, { additionalProperties: false });

export function publicRoutes(openapi: () => unknown): AnyRoute[] {
  return [
    // Liveness answers without touching anything (restarting the process would not help while
    // the database is away); readiness asks the database (503 METADATA_UNAVAILABLE when it can't).
    ...["/healthz", "/healthz/live"].map((url) =>
      route({
        method: "GET",
        url,
        summary: url === "/healthz" ? "Liveness (same as /healthz/live)" : "Liveness: the process answers",
        tags: ["public"],
        auth: "public",
        rateLimit: RATE.public,
        response: { 200: OK },
        handler: () => Promise.resolve({ status: "ok" as const }),
      }),
    ),
    route({
      method: "GET",
      url: "/healthz/ready",
      summary: "Readiness: the metadata database answers (503 METADATA_UNAVAILABLE when it does not)",
      tags: ["public"],
      auth: "public",
      rateLimit: RATE.public,
      response: { 200: OK },
      async handler(ctx) {
        await ctx.vault.health.ready();
        return { status: "ok" as const };
      },
    }),
    route({
      method: "GET",
      url: "/openapi.json",
      summary: "This API's OpenAPI 3.1 description, generated from the route declarations",
      tags: ["public"],
      auth: "public",
      rateLimit: RATE.public,
      response: {
        200: { raw: true, description: "OpenAPI 3.1 document", content: { "application/json": "json" } },
      },
      async handler(ctx) {
        return ctx.reply.type("application/json").send(JSON.stringify(openapi()));
      },
    }),
    route({
      method: "POST",
      url: "/v1/enrol",
      summary:
        "Exchange a one-time enrolment token for a contractor session (passkey registration attaches here later)",
      tags: ["self-service"],
      auth: "public",
      rateLimit: RATE.auth,
      body: Type.Object(
        { token: Type.String({ minLength: 10, maxLength: 200 }) },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Object(
          { sessionToken: Type.String(), subjectId: Type.String(), expiresAt: Type.String() },
          { additionalProperties: false },
        ),
      },
      async handler(ctx) {
        return ctx.vault.access.tokens.completeEnrolment(ctx.body.token);
      },
    }),
    route({
      method: "POST",
      url: "/v1/deletion-certificate",
      summary:
        "A deletion receipt's erasure: scheduled (until when), cancelled, or shredded with the signed certificate",
      tags: ["self-service"],
      auth: "public",
      // Limited per client address like /v1/enrol; an unknown receipt is UNAUTHENTICATED.
      rateLimit: RATE.auth,
      body: Type.Object(
        { receipt: Type.String({ minLength: 10, maxLength: 200 }) },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Object(
          {
            status: Type.Union([
              Type.Literal("scheduled"),
              Type.Literal("cancelled"),
              Type.Literal("shredded"),
            ]),
            shredAfter: Type.Optional(Type.String()),
            certificate: Type.Optional(Certificate),
          },
          { additionalProperties: false },
        ),
      },
      async handler(ctx) {
        return ctx.vault.shredding.byReceipt(ctx.body.receipt);
      },
    }),
    route({
      method: "GET",
      url: "/v1/keys",
      summary:
        "The vault's public keys: the log's verifier keys (signed-note vkeys), its witnesses', and the deletion-certificate keys",
      tags: ["public"],
      auth: "public",
      rateLimit: RATE.public,
      response: {
        200: Type.Object(
          {
            log: Type.Object(
              {
                origin: Type.String(),
                keys: Type.Array(
                  Type.Object(
                    { vkey: Type.String(), status: Type.String(), createdAt: Type.String() },
                    { additionalProperties: false },
                  ),
                ),
                witnesses: Type.Array(
                  Type.Object(
                    { vkey: Type.String(), status: Type.String() },
                    { additionalProperties: false },
                  ),
                ),
              },
              { additionalProperties: false },
            ),
            deletionCertificates: Type.Array(
              Type.Object(
                { keyId: Type.String(), publicKey: Type.String(), status: Type.String() },
                { additionalProperties: false },
              ),
            ),
          },
          { additionalProperties: false },
        ),
      },
      async handler(ctx) {
        const v = ctx.vault;
        const cert = (k: Uint8Array, status: string) => ({
          keyId: certificateKeyId(k),
          publicKey: toBase64(k),
          status,
        });
        return {
          log: {
            origin: await v.log.origin(),
            keys: (await v.log.keys()).map((k) => ({
              vkey: k.vkey,
              status: k.status,
              createdAt: k.createdAt,
            })),
            witnesses: (await v.log.witnesses.list()).map((w) => ({ vkey: w.vkey, status: w.status })),
          },
          deletionCertificates: [
            cert(await v.shredding.certificatePublicKey(), "active"),
            ...(await v.shredding.retiredCertificatePublicKeys()).map((k) => cert(k, "retired")),
          ],
        };
      },
    }),
  ];
}
