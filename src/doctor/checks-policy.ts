/**
 * Doctor check of the operator's own Cedar policies (DATA_DIR/policies and `--policies`): a
 * `permit` broader than the shipped defaults. The shipped set gives data only under conditions
 * on purpose and consent (policies/default.cedar); an added permit without them widens access
 * for every request it matches, and forbids in the defaults stop only what they name.
 * Policies are read in Cedar's JSON form (policyToJson), not by pattern on their text.
 */
import { DEFAULT_POLICY_DIR, PolicyEngine } from "../policy/engine.js";
import * as cedar from "@cedar-policy/cedar-wasm/nodejs";
import path from "node:path";
import type { Finding } from "./finding.js";

/** Actions through which voice-derived data leaves the vault. */
const EGRESS = new Set(["derivation.read", "dataset.pull", "speaker.verify"]);

interface PolicyJson {
  readonly effect: "permit" | "forbid";
  readonly principal: { readonly op: string };
  readonly action: {
    readonly op: string;
    readonly entity?: { readonly id: string };
    readonly entities?: readonly { readonly id: string }[];
  };
  readonly conditions: readonly unknown[];
}

/** The actions a policy's scope names (undefined: every action). */
function actionsOf(p: PolicyJson): string[] | undefined {
  if (p.action.op === "All") return undefined;
  if (p.action.entities) return p.action.entities.map((e) => e.id);
  return p.action.entity ? [p.action.entity.id] : [];
}

/** Whether an expression (Cedar JSON) reads an attribute named like `purpose`. */
function mentionsPurpose(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(mentionsPurpose);
  if (node === null || typeof node !== "object") return false;
  for (const [k, v] of Object.entries(node)) {
    if (k === "attr" && typeof v === "string" && /purpose/i.test(v)) return true;
    if (mentionsPurpose(v)) return true;
  }
  return false;
}

export async function checkPolicies(dirs: readonly string[]): Promise<Finding[]> {
  if (dirs.length === 0) return [];
  const engine = await PolicyEngine.load({ dirs });
  const shipped = path.resolve(DEFAULT_POLICY_DIR);
  const out: Finding[] = [];
  for (const policy of engine.policies) {
    if (path.resolve(path.dirname(policy.file)) === shipped) continue;
    const parsed = cedar.policyToJson(policy.text);
    if (parsed.type !== "success") continue; // loaded above, so it parses
    const p = parsed.json as unknown as PolicyJson;
    if (p.effect !== "permit") continue;
    const actions = actionsOf(p);
    const where = `policy ${policy.id} (${policy.file})`;
    if (p.conditions.length === 0 && (actions === undefined || p.principal.op === "All")) {
      out.push({
        rule: "access.policy-unconditional",
        severity: "high",
        area: "access",
        what: `${where} permits ${actions === undefined ? "every action" : actions.join(", ")} to ${p.principal.op === "All" ? "every principal" : "a whole role"} without any condition`,
        why: "the shipped policies permit nothing without a role and a condition; this one opens more than any of them",
        fix: "name the principal type and the actions, and add `when { … }` conditions (purpose, consent, subject); check with voxvault policy check DIR",
        location: policy.file,
      });
      continue;
    }
    const egress = actions === undefined ? [...EGRESS] : actions.filter((a) => EGRESS.has(a));
    if (egress.length > 0 && !mentionsPurpose(p.conditions))
      out.push({
        rule: "access.policy-no-purpose",
        severity: "high",
        area: "access",
        what: `${where} permits ${egress.join(", ")} with no condition on purpose`,
        why: "purpose decides the data: a consumer let through without it receives derivations no consented purpose allows",
        fix: "add a condition on the purpose as the default consumer policies do (`principal.purposes.contains(context.purpose)`, policies/default.cedar), or remove the policy",
        location: policy.file,
      });
  }
  return out;
}
