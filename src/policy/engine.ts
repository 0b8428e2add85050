/**
 * Authorization through Cedar (@cedar-policy/cedar-wasm). The schema and the default policies ship
 * in `policies/`; operators add `.cedar` files in further directories. At load, every policy is
 * parsed and validated (strict mode) against the schema — an invalid set refuses to load — and the
 * set is pre-parsed once so each decision is a `statefulIsAuthorized` call. Decisions are cached
 * by the exact request (principal, action, resource, context), so a change of consent, budget or
 * break-glass state is a different key, never a stale answer; the cache is per policy set.
 */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as cedar from "@cedar-policy/cedar-wasm/nodejs";
import { VaultError } from "../errors.js";

export const DEFAULT_POLICY_DIR = fileURLToPath(new URL("../../policies/", import.meta.url));
const NS = "Voxvault";

export type CedarValue = cedar.CedarValueJson;

export interface EntityRef {
  readonly type: string;
  readonly id: string;
}

export interface RequestEntity extends EntityRef {
  readonly attrs?: Readonly<Record<string, CedarValue>>;
  readonly parents?: readonly EntityRef[];
}

export interface AuthzRequest {
  readonly principal: RequestEntity;
  readonly action: string;
  readonly resource: RequestEntity;
  readonly context: Readonly<Record<string, CedarValue>>;
  /** Further entities referenced by attributes (e.g. the Subject a Contractor is bound to). */
  readonly entities?: readonly RequestEntity[];
}

export interface AuthzDecision {
  readonly allowed: boolean;
  /** Ids of the policies that decided (permit reasons, or the forbid that won). */
  readonly reasons: readonly string[];
}

export interface LoadedPolicy {
  readonly id: string;
  readonly file: string;
  readonly text: string;
}

let setCounter = 0;

function errorText(errors: readonly cedar.DetailedError[]): string {
  return errors.map((e) => e.message).join("; ");
}

export const uid = (type: string, id: string): EntityRef => ({ type: `${NS}::${type}`, id });

function toEntity(e: RequestEntity): cedar.EntityJson {
  return {
    uid: { type: e.type, id: e.id },
    attrs: { ...(e.attrs ?? {}) },
    parents: (e.parents ?? []).map((p) => ({ type: p.type, id: p.id })),
  };
}

export class PolicyEngine {
  readonly hash: string;
  readonly policies: readonly LoadedPolicy[];
  readonly #setId: string;
  readonly #schemaId: string;
  readonly #cache = new Map<string, AuthzDecision>();
  readonly #maxCache: number;

  private constructor(
    hash: string,
    policies: LoadedPolicy[],
    setId: string,
    schemaId: string,
    maxCache: number,
  ) {
    this.hash = hash;
    this.policies = policies;
    this.#setId = setId;
    this.#schemaId = schemaId;
    this.#maxCache = maxCache;
  }

