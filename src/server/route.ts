/**
 * Routes are declared whole: method, URL, params/query/body/response schemas (responses are
 * serialised through their schema, so only allowed fields leave), authentication, the Cedar action
 * and how to find the resource, and a rate limit. The same declarations generate /openapi.json
 * and the authorization-matrix test, so a route cannot exist without them.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Static, TSchema } from "typebox";
import type { Authenticated } from "../access/tokens.js";
import type { CedarValue, RequestEntity } from "../policy/engine.js";
import type { SubjectsTable } from "../store/meta/schema.js";
import type { Role } from "../store/meta/schema-access.js";
import type { Vault } from "../platform/vault.js";
import { DEFAULT_RATE_LIMITS, type RateClass, type RateLimit } from "../access/http-config.js";

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE" | "PATCH" | "HEAD";

/** The Cedar resource a request acts on, and the subject it concerns (for consent and 404s). */
export interface ResolvedResource {
  readonly entity: RequestEntity;
  readonly subject?: SubjectsTable | undefined;
  readonly entities?: readonly RequestEntity[] | undefined;
  /** For derivation reads: its name and whether it is reconstructable (break-glass material). */
  readonly derivation?:
    { readonly id: string; readonly name: string; readonly reconstructable: boolean } | undefined;
}

export interface BaseContext<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  readonly requestId: string;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
  /** The vault, bound to the request's actor (events name the principal). */
  readonly vault: Vault;
}

export interface AuthedContext<P, Q, B> extends BaseContext<P, Q, B> {
  readonly auth: Authenticated;
  readonly resource: ResolvedResource;
  /** The Cedar context the decision was made with (purpose, consent, budget, break-glass). */
  readonly decision: { readonly context: Readonly<Record<string, CedarValue>>; readonly purpose: string };
}

/**
 * A response the handler writes itself (not serialised through a schema): each media type it may
 * be served as, with what the body is (the OpenAPI document declares exactly these).
 */
export interface RawResponse {
  readonly raw: true;
  readonly description: string;
  readonly content: Readonly<Record<string, "json" | "text" | "binary">>;
}

export type ResponseSpec = TSchema | RawResponse;

interface CommonSpec<P extends TSchema, Q extends TSchema, B extends TSchema> {
  readonly method: HttpMethod;
  readonly url: string;
  readonly summary: string;
  readonly tags: readonly string[];
  /** The rate-limit class (its numbers are the defaults; vault.json `access.http` may change them). */
  readonly rateLimit: ClassLimit;
  readonly params?: P;
  readonly query?: Q;
  readonly body?: B;
  /** Accepted request content types; JSON when a body schema is given. */
  readonly consumes?: readonly string[];
  readonly bodyLimit?: number;
  readonly response: Readonly<Record<number, ResponseSpec>>;
}

export interface PublicRouteSpec<P extends TSchema, Q extends TSchema, B extends TSchema> extends CommonSpec<
  P,
  Q,
  B
> {
  readonly auth: "public";
  handler(ctx: BaseContext<Static<P>, Static<Q>, Static<B>>): Promise<unknown>;
}

export interface TokenRouteSpec<P extends TSchema, Q extends TSchema, B extends TSchema> extends CommonSpec<
  P,
  Q,
  B
> {
  readonly auth: "token";
  /** The Cedar action (policies/schema.cedarschema). */
  readonly action: string;
  /** Roles that must declare `?purpose=` here (missing: 400 naming the parameter, before any decision). */
  readonly purposeRequiredFor?: readonly Role[];
  /** The declared purpose, when not `?purpose=` (e.g. a path segment). */
  purpose?(ctx: BaseContext<Static<P>, Static<Q>, Static<B>>): string | undefined;
  /** Loads the resource; throws NOT_FOUND for unknown ids. */
  resource(
    ctx: BaseContext<Static<P>, Static<Q>, Static<B>> & { readonly auth: Authenticated },
  ): Promise<ResolvedResource>;
  handler(ctx: AuthedContext<Static<P>, Static<Q>, Static<B>>): Promise<unknown>;
}

export type RouteSpec<P extends TSchema = TSchema, Q extends TSchema = TSchema, B extends TSchema = TSchema> =
  PublicRouteSpec<P, Q, B> | TokenRouteSpec<P, Q, B>;

/** Keeps each route's generic types while letting route tables be plain arrays. */
export function route<P extends TSchema, Q extends TSchema, B extends TSchema>(
  spec: RouteSpec<P, Q, B>,
): AnyRoute {
  return spec;
}

export type AnyRoute = RouteSpec;

export type ClassLimit = RateLimit & { readonly class: RateClass };

const cls = (c: RateClass): ClassLimit => ({ class: c, ...DEFAULT_RATE_LIMITS[c] });

export const RATE = {
  read: cls("read"),
  write: cls("write"),
  upload: cls("upload"),
  auth: cls("auth"),
  public: cls("public"),
} as const satisfies Record<RateClass, ClassLimit>;
