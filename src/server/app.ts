/**
 * The HTTP API (Fastify). Cross-cutting behaviour lives here once: request ids, security headers,
 * no caching of data, strict content types, body limits, rate limits, authentication, Cedar
 * authorization and the error taxonomy. Routes (src/server/routes) declare the rest.
 */
import { Readable } from "node:stream";
import { isDeepStrictEqual } from "node:util";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { Type } from "typebox";
import { asVaultError, isVaultError, VaultError } from "../errors.js";
import type { Authenticated } from "../access/tokens.js";
import type { PolicyEngine } from "../policy/engine.js";
import type { Vault } from "../platform/vault.js";
import { decide } from "./authz.js";
import { errorBody, fromFastifyError, RETRYABLE } from "./errors.js";
import { parseJsonBody } from "./json-body.js";
import { clientError, frameworkError, newRequestId, SECURITY_HEADERS } from "./envelope.js";
import { methodIndex } from "./methods.js";
import { capConnectionsPerClient, serverTimeouts } from "./connections.js";
import { createReadEventRecorder, type ReadEventRecorder } from "./read-events.js";
import type { ResolvedHttp } from "../access/http-config.js";
import type { AnyRoute, AuthedContext, BaseContext, ResponseSpec } from "./route.js";
import { allRoutes } from "./routes/index.js";
import { loadPortal, type PortalAssets } from "./web.js";
import { buildOpenApi } from "./openapi.js";
import { VERSION } from "../version.js";

export interface ServerOptions {
  readonly vault: Vault;
  readonly engine: PolicyEngine;
  readonly routes?: readonly AnyRoute[];
  /** Routes contributed by other modules (e.g. the transparency log's endpoints). */
  readonly extraRoutes?: readonly AnyRoute[];
  readonly logger?: boolean;
  /** Where log lines go when `logger` is on (default stderr). */
  readonly logStream?: NodeJS.WritableStream;
  readonly https?: { readonly key: string; readonly cert: string } | undefined;
  /** Largest audio upload accepted (also the decoder's input limit). */
  readonly maxUploadBytes?: number;
  /** The rate limiter's clock in ms (default: the vault's); tests move it to let limits refill. */
  readonly now?: () => number;
  /** Origin of enrolment links, e.g. `https://vault.example.org` (see {@link publicOrigin}). */
  readonly publicUrl?: (() => string | undefined) | undefined;
  /**
   * Seals this server (a quorum-sealed vault's, src/server/unseal-gate.ts); called after the
   * answer to POST /v1/seal is sent. Absent: the route answers CONFLICT.
   */
  readonly seal?: (() => Promise<void>) | undefined;
  /** The contractor portal's built files (default: read from dist/web, src/server/web.ts). */
  readonly portal?: PortalAssets;
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
/**
 * TLS 1.3 suites as Node has them, and for TLS 1.2 only ECDHE with an AEAD (AES-GCM,
 * ChaCha20-Poly1305): no CBC, no SHA-1 MACs, no static RSA key exchange.
 */
const TLS_CIPHERS = [
  "TLS_AES_256_GCM_SHA384",
  "TLS_CHACHA20_POLY1305_SHA256",
  "TLS_AES_128_GCM_SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
].join(":");
/** Node's TLS server options for a certificate and key: TLS 1.2 at least, AEAD suites only. */
export function tlsOptions(https: { readonly key: string; readonly cert: string }) {
  return {
    key: https.key,
    cert: https.cert,
    minVersion: "TLSv1.2" as const,
    ciphers: TLS_CIPHERS,
    honorCipherOrder: true,
  };
}

/**
 * Media types an audio upload may carry: any audio type, the video containers recorders write
 * (their audio track is taken, the video never decoded), or octet-stream. The decoder goes by the
 * bytes' magic, never by this header.
 */
export const AUDIO_TYPES =
  /^(audio\/[a-z0-9.+-]+|video\/(webm|mp4|quicktime|3gpp|3gpp2|x-matroska|x-m4v)|application\/octet-stream)$/;
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
    if (!("raw" in r)) out[status] = r;
  }
  return out;
}

