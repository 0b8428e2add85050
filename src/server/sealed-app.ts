/**
 * What a sealed server answers (docs/operations.md §Quorum unseal): liveness, the seal status and
 * share submission. Everything else is 503 VAULT_SEALED. Nothing here can read the vault: it is
 * closed. Submissions are limited per client address in memory (the shared limiter lives in the
 * metadata store, which a sealed server does not open), and every share is checked against its
 * commitment before it is kept.
 */
import Fastify, { type FastifyInstance } from "fastify";
import { asVaultError, VaultError } from "../errors.js";
import { tlsOptions } from "./app.js";
import { errorBody, fromFastifyError } from "./errors.js";
import { newRequestId, SECURITY_HEADERS } from "./envelope.js";
import type { UnsealGate } from "./unseal-gate.js";

export interface SealedServerOptions {
  readonly gate: UnsealGate;
  readonly https?: { readonly key: string; readonly cert: string } | undefined;
  readonly logger?: boolean | undefined;
  readonly logStream?: NodeJS.WritableStream | undefined;
  /** Share submissions per client address per minute (default 10). */
  readonly submissionsPerMinute?: number | undefined;
  readonly now?: (() => number) | undefined;
  /** Reports a failure to start serving an unsealed vault (the gate is sealed again). */
  readonly onActivationError?: ((e: unknown) => void) | undefined;
}

const STATUS_SCHEMA = {
  type: "object",
  additionalProperties: false,
  required: ["sealed", "threshold", "submitted"],
  properties: { sealed: { type: "boolean" }, threshold: { type: "integer" }, submitted: { type: "integer" } },
} as const;

/** A fixed window per address: enough against guessing, which the 256-bit commitments defeat anyway. */
function windowLimiter(limit: number, now: () => number) {
  const seen = new Map<string, { start: number; n: number }>();
  return (address: string): void => {
    const t = now();
    if (seen.size > 10_000) for (const [k, v] of seen) if (t - v.start >= 60_000) seen.delete(k);
    const w = seen.get(address);
    if (!w || t - w.start >= 60_000) {
      seen.set(address, { start: t, n: 1 });
      return;
    }
    if (++w.n > limit)
      throw new VaultError("RATE_LIMITED", "too many unseal submissions from this address", {
        details: { retryAfterSec: Math.ceil((w.start + 60_000 - t) / 1000) },
      });
  };
}

export async function buildSealedServer(options: SealedServerOptions): Promise<FastifyInstance> {
  const now = options.now ?? Date.now;
  const app = Fastify({
    logger: options.logger ? { level: "info", stream: options.logStream ?? process.stderr } : false,
    ...(options.https ? { https: tlsOptions(options.https) } : {}),
    genReqId: newRequestId,
    requestIdHeader: false,
    bodyLimit: 4096,
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    forceCloseConnections: true,
  });
  const limit = windowLimiter(options.submissionsPerMinute ?? 10, now);
  app.addHook("onSend", async (req, reply, payload) => {
    reply.header("x-request-id", req.id);
    reply.headers(SECURITY_HEADERS);
    return payload;
  });
  app.setErrorHandler((err: unknown, req, reply) => {
    const ve = fromFastifyError(err) ?? asVaultError(err);
    const { status, body } = errorBody(ve, req.id);
    const retry = ve.details?.retryAfterSec;
    if (ve.code === "RATE_LIMITED" || ve.code === "VAULT_SEALED")
      reply.header("retry-after", String(typeof retry === "number" ? retry : 5));
    void reply.code(status).type("application/json").send(body);
  });
  app.setNotFoundHandler(() => {
    throw new VaultError("VAULT_SEALED", "the vault is sealed: a quorum of officers must unseal it");
  });
  for (const url of ["/healthz", "/healthz/live"]) {
    app.get(url, {
      schema: {
        response: {
          200: {
            type: "object",
            additionalProperties: false,
            required: ["status"],
            properties: { status: { const: "sealed" } },
          },
        },
      },
      handler: () => Promise.resolve({ status: "sealed" as const }),
    });
  }
  app.get("/healthz/ready", () => {
    throw new VaultError("VAULT_SEALED", "the vault is sealed");
  });
  app.get("/v1/seal", { schema: { response: { 200: STATUS_SCHEMA } }, handler: () => options.gate.status() });
  app.post("/v1/unseal", {
    schema: {
      body: {
        type: "object",
        additionalProperties: false,
        required: ["share"],
        properties: { share: { type: "string", minLength: 1, maxLength: 512 } },
      },
      response: { 200: STATUS_SCHEMA },
    },
    handler: async (req, reply) => {
      limit(req.ip);
      const status = await options.gate.submit((req.body as { share: string }).share);
      // the switch to the full API closes this server: only once this answer is out
      if (!status.sealed)
        reply.raw.once("close", () => {
          void options.gate.activate().then((e) => {
            if (e) options.onActivationError?.(e);
          });
        });
      return status;
    },
  });
  return app;
}
