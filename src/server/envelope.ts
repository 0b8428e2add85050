/**
 * The security headers and the error envelope, for every response: those made by routes and hooks
 * (onSend adds the headers) and those Fastify or Node's HTTP parser make before any route or hook
 * runs (bad URL encoding, over-long parameters, malformed HTTP, oversized headers, timeouts),
 * which are written here. No error message ever repeats the request's path.
 */
import { randomBytes } from "node:crypto";
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import type { FastifyReply, FastifyRequest } from "fastify";
import { VaultError, type ErrorCode } from "../errors.js";
import { errorBody } from "./errors.js";

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "strict-transport-security": "max-age=63072000; includeSubDomains",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
  "cross-origin-resource-policy": "same-origin",
  "cache-control": "no-store",
};

export const newRequestId = (): string => randomBytes(12).toString("hex");

/** Errors Fastify raises while routing (its `frameworkErrors` hook; no onSend hook runs there). */
export function frameworkError(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const code = (err as { code?: unknown }).code;
  const ve =
    code === "FST_ERR_BAD_URL"
      ? new VaultError("BAD_REQUEST", "the URL is not validly percent-encoded")
      : code === "FST_ERR_MAX_PARAM_LENGTH"
        ? new VaultError("URI_TOO_LONG", "a path parameter is longer than any valid one")
        : new VaultError("INTERNAL", "routing failed");
  if (ve.code === "INTERNAL") req.log.error({ err }, "routing failed");
  const { status, body } = errorBody(ve, req.id);
  void reply
    .headers({ ...SECURITY_HEADERS, "x-request-id": req.id })
    .code(status)
    .type("application/json")
    .send(body);
}

function clientErrorCode(code: unknown): ErrorCode {
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return "REQUEST_TIMEOUT";
  if (code === "HPE_HEADER_OVERFLOW") return "HEADERS_TOO_LARGE";
  return "BAD_REQUEST";
}

const MESSAGES: Partial<Record<ErrorCode, string>> = {
  REQUEST_TIMEOUT: "the request was not received in time",
  HEADERS_TOO_LARGE: "request headers too large",
  BAD_REQUEST: "malformed HTTP request",
};

/**
 * Node's `clientError`: the request could not be parsed or arrived too slowly. The socket gets
 * one complete HTTP/1.1 response (envelope and headers), then is closed.
 */
export function clientError(err: Error & { code?: unknown }, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  if (socket.writable) {
    const code = clientErrorCode(err.code);
    const id = newRequestId();
    const { status, body } = errorBody(new VaultError(code, MESSAGES[code] ?? "bad request"), id);
    const json = JSON.stringify(body);
    const headers: Record<string, string> = {
      ...SECURITY_HEADERS,
      "x-request-id": id,
      "content-type": "application/json; charset=utf-8",
      "content-length": String(Buffer.byteLength(json)),
      connection: "close",
    };
    const head = Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("");
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n${head}\r\n${json}`);
  }
  socket.destroy();
}
