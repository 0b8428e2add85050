/** One error taxonomy over HTTP: a VaultError code maps to a status; 5xx bodies say nothing internal. */
import { VaultError, type ErrorCode } from "../errors.js";

const STATUS: Partial<Record<ErrorCode, number>> = {
  USAGE: 400,
  INVALID_ARGUMENT: 400,
  BAD_REQUEST: 400,
  // Nobody receives it: the client is gone. 4xx, because the request is what failed.
  CLIENT_ABORTED: 400,
  // Transparency-log notes, checkpoints and proofs that clients send (e.g. /v1/me/audit `since`).
  NOTE_INVALID: 400,
  CHECKPOINT_INVALID: 400,
  PROOF_INVALID: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  CONSENT_REQUIRED: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  SUBJECT_NOT_FOUND: 404,
  BLOB_NOT_FOUND: 404,
  SUBJECT_EXISTS: 409,
  SHRED_PENDING: 409,
  SHRED_NOT_PENDING: 409,
  CONFLICT: 409,
  CONSENT_TEXT_UNKNOWN: 409,
  BREAKGLASS_INVALID: 409,
  MATERIAL_NOT_RETAINED: 409,
  NO_TEMPLATE: 409,
  SUBJECT_SHREDDED: 410,
  RETENTION_EXPIRED: 410,
  UNSEAL_SHARE_INVALID: 400,
  UNSEAL_QUORUM_SHORT: 409,
  TOO_LARGE: 413,
  PAYLOAD_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNSUPPORTED_FORMAT: 422,
  CORRUPT_AUDIO: 422,
  TOO_LONG: 422,
  TOO_SHORT: 422,
  NO_SPEECH: 422,
  NO_AUDIO: 422,
  AMBIGUOUS_SPEAKER: 422,
  UNSUPPORTED_LAYOUT: 422,
  DECODE_TIMEOUT: 422,
  BUDGET_EXCEEDED: 429,
  RATE_LIMITED: 429,
  HEADERS_TOO_LARGE: 431,
  VAULT_BUSY: 503,
  VAULT_SEALED: 503,
  SERVER_CLOSING: 503,
  METADATA_UNAVAILABLE: 503,
};

/** 503s a client should retry (with Retry-After); their code is shown, unlike other 5xx. */
export const RETRYABLE: ReadonlySet<ErrorCode> = new Set([
  "VAULT_BUSY",
  "METADATA_UNAVAILABLE",
  "SERVER_CLOSING",
  "VAULT_SEALED",
]);

export function statusFor(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly requestId: string };
}

/** Fastify's own errors (validation, content type, body size, JSON syntax) as VaultErrors. */
export function fromFastifyError(e: unknown): VaultError | undefined {
  const err = e as { code?: unknown; statusCode?: unknown; validation?: unknown; message?: unknown };
  const msg = typeof err.message === "string" ? err.message : "bad request";
  if (err.validation !== undefined) return new VaultError("BAD_REQUEST", msg);
  switch (err.code) {
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new VaultError(
        err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" ? "UNSUPPORTED_MEDIA_TYPE" : "BAD_REQUEST",
        msg,
      );
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new VaultError("PAYLOAD_TOO_LARGE", "request body too large");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_TYPE":
      return new VaultError("BAD_REQUEST", msg);
    default:
      break;
  }
  if (e instanceof SyntaxError || (typeof err.statusCode === "number" && err.statusCode === 400)) {
    return new VaultError("BAD_REQUEST", "malformed request body");
  }
  if (typeof err.statusCode === "number" && err.statusCode === 415)
    return new VaultError("UNSUPPORTED_MEDIA_TYPE", msg);
  if (typeof err.statusCode === "number" && err.statusCode === 413)
    return new VaultError("PAYLOAD_TOO_LARGE", msg);
  return undefined;
}

export function errorBody(e: VaultError, requestId: string): { status: number; body: ErrorBody } {
  const status = statusFor(e.code);
  if (status >= 500 && !RETRYABLE.has(e.code)) {
    return { status, body: { error: { code: "INTERNAL", message: "internal error", requestId } } };
  }
  return { status, body: { error: { code: e.code, message: e.message, requestId } } };
}
