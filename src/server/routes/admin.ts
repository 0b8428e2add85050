import { Type } from "typebox";
import { LABEL_PATTERN } from "../../access/tokens.js";
import type { Role } from "../../store/meta/schema-access.js";
import { VaultError } from "../../errors.js";
import { RATE, route, type AnyRoute } from "../route.js";
import { vaultResource } from "./resources.js";
import { Id, NoQuery, TokenInfo } from "./schemas.js";

/**
 * Roles an API admin may mint. Operator and admin tokens are made only on the host
 * (`voxvault token create`): otherwise one stolen admin token could mint M operators and approve
 * its own break-glass request, or outlive its revocation through admin tokens it minted.
 */
export const API_MINTABLE_ROLES = ["contractor", "consumer", "auditor"] as const satisfies readonly Role[];

/**
 * Seals the server at once (docs/operations.md §Quorum unseal): the answer goes out, then the
 * vault is closed and its keys dropped until a quorum of officers unseals it again.
 */
export function sealRoute(seal: (() => Promise<void>) | undefined): AnyRoute {
  return route({
    method: "POST",
    url: "/v1/seal",
    summary: "Seal this server now: it drops the vault's keys and serves nothing until a quorum unseals it",
    tags: ["admin"],
    auth: "token",
    action: "vault.seal",
    rateLimit: RATE.write,
    query: NoQuery,
    response: {
      202: Type.Object({ sealed: Type.Literal(true) }, { additionalProperties: false }),
    },
    resource: vaultResource,
    handler(ctx) {
      if (!seal)
        throw new VaultError(
          "CONFLICT",
          "this server's vault is not sealed by a quorum: stop the server instead (nothing could unseal it)",
        );
      // after the answer is written: sealing closes this server
      ctx.reply.raw.once("finish", () => {
        void seal();
      });
      void ctx.reply.code(202);
      return Promise.resolve({ sealed: true as const });
    },
  });
}

export function adminRoutes(
  policies: () => { hash: string; policies: readonly { id: string; file: string; text: string }[] },
): AnyRoute[] {
  return [
    route({
      method: "POST",
      url: "/v1/admin/tokens",
      summary:
        "Create a scoped, expiring contractor, consumer or auditor token (the secret is shown once; operator and admin tokens are made on the host)",
      tags: ["admin"],
      auth: "token",
      action: "token.create",
      rateLimit: RATE.write,
      query: NoQuery,
      body: Type.Object(
        {
          role: Type.Union(API_MINTABLE_ROLES.map((r) => Type.Literal(r))),
          label: Type.Optional(Type.String({ pattern: LABEL_PATTERN })),
          purposes: Type.Optional(
            Type.Array(Type.String({ pattern: "^[a-z][a-z0-9-]{0,62}$" }), { maxItems: 20 }),
          ),
          subjectId: Type.Optional(Id("sub")),
          application: Type.Optional(Type.String({ pattern: "^[a-z][a-z0-9-]{1,62}$" })),
          ttlSeconds: Type.Optional(Type.Integer({ minimum: 60 })),
        },
        { additionalProperties: false },
      ),
      response: {
        201: Type.Object({ token: Type.String(), info: TokenInfo }, { additionalProperties: false }),
      },
      resource: vaultResource,
      async handler(ctx) {
        const b = ctx.body;
        const out = await ctx.vault.access.tokens.create({
          role: b.role,
          label: b.label,
          purposes: b.purposes,
          subjectId: b.subjectId,
          application: b.application,
          ttlMs: b.ttlSeconds === undefined ? undefined : b.ttlSeconds * 1000,
        });
        void ctx.reply.code(201);
        return out;
      },
    }),
    route({
      method: "GET",
      url: "/v1/admin/tokens",
      summary: "Tokens (never their secrets)",
      tags: ["admin"],
      auth: "token",
      action: "token.list",
      rateLimit: RATE.read,
      query: Type.Object({ includeRevoked: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
      response: { 200: Type.Object({ tokens: Type.Array(TokenInfo) }, { additionalProperties: false }) },
      resource: vaultResource,
      async handler(ctx) {
        return { tokens: await ctx.vault.access.tokens.list({ includeRevoked: ctx.query.includeRevoked }) };
      },
    }),
    route({
      method: "DELETE",
      url: "/v1/admin/tokens/:id",
      summary: "Revoke a token (effective immediately)",
      tags: ["admin"],
      auth: "token",
      action: "token.revoke",
      rateLimit: RATE.write,
      params: Type.Object({ id: Id("tok") }, { additionalProperties: false }),
      query: NoQuery,
      response: { 200: TokenInfo },
      resource: vaultResource,
      handler: (ctx) => ctx.vault.access.tokens.revoke(ctx.params.id),
    }),
    route({
      method: "POST",
      url: "/v1/admin/applications",
      summary: "Register a consumer application (its own template key and pseudonyms)",
      tags: ["admin"],
      auth: "token",
      action: "application.register",
      rateLimit: RATE.write,
      query: NoQuery,
      body: Type.Object(
        {
          name: Type.String({ pattern: "^[a-z][a-z0-9-]{1,62}$" }),
          purposes: Type.Array(Type.String({ pattern: "^[a-z][a-z0-9-]{0,62}$" }), {
            minItems: 1,
            maxItems: 20,
          }),
        },
        { additionalProperties: false },
      ),
      response: {
        201: Type.Object(
          {
            name: Type.String(),
            tenant: Type.String(),
            purposes: Type.Array(Type.String()),
            createdAt: Type.String(),
          },
          { additionalProperties: false },
        ),
      },
      resource: vaultResource,
      async handler(ctx) {
        const a = await ctx.vault.access.applications.register(ctx.body.name, ctx.body.purposes);
        void ctx.reply.code(201);
        return a;
      },
    }),
    route({
      method: "GET",
      url: "/v1/admin/policies",
      summary: "The policy set in force (ids, files, text) and its hash",
      tags: ["admin"],
      auth: "token",
      action: "policy.read",
      rateLimit: RATE.read,
      query: NoQuery,
      response: {
        200: Type.Object(
          {
            hash: Type.String(),
            policies: Type.Array(
              Type.Object(
                { id: Type.String(), file: Type.String(), text: Type.String() },
                { additionalProperties: false },
              ),
            ),
          },
          { additionalProperties: false },
        ),
      },
      resource: vaultResource,
      handler: () => Promise.resolve(policies()),
    }),
  ];
}
