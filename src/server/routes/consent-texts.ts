/** Consent texts over HTTP: what each purpose asks people to agree to, and publishing a new version. */
import { Type } from "typebox";
import { MAX_LANGUAGES, MAX_TEXT_BYTES } from "../../access/consent-texts.js";
import { RATE, route, type AnyRoute } from "../route.js";
import { vaultResource } from "./resources.js";
import { NoQuery } from "./schemas.js";

const PurposeParams = Type.Object(
  { purpose: Type.String({ pattern: "^[a-z][a-z0-9-]{0,62}$" }) },
  { additionalProperties: false },
);

const TextVersion = Type.Object(
  {
    purpose: Type.String(),
    version: Type.Integer(),
    publishedAt: Type.String(),
    texts: Type.Array(
      Type.Object(
        {
          lang: Type.String(),
          textHash: Type.String({ description: "hex SHA-256 of the text's UTF-8 bytes: what a grant cites" }),
          text: Type.String(),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export function consentTextRoutes(): AnyRoute[] {
  return [
    route({
      method: "GET",
      url: "/v1/consent-texts",
      summary: "The current consent text of every purpose that has one (all its languages)",
      tags: ["consent"],
      auth: "token",
      action: "consent.texts",
      rateLimit: RATE.read,
      query: NoQuery,
      response: {
        200: Type.Object({ versions: Type.Array(TextVersion) }, { additionalProperties: false }),
      },
      resource: vaultResource,
      async handler(ctx) {
        return { versions: await ctx.vault.access.consentTexts.current() };
      },
    }),
    route({
      method: "GET",
      url: "/v1/consent-texts/:purpose",
      summary: "Every version of a purpose's consent text, newest first",
      tags: ["consent"],
      auth: "token",
      action: "consent.texts",
      rateLimit: RATE.read,
      params: PurposeParams,
      query: NoQuery,
      response: {
        200: Type.Object({ versions: Type.Array(TextVersion) }, { additionalProperties: false }),
      },
      resource: vaultResource,
      async handler(ctx) {
        return { versions: await ctx.vault.access.consentTexts.history(ctx.params.purpose) };
      },
    }),
    route({
      method: "POST",
      url: "/v1/consent-texts/:purpose",
      summary:
        "Publish the purpose's next consent text version (texts by language tag); every live grant of the purpose is superseded",
      tags: ["consent"],
      auth: "token",
      action: "consent.publish",
      rateLimit: RATE.write,
      params: PurposeParams,
      query: NoQuery,
      // Every language at its largest, plus JSON escaping.
      bodyLimit: MAX_LANGUAGES * MAX_TEXT_BYTES * 2,
      body: Type.Object(
        {
          texts: Type.Record(
            Type.String({ pattern: "^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$" }),
            Type.String({ minLength: 1, maxLength: MAX_TEXT_BYTES }),
            { minProperties: 1, maxProperties: MAX_LANGUAGES },
          ),
        },
        { additionalProperties: false },
      ),
      response: {
        201: Type.Object(
          { version: TextVersion, superseded: Type.Integer() },
          { additionalProperties: false },
        ),
      },
      resource: vaultResource,
      async handler(ctx) {
        const out = await ctx.vault.access.consentTexts.publish(ctx.params.purpose, ctx.body.texts);
        void ctx.reply.code(201);
        return out;
      },
    }),
  ];
}
