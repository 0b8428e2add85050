/**
 * The JSON body parser. Nesting depth is bounded while the bytes arrive, before anything recursive
 * (JSON.parse's reviver, structuredClone, schema validation, deep comparison) sees the body: a
 * body nested deeper than MAX_JSON_DEPTH is refused with 400 at the first byte past the bound,
 * however long it is. Size and Content-Length are checked as Fastify's own parser does.
 */
import type { FastifyRequest } from "fastify";
import { VaultError } from "../errors.js";

/** Far deeper than any route's schema; far shallower than what overflows a recursive walk. */
export const MAX_JSON_DEPTH = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPENERS = new Set([0x5b, 0x7b]);
const CLOSERS = new Set([0x5d, 0x7d]);

/** Tracks depth across chunks (strings and escapes may span chunk boundaries). */
export class DepthScanner {
  #depth = 0;
  #inString = false;
  #escaped = false;

  /** Scans a chunk; false once the depth bound is exceeded. */
  scan(chunk: Uint8Array): boolean {
    for (const b of chunk) {
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (b === BACKSLASH) this.#escaped = true;
        else if (b === QUOTE) this.#inString = false;
      } else if (b === QUOTE) this.#inString = true;
      else if (OPENERS.has(b)) {
        if (++this.#depth > MAX_JSON_DEPTH) return false;
      } else if (CLOSERS.has(b)) this.#depth--;
    }
    return true;
  }
}

/** Refuses prototype-poisoning keys, as Fastify's default parser does. */
function reviver(key: string, value: unknown): unknown {
  const proto =
    key === "constructor" && value !== null && typeof value === "object" && Object.hasOwn(value, "prototype");
  if (key === "__proto__" || proto) throw new VaultError("BAD_REQUEST", "malformed request body");
  return value;
}

type Done = (err: Error | null, body?: unknown) => void;

export function parseJsonBody(req: FastifyRequest, payload: NodeJS.ReadableStream, done: Done): void {
  // The route's own limit, or the server's default (Fastify fills it in).
  const limit = req.routeOptions.bodyLimit;
  const declaredHeader = req.headers["content-length"];
  const declared = declaredHeader === undefined ? undefined : Number(declaredHeader);
  if (declared !== undefined && declared > limit) {
    done(new VaultError("PAYLOAD_TOO_LARGE", "request body too large"));
    return;
  }
  const scanner = new DepthScanner();
  const parts: Buffer[] = [];
  let received = 0;
  let finished = false;
  const finish = (err: Error | null, body?: unknown) => {
    if (finished) return;
    finished = true;
    payload.removeListener("data", onData);
    payload.removeListener("end", onEnd);
    payload.removeListener("error", onError);
    done(err, body);
  };
  function onData(chunk: Buffer | string) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    received += buf.length;
    // Depth first: it trips at the first byte past the bound, wherever the size limit lies.
    if (!scanner.scan(buf))
      finish(new VaultError("BAD_REQUEST", `JSON nested deeper than ${MAX_JSON_DEPTH} levels`));
    else if (received > limit) finish(new VaultError("PAYLOAD_TOO_LARGE", "request body too large"));
    else parts.push(buf);
  }
  function onEnd() {
    if (declared !== undefined && received !== declared) {
      finish(new VaultError("BAD_REQUEST", "request body length does not match Content-Length"));
      return;
    }
    const text = Buffer.concat(parts).toString("utf8");
    if (text.trim() === "") {
      finish(new VaultError("BAD_REQUEST", "empty JSON body"));
      return;
    }
    try {
      finish(null, JSON.parse(text, reviver));
    } catch (e) {
      finish(e instanceof VaultError ? e : new VaultError("BAD_REQUEST", "malformed request body"));
    }
  }
  function onError(err: Error) {
    finish(err);
  }
  payload.on("data", onData);
  payload.on("end", onEnd);
  payload.on("error", onError);
}
