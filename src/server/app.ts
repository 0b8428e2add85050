/**
 * The HTTP API (Fastify). Cross-cutting behaviour lives here once: request ids, security headers,
 * no caching of data, strict content types, body limits, rate limits, authentication, Cedar
 * authorization and the error taxonomy. Routes (src/server/routes) declare the rest.
 */
import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import { isDeepStrictEqual } from "node:util";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { Type } from "typebox";
import { asVaultError, isVaultError, VaultError } from "../errors.js";
import type { Authenticated } from "../access/tokens.js";
import type { PolicyEngine } from "../policy/engine.js";
import type { Vault } from "../vault/vault.js";
import { decide } from "./authz.js";
import { errorBody, fromFastifyError, RETRYABLE } from "./errors.js";
import { RateLimiter } from "./ratelimit.js";
import { createReadEventRecorder, type ReadEventRecorder } from "./read-events.js";
import { RATE, type AnyRoute, type AuthedContext, type BaseContext, type ResponseSpec } from "./route.js";
import { allRoutes } from "./routes/index.js";
import { buildOpenApi } from "./openapi.js";
import { VERSION } from "../version.js";

export interface ServerOptions {
  readonly vault: Vault;
  readonly engine: PolicyEngine;
  readonly routes?: readonly AnyRoute[];
  /** Routes contributed by other modules (e.g. the transparency log's endpoints). */
  readonly extraRoutes?: readonly AnyRoute[];
  readonly logger?: boolean;
  readonly https?: { readonly key: string; readonly cert: string } | undefined;
  /** Largest audio upload accepted (also the decoder's input limit). */
  readonly maxUploadBytes?: number;
  readonly now?: () => number;
  /** Origin of enrolment links, e.g. `https://vault.example.org` (see {@link publicOrigin}). */
  readonly publicUrl?: (() => string | undefined) | undefined;
}

/**
 * Checks a configured public URL and returns its origin: https only (http on loopback for local
 * tests), no credentials, path, query or fragment.
 */
export function publicOrigin(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new VaultError("USAGE", "--public-url must be an absolute URL");
  }
  const loopback = u.hostname === "localhost" || u.hostname === "[::1]" || u.hostname.startsWith("127.");
  if (u.protocol !== "https:" && !(u.protocol === "http:" && loopback))
    throw new VaultError("INSECURE_CONFIG", "--public-url must be https (http on loopback only)");
  if (u.username || u.password || (u.pathname !== "/" && u.pathname !== "") || u.search || u.hash)
    throw new VaultError("USAGE", "--public-url is an origin: no user, path, query or fragment");
  return u.origin;
}

export const ErrorSchema = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String(), requestId: Type.String() }) },
  { additionalProperties: false },
);

const JSON_LIMIT = 64 * 1024;
export const AUDIO_TYPES = /^(audio\/[a-z0-9.+-]+|video\/webm|application\/octet-stream)$/;
/** Token kinds accepted as `Authorization: Bearer` credentials. */
const BEARER_KINDS = ["api", "session"] as const;
/** Resumable-upload chunks (the tus convention's media type). */
export const CHUNK_TYPE = "application/offset+octet-stream";

declare module "fastify" {
  interface FastifyRequest {
    voxvaultAuth?: Authenticated;
  }
}