export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const http = options.vault.access.config.http;
  const timeouts = serverTimeouts(http);
  const app = Fastify({
    // Forwarded headers only from configured proxies; otherwise req.ip is the socket's address.
    trustProxy: http.trustedProxies.length > 0 ? [...http.trustedProxies] : false,
    logger: options.logger
      ? {
          level: "info",
          stream: options.logStream ?? process.stderr,
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
    ...timeouts.fastify,
    ...(options.https
      ? {
          https: { ...tlsOptions(options.https), ...timeouts.node },
        }
      : { http: timeouts.node }),
    genReqId: newRequestId,
    requestIdHeader: false,
    bodyLimit: JSON_LIMIT,
    // Answered by the preClose flag below, so the 503 has the envelope and headers too.
    return503OnClosing: false,
    forceCloseConnections: "idle",
    // HEAD is offered only where it has no side effects (public GET routes; see register()).
    exposeHeadRoutes: false,
    frameworkErrors: frameworkError,
    clientErrorHandler: clientError,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
  });

  capConnectionsPerClient(app.server, http);

  // Audio bodies stay streams: they go straight into the abstraction pipeline.
  const passStream = (
    _req: FastifyRequest,
    payload: Readable,
    done: (err: Error | null, body?: unknown) => void,
  ) => {
    done(null, payload);
  };
  app.addContentTypeParser(AUDIO_TYPES, passStream);
  // JSON with its nesting depth bounded while it is read (json-body.ts).
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", (req, payload, done) => {
    parseJsonBody(req, payload, done);
  });
  app.addContentTypeParser(CHUNK_TYPE, passStream);

  app.addHook("onSend", async (req, reply, payload) => {
    reply.header("x-request-id", req.id);
    // A page route sets its own Content-Security-Policy (src/server/web.ts); everything else gets the API's.
    const csp = reply.getHeader("content-security-policy");
    reply.headers(SECURITY_HEADERS);
    if (csp !== undefined) reply.header("content-security-policy", csp);
    return payload;
  });
  let closing = false;
  app.addHook("preClose", (done) => {
    closing = true;
    done();
  });
  app.addHook("onRequest", async (_req, reply) => {
    if (closing) {
      void reply.header("connection", "close");
      throw new VaultError("SERVER_CLOSING", "the server is shutting down");
    }
  });

  app.setErrorHandler((err: unknown, req, reply) => {
    const ve = fromFastifyError(err) ?? asVaultError(err);
    const { status, body } = errorBody(ve, req.id);
    // The answer below goes nowhere; an info line, because a hang-up is not the server's failure.
    if (ve.code === "CLIENT_ABORTED") req.log.info("client aborted the request");
    else if (status >= 500) req.log.error({ err: ve.code === "INTERNAL" ? err : ve.code }, "request failed");
    if (ve.code === "RATE_LIMITED" || ve.code === "BUDGET_EXCEEDED" || RETRYABLE.has(ve.code)) {
      const retry = ve.details?.retryAfterSec;
      reply.header("retry-after", String(typeof retry === "number" ? retry : 1));
    }
    if (status === 401) reply.header("www-authenticate", 'Bearer realm="voxvault"');
    void reply.code(status).type("application/json").send(body);
  });
  let methodsOf: (path: string) => string[] = () => [];
  app.setNotFoundHandler((req, reply) => {
    const allowed = methodsOf(req.url.split("?")[0]!);
    if (allowed.length > 0) {
      void reply.header("allow", allowed.join(", "));
      throw new VaultError("METHOD_NOT_ALLOWED", `this route does not take ${req.method}`);
    }
    throw new VaultError("NOT_FOUND", "no such route");
  });

  let doc: unknown;
  const routes: readonly AnyRoute[] =
    options.routes ??
    allRoutes({
      policies: () => ({ hash: options.engine.hash, policies: options.engine.policies }),
      openapi: () => (doc ??= buildOpenApi(routes, VERSION, http.rateLimits)),
      ...(options.extraRoutes ? { extra: options.extraRoutes } : {}),
      publicUrl: options.publicUrl,
      seal: options.seal,
      portal: options.portal ?? loadPortal(),
    });
  const recordRead = createReadEventRecorder();
  for (const spec of routes) register(app, spec, options, http, recordRead);
  methodsOf = methodIndex(routes.map((r) => ({ method: r.method, url: r.url, head: offersHead(r) })));
  return app;
}

