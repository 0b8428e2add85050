import { Type } from "typebox";
import { RATE, route, type AnyRoute } from "../route.js";
import { subjectResource, vaultResource } from "./resources.js";
import { BreakglassRequest, Id, NoQuery, SubjectIdParams } from "./schemas.js";

export function breakglassRoutes(): AnyRoute[] {
  return [
    route({
      method: "POST",
      url: "/v1/subjects/:id/breakglass",
      summary: "Request access to a subject's reconstructable material (needs M other operators' approval)",
      tags: ["break-glass"],
      auth: "token",
      action: "breakglass.request",
      rateLimit: RATE.write,
      params: SubjectIdParams,
      query: NoQuery,
      body: Type.Object(
        {
          material: Type.Union([Type.Literal("raw"), Type.Literal("frames")]),
          reason: Type.String({ minLength: 10, maxLength: 1000 }),
        },
        { additionalProperties: false },
      ),
      response: { 201: BreakglassRequest },
      resource: (ctx) => subjectResource(ctx.vault, ctx.params.id),
      async handler(ctx) {
        const r = await ctx.vault.access.breakglass.request(
          ctx.auth.principal,
          ctx.params.id,
          ctx.body.material,
          ctx.body.reason,
        );
        void ctx.reply.code(201);
        return r;
      },
    }),
    route({
      method: "POST",
      url: "/v1/breakglass/:id/decision",
      summary: "Approve or deny another operator's break-glass request",
      tags: ["break-glass"],
      auth: "token",
      action: "breakglass.decide",
      rateLimit: RATE.write,
      params: Type.Object({ id: Id("bgr") }, { additionalProperties: false }),
      query: NoQuery,
      body: Type.Object(
        { decision: Type.Union([Type.Literal("approve"), Type.Literal("deny")]) },
        { additionalProperties: false },
      ),
      response: { 200: BreakglassRequest },
      resource: vaultResource,
      handler: (ctx) =>
        ctx.vault.access.breakglass.decide(ctx.auth.principal, ctx.params.id, ctx.body.decision),
    }),
    route({
      method: "GET",
      url: "/v1/breakglass",
      summary: "Break-glass requests",
      tags: ["break-glass"],
      auth: "token",
      action: "breakglass.list",
      rateLimit: RATE.read,
      query: Type.Object(
        {
          status: Type.Optional(
            Type.Union(["pending", "granted", "used", "expired", "denied"].map((s) => Type.Literal(s))),
          ),
        },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Object({ requests: Type.Array(BreakglassRequest) }, { additionalProperties: false }),
      },
      resource: vaultResource,
      async handler(ctx) {
        const status = ctx.query.status as "pending" | "granted" | "used" | "expired" | "denied" | undefined;
        return { requests: await ctx.vault.access.breakglass.list(status) };
      },
    }),
  ];
}