function contentTypeOf(req: FastifyRequest): string {
  return (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
}

function bearer(req: FastifyRequest): string {
  const h = req.headers.authorization;
  if (typeof h !== "string" || !h.startsWith("Bearer "))
    throw new VaultError("UNAUTHENTICATED", "missing bearer token");
  return h.slice(7).trim();
}

function responseSchemas(spec: AnyRoute): Record<string, unknown> {
  const out: Record<string, unknown> = { "4xx": ErrorSchema, "5xx": ErrorSchema };
  for (const [status, r] of Object.entries<ResponseSpec>(spec.response)) {
    if (!("binary" in r)) out[status] = r;
  }
  return out;
}

export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const limiter = new RateLimiter(options.now ?? Date.now);
  const app = Fastify({
    logger: options.logger
      ? {
          level: "info",
          stream: process.stderr,
          redact: { paths: ["req.headers.authorization", "req.headers.cookie"], censor: "[redacted]" },
          // The path only: a query string may carry a secret a client put there by mistake
          // (a token is refused there, but must not be written to the log either).
          serializers: {
            req: (r: FastifyRequest) => ({
              method: r.method,
              url: r.url.split("?")[0]!,
              version: String(r.headers["accept-version"] ?? ""),
              host: r.host,
              remoteAddress: r.ip,
              remotePort: r.socket.remotePort ?? 0,
            }),
          },
        }
      : false,
    ...(options.https
      ? { https: { key: options.https.key, cert: options.https.cert, minVersion: "TLSv1.2" as const } }
      : {}),
    genReqId: () => randomBytes(12).toString("hex"),
    requestIdHeader: false,
    bodyLimit: JSON_LIMIT,
    return503OnClosing: true,
    forceCloseConnections: "idle",
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
  });

  // Audio bodies stay streams: they go straight into the abstraction pipeline.
  const passStream = (
    _req: FastifyRequest,
    payload: Readable,
    done: (err: Error | null, body?: unknown) => void,
  ) => {
    done(null, payload);
  };
  app.addContentTypeParser(AUDIO_TYPES, passStream);
  app.addContentTypeParser(CHUNK_TYPE, passStream);

  app.addHook("onSend", async (req, reply, payload) => {
    reply.header("x-request-id", req.id);
    reply.header("strict-transport-security", "max-age=63072000; includeSubDomains");
    reply.header("x-content-type-options", "nosniff");
    reply.header("x-frame-options", "DENY");
    reply.header("content-security-policy", "default-src 'none'; frame-ancestors 'none'");
    reply.header("referrer-policy", "no-referrer");
    reply.header("cross-origin-resource-policy", "same-origin");
    reply.header("cache-control", "no-store");
    return payload;
  });

  app.setErrorHandler((err: unknown, req, reply) => {
    const ve = fromFastifyError(err) ?? asVaultError(err);
    const { status, body } = errorBody(ve, req.id);
    if (status >= 500) req.log.error({ err: ve.code === "INTERNAL" ? err : ve.code }, "request failed");
    if (ve.code === "RATE_LIMITED" || ve.code === "BUDGET_EXCEEDED" || RETRYABLE.has(ve.code)) {
      const retry = ve.details?.retryAfterSec;
      reply.header("retry-after", String(typeof retry === "number" ? retry : 1));
    }
    if (status === 401) reply.header("www-authenticate", 'Bearer realm="voxvault"');
    void reply.code(status).type("application/json").send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply
      .code(404)
      .type("application/json")
      .send(errorBody(new VaultError("NOT_FOUND", "no such route"), req.id).body);
  });

  let doc: unknown;
  const routes: readonly AnyRoute[] =
    options.routes ??
    allRoutes({
      policies: () => ({ hash: options.engine.hash, policies: options.engine.policies }),
      openapi: () => (doc ??= buildOpenApi(routes, VERSION)),
      ...(options.extraRoutes ? { extra: options.extraRoutes } : {}),
      publicUrl: options.publicUrl,
    });
  const recordRead = createReadEventRecorder();
  for (const spec of routes) register(app, spec, options, limiter, recordRead);
  return app;
}

/** JSON bodies before validation, to refuse the ones that only pass by type coercion. */
const rawBodies = new WeakMap<FastifyRequest, unknown>();