/**
 * HEAD runs the GET handler and drops the body, so it is offered only where running that handler
 * has no effect worth protecting: public routes. On token routes a HEAD would charge budgets,
 * record reads or consume a break-glass grant, so it is 405 there.
 */
function offersHead(spec: AnyRoute): boolean {
  return spec.method === "GET" && spec.auth === "public";
}

/** JSON bodies before validation, to refuse the ones that only pass by type coercion. */
const rawBodies = new WeakMap<FastifyRequest, unknown>();

function register(
  app: FastifyInstance,
  spec: AnyRoute,
  options: ServerOptions,
  http: ResolvedHttp,
  recordRead: ReadEventRecorder,
): void {
  // One limiter for every server of the vault (src/access/rate-limits.ts).
  const limiter = options.vault.access.rateLimits;
  const now = () => options.now?.(); // undefined: the vault's clock
  const cls = spec.rateLimit.class;
  const limit = http.rateLimits[cls];
  const consumes = spec.consumes ?? (spec.body ? ["application/json"] : []);
  app.route({
    method: spec.method,
    url: spec.url,
    exposeHeadRoute: offersHead(spec),
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
        // Public routes include liveness, which must answer while the database is away: their
        // limit falls back to this process's own while it is.
        const wait = await limiter.take(`ip:${req.ip}:${cls}`, limit, now(), { whenUnavailable: "local" });
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
        const ipWait = await limiter.take(`authfail:${req.ip}`, http.rateLimits.auth, now());
        if (ipWait > 0)
          throw new VaultError("RATE_LIMITED", "too many failed authentications", {
            details: { retryAfterSec: ipWait },
          });
        throw e;
      }
      req.voxvaultAuth = auth;
      const wait = await limiter.take(`tok:${auth.token.id}:${cls}`, limit, now());
      if (wait > 0)
        throw new VaultError("RATE_LIMITED", "too many requests", { details: { retryAfterSec: wait } });
      const vault = options.vault.withActor({
        type: "principal",
        id: auth.principal.id,
        role: auth.principal.role,
      });
      const q = (req.query ?? {}) as { purpose?: unknown; breakglass?: unknown };
      if (spec.purposeRequiredFor?.includes(auth.principal.role) && typeof q.purpose !== "string")
        throw new VaultError(
          "BAD_REQUEST",
          "missing query parameter purpose: declare what this request is for (?purpose=…)",
        );
      const withAuth = { ...base, vault, auth };
      const resource = await spec.resource(withAuth);
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

/**
 * Reads a request body that a route accepted as a stream (audio). The request stream fails only
 * when the connection does (the client hung up or the socket broke), so its errors become
 * CLIENT_ABORTED here, at the edge, instead of surfacing as a failure of whatever consumed it.
 */
export function bodyStream(body: unknown): AsyncIterable<Uint8Array> {
  if (body && typeof (body as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function")
    return clientStream(body as AsyncIterable<Uint8Array>);
  throw new VaultError("BAD_REQUEST", "expected an audio body");
}

async function* clientStream(body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array, void, undefined> {
  // A consumer that stops early (a size limit, a refused format) must not destroy the request:
  // that would reset the connection before the client reads the error. Left undestroyed, the
  // rest is discarded by the HTTP server once the response is sent.
  const source =
    body instanceof Readable
      ? (body.iterator({ destroyOnReturn: false }) as AsyncIterable<Uint8Array>)
      : body;
  try {
    yield* source;
  } catch (e) {
    throw new VaultError("CLIENT_ABORTED", "the client closed the connection mid-request", { cause: e });
  }
}
