import { Readable } from "node:stream";
import { Type } from "typebox";
import { DERIVATION_KINDS, type DerivationName } from "../../derivations/index.js";
import { VaultError } from "../../errors.js";
import { toDerivationInfo } from "../../ingest/derivation-info.js";
import { RATE, route, type AnyRoute } from "../route.js";
import { derivationResource, subjectResource, vaultResource } from "./resources.js";
import { Derivation, Id, SubjectIdParams } from "./schemas.js";

/** What the API serves each kind as (the registry, src/derivations); the OpenAPI entry lists them. */
const CONTENT_KIND: Record<string, "json" | "binary"> = {
  "application/json": "json",
  "application/octet-stream": "binary",
  "audio/wav": "binary",
};
const CONTENT_TYPES = [...new Set(DERIVATION_KINDS.map((k) => k.contentType))];

export function derivationRoutes(): AnyRoute[] {
  return [
    route({
      method: "GET",
      url: "/v1/subjects/:id/derivations",
      summary: "What is kept of a subject's recordings (metadata, not contents)",
      tags: ["derivations"],
      auth: "token",
      action: "derivation.list",
      rateLimit: RATE.read,
      params: SubjectIdParams,
      query: Type.Object(
        { name: Type.Optional(Type.String({ pattern: "^[a-z-]{3,32}$" })) },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Object({ derivations: Type.Array(Derivation) }, { additionalProperties: false }),
      },
      resource: (ctx) => subjectResource(ctx.vault, ctx.params.id),
      async handler(ctx) {
        return {
          derivations: await ctx.vault.recordings.derivations({
            subjectId: ctx.params.id,
            ...(ctx.query.name ? { name: ctx.query.name as DerivationName } : {}),
          }),
        };
      },
    }),
    route({
      method: "GET",
      url: "/v1/derivations/:id",
      summary:
        "A derivation's content: consumers declare ?purpose=; reconstructable material needs ?breakglass=<approved request>",
      tags: ["derivations"],
      auth: "token",
      action: "derivation.read",
      purposeRequiredFor: ["consumer"],
      rateLimit: RATE.read,
      params: Type.Object({ id: Id("drv") }, { additionalProperties: false }),
      query: Type.Object(
        {
          purpose: Type.Optional(Type.String({ pattern: "^[a-z][a-z0-9-]{0,62}$" })),
          breakglass: Type.Optional(Type.String({ pattern: "^bgr_[0-9a-hjkmnp-tv-z]{26}$" })),
        },
        { additionalProperties: false },
      ),
      response: {
        200: {
          raw: true,
          description:
            "the derivation: JSON for quality and voice-stats, WAV for raw audio, bytes for templates and frames",
          content: Object.fromEntries(CONTENT_TYPES.map((t) => [t, CONTENT_KIND[t]])),
        },
      },
      resource: (ctx) => derivationResource(ctx.vault, ctx.params.id),
      async handler(ctx) {
        const served = await ctx.vault.access.serving.read({
          requester: { principal: ctx.auth.principal, tokenId: ctx.auth.token.id },
          derivationId: ctx.resource.derivation!.id,
          purpose: ctx.decision.purpose,
          breakglass: ctx.query.breakglass,
        });
        void ctx.reply.type(served.contentType);
        // A node stream: Fastify pipes those (an async generator would be serialised as "{}").
        return ctx.reply.send(Readable.from(served.stream));
      },
    }),
    route({
      method: "GET",
      url: "/v1/datasets/:purpose",
      summary:
        "A page of a purpose's dataset: only consented subjects (as per-application pseudonyms), only that purpose's derivations",
      tags: ["derivations"],
      auth: "token",
      action: "dataset.pull",
      rateLimit: RATE.read,
      params: Type.Object(
        { purpose: Type.String({ pattern: "^[a-z][a-z0-9-]{0,62}$" }) },
        { additionalProperties: false },
      ),
      query: Type.Object(
        {
          purpose: Type.Optional(Type.String({ pattern: "^[a-z][a-z0-9-]{0,62}$" })),
          after: Type.Optional(Id("drv")),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
        },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Object(
          {
            purpose: Type.String(),
            items: Type.Array(
              Type.Object(
                {
                  pseudonym: Type.String(),
                  derivationId: Type.String(),
                  name: Type.String(),
                  recipe: Derivation.properties.recipe,
                  createdAt: Type.String(),
                  content: Type.String({ description: "base64" }),
                },
                { additionalProperties: false },
              ),
            ),
            next: Type.Union([Type.String(), Type.Null()]),
          },
          { additionalProperties: false },
        ),
      },
      purpose: (ctx) => {
        if (ctx.query.purpose !== undefined && ctx.query.purpose !== ctx.params.purpose) {
          throw new VaultError("BAD_REQUEST", "purpose mismatch");
        }
        return ctx.params.purpose;
      },
      resource: vaultResource,
      async handler(ctx) {
        const { vault, auth } = ctx;
        const purpose = ctx.params.purpose;
        const page = await vault.access.serving.datasetPage({
          requester: { principal: auth.principal, tokenId: auth.token.id },
          purpose,
          after: ctx.query.after,
          limit: ctx.query.limit,
        });
        return {
          purpose,
          items: page.items.map((i) => ({
            pseudonym: i.pseudonym,
            derivationId: i.derivationId,
            name: i.name,
            recipe: toDerivationInfo(i.derivation).recipe,
            createdAt: i.derivation.created_at,
            content: Buffer.from(i.content).toString("base64"),
          })),
          next: page.next,
        };
      },
    }),
  ];
}