function register(
  app: FastifyInstance,
  spec: AnyRoute,
  options: ServerOptions,
  limiter: RateLimiter,
  recordRead: ReadEventRecorder,
): void {
  const consumes = spec.consumes ?? (spec.body ? ["application/json"] : []);
  app.route({
    method: spec.method,
    url: spec.url,
    ...(spec.bodyLimit !== undefined ? { bodyLimit: spec.bodyLimit } : {}),
    schema: {
      ...(spec.params ? { params: spec.params } : {}),
      ...(spec.query ? { querystring: spec.query } : {}),
      ...(spec.body ? { body: spec.body } : {}),
      response: responseSchemas(spec),
    },
    // A throw inside the executor rejects the promise: the hook fails with that error.
    preValidation: (req: FastifyRequest) =>
      new Promise<void>((resolve) => {
        if (consumes.length === 0) {
          const length = req.headers["content-length"];
          if ((length && length !== "0") || req.headers["transfer-encoding"] !== undefined) {
            throw new VaultError("UNSUPPORTED_MEDIA_TYPE", "this endpoint takes no body");
          }
          resolve();
          return;
        }
        const ct = contentTypeOf(req);
        const ok = consumes.some((c) => (c === "audio/*" ? AUDIO_TYPES.test(ct) : c === ct));
        if (!ok)
          throw new VaultError("UNSUPPORTED_MEDIA_TYPE", `content type must be ${consumes.join(" or ")}`);
        // Kept as parsed: validation coerces types (query strings need it), a JSON body must not be.
        if (spec.body && ct === "application/json") rawBodies.set(req, structuredClone(req.body));
        if (consumes.includes("audio/*") && options.maxUploadBytes !== undefined) {
          const len = Number(req.headers["content-length"] ?? "0");
          if (len > options.maxUploadBytes)
            throw new VaultError("PAYLOAD_TOO_LARGE", "upload exceeds the size limit");
        }
        resolve();
      }),
    handler: async (req: FastifyRequest, reply: FastifyReply) => {
      if (rawBodies.has(req) && !isDeepStrictEqual(rawBodies.get(req), req.body))
        throw new VaultError("BAD_REQUEST", "body: a field has the wrong JSON type");
      const base: BaseContext<unknown, unknown, unknown> = {
        params: req.params,
        query: req.query,
        body: req.body,
        requestId: req.id,
        request: req,
        reply,
        vault: options.vault,
      };
      if (spec.auth === "public") {
        const wait = limiter.take(`ip:${req.ip}:${spec.url}`, spec.rateLimit);
        if (wait > 0)
          throw new VaultError("RATE_LIMITED", "too many requests", { details: { retryAfterSec: wait } });
        return spec.handler(base);
      }
      // Enrolment tokens are exchanged at /v1/enrol only; they are never API credentials.
      // Failed authentications are limited per client address, but only failures: a valid token
      // always gets through, so bad tokens sent from a shared address (NAT, a proxy) cannot lock
      // others out. Guessing a 256-bit secret is hopeless anyway; the limit keeps floods slow.
      let auth: Authenticated;
      try {
        auth = await options.vault.access.tokens.authenticate(bearer(req), BEARER_KINDS);
      } catch (e) {
        // An unreachable database is not a failed authentication: no strike against the address.
        if (isVaultError(e, "METADATA_UNAVAILABLE")) throw e;
        const ipWait = limiter.take(`authfail:${req.ip}`, RATE.auth);
        if (ipWait > 0)
          throw new VaultError("RATE_LIMITED", "too many failed authentications", {
            details: { retryAfterSec: ipWait },
          });
        throw e;
      }
      req.voxvaultAuth = auth;
      const wait = limiter.take(`tok:${auth.token.id}`, spec.rateLimit);
      if (wait > 0)
        throw new VaultError("RATE_LIMITED", "too many requests", { details: { retryAfterSec: wait } });
      const vault = options.vault.withActor({
        type: "principal",
        id: auth.principal.id,
        role: auth.principal.role,
      });
      const withAuth = { ...base, vault, auth };
      const resource = await spec.resource(withAuth);
      const q = (req.query ?? {}) as { purpose?: unknown; breakglass?: unknown };
      const decision = await decide({
        vault,
        engine: options.engine,
        auth,
        action: spec.action,
        resource,
        purpose: spec.purpose ? spec.purpose(base) : typeof q.purpose === "string" ? q.purpose : undefined,
        breakGlassRequest: typeof q.breakglass === "string" ? q.breakglass : undefined,
        recordRead,
      });
      const ctx: AuthedContext<unknown, unknown, unknown> = { ...withAuth, resource, decision };
      return spec.handler(ctx);
    },
  });
}

/** Reads a request body that a route accepted as a stream (audio). */
export function bodyStream(body: unknown): AsyncIterable<Uint8Array> {
  if (body && typeof (body as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function")
    return body as AsyncIterable<Uint8Array>;
  throw new VaultError("BAD_REQUEST", "expected an audio body");
}