  /** Loads and validates the schema and every `.cedar` file of the given directories. */
  static async load(
    options: { dirs?: readonly string[]; cacheEntries?: number } = {},
  ): Promise<PolicyEngine> {
    const dirs = [DEFAULT_POLICY_DIR, ...(options.dirs ?? [])];
    const schemaText = await fs.readFile(path.join(DEFAULT_POLICY_DIR, "schema.cedarschema"), "utf8");
    const parsedSchema = cedar.checkParseSchema(schemaText);
    if (parsedSchema.type !== "success")
      throw new VaultError("POLICY_INVALID", `schema: ${errorText(parsedSchema.errors)}`);
    const policies: LoadedPolicy[] = [];
    const seen = new Set<string>();
    for (const dir of dirs) {
      let files: string[];
      try {
        files = (await fs.readdir(dir)).filter((f) => f.endsWith(".cedar")).sort();
      } catch (e) {
        throw new VaultError("POLICY_INVALID", `cannot read policy directory ${dir}`, { cause: e });
      }
      for (const f of files) {
        const file = path.join(dir, f);
        const text = await fs.readFile(file, "utf8");
        const parts = cedar.policySetTextToParts(text);
        if (parts.type !== "success")
          throw new VaultError("POLICY_INVALID", `${file}: ${errorText(parts.errors)}`);
        if (parts.policy_templates.length > 0)
          throw new VaultError("POLICY_INVALID", `${file}: templates are not supported`);
        for (const p of parts.policies) {
          const id = /@id\("([^"]+)"\)/.exec(p)?.[1];
          if (!id)
            throw new VaultError("POLICY_INVALID", `${file}: every policy needs an @id("...") annotation`);
          if (seen.has(id)) throw new VaultError("POLICY_INVALID", `${file}: duplicate policy id ${id}`);
          seen.add(id);
          policies.push({ id, file, text: p });
        }
      }
    }
    if (policies.length === 0) throw new VaultError("POLICY_INVALID", "no policies");
    const staticPolicies: Record<string, string> = {};
    for (const p of policies) staticPolicies[p.id] = p.text;
    const validation = cedar.validate({
      schema: schemaText,
      policies: { staticPolicies },
      validationSettings: { mode: "strict" },
    });
    if (validation.type !== "success") throw new VaultError("POLICY_INVALID", errorText(validation.errors));
    if (validation.validationErrors.length > 0) {
      const first = validation.validationErrors[0]!;
      throw new VaultError("POLICY_INVALID", `policy ${first.policyId}: ${first.error.message}`);
    }
    const setId = `voxvault-${++setCounter}`;
    const schemaId = `voxvault-schema-${setCounter}`;
    const pre = cedar.preparsePolicySet(setId, { staticPolicies });
    if (pre.type !== "success") throw new VaultError("POLICY_INVALID", errorText(pre.errors));
    const preSchema = cedar.preparseSchema(schemaId, schemaText);
    if (preSchema.type !== "success") throw new VaultError("POLICY_INVALID", errorText(preSchema.errors));
    const hash = createHash("sha256")
      .update(schemaText)
      .update(policies.map((p) => `${p.id}\n${p.text}`).join("\n\0"))
      .digest("hex");
    return new PolicyEngine(hash, policies, setId, schemaId, options.cacheEntries ?? 50_000);
  }

  /** Decides a request; never throws for a deny. Unknown or ill-typed requests are denied. */
  authorize(req: AuthzRequest): AuthzDecision {
    const key = JSON.stringify([req.principal, req.action, req.resource, req.context, req.entities ?? null]);
    const hit = this.#cache.get(key);
    if (hit) return hit;
    const entities = [req.principal, req.resource, ...(req.entities ?? [])].map(toEntity);
    const answer = cedar.statefulIsAuthorized({
      principal: { type: req.principal.type, id: req.principal.id },
      action: { type: `${NS}::Action`, id: req.action },
      resource: { type: req.resource.type, id: req.resource.id },
      context: { ...req.context },
      entities,
      preparsedPolicySetId: this.#setId,
      preparsedSchemaName: this.#schemaId,
      validateRequest: true,
    });
    let decision: AuthzDecision;
    if (answer.type !== "success") {
      // A request the schema rejects is a programming error upstream; deny, never allow.
      decision = { allowed: false, reasons: [`invalid request: ${errorText(answer.errors)}`] };
    } else {
      decision = {
        allowed: answer.response.decision === "allow",
        reasons: answer.response.diagnostics.reason,
      };
    }
    if (this.#cache.size >= this.#maxCache) this.#cache.clear();
    this.#cache.set(key, decision);
    return decision;
  }

  /** Authorizes without the decision cache (benchmarks and tests of the cache itself). */
  authorizeUncached(req: AuthzRequest): AuthzDecision {
    this.#cache.clear();
    return this.authorize(req);
  }
}

/** `voxvault policy check DIR`: loads the defaults plus DIR and reports. */
export async function checkPolicyDir(dir: string): Promise<{ hash: string; policies: number }> {
  const engine = await PolicyEngine.load({ dirs: [dir] });
  return { hash: engine.hash, policies: engine.policies.length };
}
