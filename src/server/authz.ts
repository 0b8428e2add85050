/**
 * Building Cedar requests from vault state: the principal entity (with its subject or its
 * application and purposes), the resource entity, and the context (declared purpose, the purpose's
 * derivations, consent, budget room and break-glass), then turning a deny into 403 — or 404 when a
 * contractor asks about another subject, so ids of others are not confirmed.
 */
import type { Authenticated } from "../access/tokens.js";
import { VaultError } from "../errors.js";
import { uid, type CedarValue, type PolicyEngine, type RequestEntity } from "../policy/engine.js";
import type { SubjectsTable } from "../store/meta/schema.js";
import type { Vault } from "../platform/vault.js";
import type { ReadEventRecorder } from "./read-events.js";
import type { ResolvedResource } from "./route.js";

const ROLE_TYPE = {
  contractor: "Contractor",
  operator: "Operator",
  consumer: "Consumer",
  auditor: "Auditor",
  admin: "Admin",
} as const;

export function subjectEntity(s: Pick<SubjectsTable, "id" | "tenant" | "status">): RequestEntity {
  return { ...uid("Subject", s.id), attrs: { tenant: s.tenant, status: s.status } };
}

export function principalEntity(
  auth: Authenticated,
  tenant = "",
): { entity: RequestEntity; extra: RequestEntity[] } {
  const p = auth.principal;
  const type = ROLE_TYPE[p.role];
  if (p.role === "contractor") {
    const subject = uid("Subject", auth.token.subjectId ?? p.subjectId ?? "none");
    return { entity: { ...uid(type, p.id), attrs: { subject: { __entity: subject } } }, extra: [] };
  }
  if (p.role === "consumer") {
    return {
      entity: {
        ...uid(type, p.id),
        attrs: { application: p.application ?? "", purposes: [...auth.token.purposes], tenant },
      },
      extra: [],
    };
  }
  return { entity: uid(type, p.id), extra: [] };
}

export const VAULT_ENTITY: RequestEntity = uid("Vault", "vault");
export const AUDIT_LOG_ENTITY: RequestEntity = uid("AuditLog", "log");

export interface DecisionInput {
  readonly vault: Vault;
  readonly engine: PolicyEngine;
  readonly auth: Authenticated;
  readonly action: string;
  readonly resource: ResolvedResource;
  readonly purpose: string | undefined;
  readonly breakGlassRequest: string | undefined;
  /** Commits `access.granted` events (group commit, see read-events.ts). */
  readonly recordRead: ReadEventRecorder;
}

async function breakGlassLive(vault: Vault, input: DecisionInput): Promise<boolean> {
  if (!input.breakGlassRequest || input.auth.principal.role !== "operator") return false;
  const r = input.resource;
  if (!r.derivation?.reconstructable || !r.subject) return false;
  try {
    const req = await vault.access.breakglass.get(input.breakGlassRequest);
    return (
      req.status === "granted" &&
      req.requesterId === input.auth.principal.id &&
      req.subjectId === r.subject.id &&
      req.material === r.derivation.name
    );
  } catch {
    return false;
  }
}

/**
 * Exactly the error the resource's loader gives for an id that does not exist (resources.ts,
 * loadSubject), so a refused contractor cannot tell another subject's ids from unused ones.
 */
function unknownId(resource: ResolvedResource): VaultError {
  const { type, id } = resource.entity;
  if (type === "Voxvault::Subject") return new VaultError("SUBJECT_NOT_FOUND", `no subject ${id}`);
  return new VaultError("NOT_FOUND", `no ${type.replace("Voxvault::", "").toLowerCase()} ${id}`);
}

/** The same request with the subject's entity (resource or parent) marked active. */
function asIfActive<R extends { resource: RequestEntity; entities: RequestEntity[] }>(
  request: R,
  subjectId: string,
): R {
  const active = (e: RequestEntity): RequestEntity =>
    e.type === "Voxvault::Subject" && e.id === subjectId
      ? { ...e, attrs: { ...e.attrs, status: "active" } }
      : e;
  return { ...request, resource: active(request.resource), entities: request.entities.map(active) };
}

