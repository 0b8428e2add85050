import { Type } from "typebox";
import { RATE, route, type AnyRoute } from "../route.js";

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
  ];
}
