/** OpenAPI 3.1 from the route declarations (JSON Schema 2020-12 is OpenAPI 3.1's schema dialect). */
import type { RateClass, RateLimit } from "../access/http-config.js";
import type { AnyRoute, ResponseSpec } from "./route.js";
import { ErrorSchema } from "./app.js";

const STATUS_TEXT: Record<number, string> = { 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content" };

const RAW_SCHEMA = {
  json: { type: "object" },
  text: { type: "string" },
  binary: { type: "string", format: "binary" },
} as const;

function toPath(url: string): string {
  return url.replace(/:([A-Za-z]+)/g, "{$1}");
}

function parameters(spec: AnyRoute): unknown[] {
  const out: unknown[] = [];
  const add = (where: "path" | "query", schema: unknown) => {
    const s = schema as { properties?: Record<string, unknown>; required?: string[] } | undefined;
    for (const [name, p] of Object.entries(s?.properties ?? {})) {
      out.push({
        name,
        in: where,
        required: where === "path" || (s?.required ?? []).includes(name),
        schema: p,
      });
    }
  };
  add("path", spec.params);
  add("query", spec.query);
  return out;
}

export function buildOpenApi(
  routes: readonly AnyRoute[],
  version: string,
  limits?: Readonly<Record<RateClass, RateLimit>>,
): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const responses: Record<string, unknown> = {};
    for (const [status, spec] of Object.entries<ResponseSpec>(r.response)) {
      responses[status] =
        "raw" in spec
          ? {
              description: spec.description,
              content: Object.fromEntries(
                Object.entries(spec.content).map(([type, kind]) => [type, { schema: RAW_SCHEMA[kind] }]),
              ),
            }
          : {
              description: STATUS_TEXT[Number(status)] ?? "response",
              content: { "application/json": { schema: spec } },
            };
    }
    responses["4XX"] = {
      description: "client error",
      content: { "application/json": { schema: ErrorSchema } },
    };
    responses["5XX"] = {
      description: "server error (generic; see the request id)",
      content: { "application/json": { schema: ErrorSchema } },
    };
    const op: Record<string, unknown> = {
      summary: r.summary,
      tags: [...r.tags],
      operationId: `${r.method.toLowerCase()}${toPath(r.url).replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ""))}`,
      parameters: parameters(r),
      responses,
      security: r.auth === "public" ? [] : [{ bearer: [] }],
      "x-voxvault-action": r.auth === "token" ? r.action : null,
      // The limits in force (vault.json may change a class's numbers).
      "x-voxvault-rate-limit": { class: r.rateLimit.class, ...(limits?.[r.rateLimit.class] ?? r.rateLimit) },
    };
    const consumes = r.consumes ?? (r.body ? ["application/json"] : []);
    if (consumes.length > 0) {
      op.requestBody = {
        required: true,
        content: Object.fromEntries(
          consumes.map((c) => [
            c,
            { schema: c === "application/json" ? r.body : { type: "string", format: "binary" } },
          ]),
        ),
      };
    }
    (paths[toPath(r.url)] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "voxvault API",
      version,
      description: "A vault for voice data. Every route is authorised by Cedar policies and audited.",
    },
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "vvt_/vvs_ tokens" } },
    },
    paths,
  };
}