export async function decide(
  input: DecisionInput,
): Promise<{ context: Record<string, CedarValue>; purpose: string }> {
  const { vault, auth, resource } = input;
  const purpose = input.purpose ?? "";
  const purposes = vault.abstraction.purposes;
  if (purpose !== "" && !Object.hasOwn(purposes, purpose))
    throw new VaultError("BAD_REQUEST", `unknown purpose ${purpose}`);
  const consentActive =
    purpose !== "" && resource.subject
      ? await vault.access.consentActive(resource.subject.id, purpose)
      : false;
  const budget =
    auth.principal.role === "consumer" && purpose !== ""
      ? await vault.access.serving.budgets.room(auth.principal.id, purpose)
      : undefined;
  const budgetOk = budget?.ok ?? true;
  const context: Record<string, CedarValue> = {
    purpose,
    purposeDerivations: purpose === "" ? [] : [...(purposes[purpose]?.derivations ?? [])],
    consentActive,
    budgetOk,
    breakGlass: await breakGlassLive(vault, input),
    nowSec: Math.floor(vault.now().getTime() / 1000),
  };
  const consumerTenant =
    auth.principal.role === "consumer"
      ? await vault.access.applicationTenant(auth.principal.application)
      : "";
  const principal = principalEntity(auth, consumerTenant);
  const entities = [...principal.extra, ...(resource.entities ?? [])];
  if (auth.principal.role === "contractor" && resource.entity.type !== "Voxvault::Subject") {
    // The contractor's own subject entity, so `resource.subject == principal.subject` can be evaluated.
    const own = auth.token.subjectId ?? auth.principal.subjectId;
    if (own && !entities.some((e) => e.type === "Voxvault::Subject" && e.id === own)) {
      entities.push({ ...uid("Subject", own), attrs: { tenant: "", status: "active" } });
    }
  }
  const request = {
    principal: principal.entity,
    action: input.action,
    resource: resource.entity,
    context,
    entities,
  };
  const decision = input.engine.authorize(request);
  if (
    !decision.allowed &&
    budget &&
    !budget.ok &&
    input.engine.authorize({ ...request, context: { ...context, budgetOk: true } }).allowed
  ) {
    // The budget is the only reason: the same 429 (event, Retry-After, strike) as a refused charge.
    return vault.access.serving.budgets.refuse(
      { principal: auth.principal, tokenId: auth.token.id },
      purpose,
      budget,
    );
  }
  if (
    !decision.allowed &&
    resource.subject !== undefined &&
    resource.subject.status !== "active" &&
    input.engine.authorize(asIfActive(request, resource.subject.id)).allowed
  ) {
    // The subject's status is the only reason (guard rail `no-…-of-inactive-subjects`): the
    // same 410 the handlers give when a shred lands between authorization and the read.
    throw new VaultError("SUBJECT_SHREDDED", "subject is no longer active");
  }
  if (!decision.allowed) {
    const otherSubject =
      auth.principal.role === "contractor" &&
      resource.subject !== undefined &&
      resource.subject.id !== (auth.token.subjectId ?? auth.principal.subjectId);
    await vault.audit.recordAccess([
      {
        actor: vault.actor,
        event: {
          type: "access.denied",
          action: input.action,
          resource: `${resource.entity.type.replace("Voxvault::", "")}:${resource.entity.id}`,
          // The subject concerned sees the denial in its own log view (transparency for contractors).
          ...(resource.subject ? { subjectId: resource.subject.id } : {}),
          reason: decision.reasons.length ? decision.reasons.join(",") : "no permit",
        },
      },
    ]);
    if (otherSubject) throw unknownId(resource);
    // A consumer learns about consent only for a purpose it holds, and only for subjects of its
    // own tenant: anything else is the same FORBIDDEN, so consent states do not leak.
    if (
      auth.principal.role === "consumer" &&
      purpose !== "" &&
      !consentActive &&
      resource.subject &&
      auth.token.purposes.includes(purpose) &&
      consumerTenant === resource.subject.tenant
    ) {
      throw new VaultError("CONSENT_REQUIRED", `no active consent for ${purpose}`);
    }
    throw new VaultError("FORBIDDEN", `not allowed: ${input.action}`);
  }
  if (AUDITED_READS.has(input.action) && !ownSubject(auth, resource)) {
    await input.recordRead(vault, {
      type: "access.granted",
      action: input.action,
      resource: `${resource.entity.type.replace("Voxvault::", "")}:${resource.entity.id}`,
      ...(resource.subject ? { subjectId: resource.subject.id } : {}),
    });
  }
  return { context, purpose };
}

/**
 * Reads whose handlers record no event of their own. Content reads (`derivation.read`,
 * `dataset.pull`) record `derivation.served`; proofs are hashes anyone may fetch.
 */
const AUDITED_READS: ReadonlySet<string> = new Set([
  "subject.read",
  "subject.list",
  "consent.read",
  "recording.list",
  "derivation.list",
  "audit.read",
  "audit.subject",
  "token.list",
  "application.list",
  "policy.read",
  "breakglass.list",
]);

/** A contractor acting on its own subject (its own reads are not logged as accesses). */
function ownSubject(auth: Authenticated, resource: ResolvedResource): boolean {
  return (
    auth.principal.role === "contractor" &&
    resource.subject?.id === (auth.token.subjectId ?? auth.principal.subjectId)
  );
}
