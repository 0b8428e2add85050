/**
 * Audit events as OCSF (Open Cybersecurity Schema Framework, schema 1.3.0) JSON objects, one per
 * line, for SIEMs (docs/tlog.md §16). Each carries its leaf index (`metadata.sequence` and
 * `unmapped.voxvault.leaf_index`) so that any line can later be proven against a checkpoint.
 *
 * Classes used (category, class_uid, activity_id):
 *   Account Change (IAM 3, 3001): the contractor's record — Create 1, Enable 2, Disable 5, Delete 6
 *   Entity Management (IAM 3, 3004): the vault, its keys, the log — Create 1, Update 3, Delete 4
 *   API Activity (Application 6, 6003): access to a subject's data — Create 1, Read 2, Update 3,
 *     Delete 4; event types this table does not know yet map here as Other (99).
 * type_uid = class_uid * 100 + activity_id (OCSF base event).
 */
import type { RecordedEvent } from "./record.js";

export const OCSF_VERSION = "1.3.0";

type ClassName = "Account Change" | "Authentication" | "Entity Management" | "API Activity";
interface Mapping {
  readonly cls: ClassName;
  readonly activity: number;
  readonly activityName: string;
  /** For Entity Management: the managed entity's type, and the payload member naming it. */
  readonly entity?: string;
  readonly entityId?: string;
  /** The event records a refusal: OCSF status Failure. */
  readonly failure?: true;
}

const CLASS: Record<
  ClassName,
  { readonly uid: number; readonly category: number; readonly categoryName: string }
> = {
  "Account Change": { uid: 3001, category: 3, categoryName: "Identity & Access Management" },
  Authentication: { uid: 3002, category: 3, categoryName: "Identity & Access Management" },
  "Entity Management": { uid: 3004, category: 3, categoryName: "Identity & Access Management" },
  "API Activity": { uid: 6003, category: 6, categoryName: "Application Activity" },
};

const MAP: Readonly<Record<string, Mapping>> = {
  "vault.initialized": { cls: "Entity Management", activity: 1, activityName: "Create", entity: "vault" },
  "subject.created": { cls: "Account Change", activity: 1, activityName: "Create" },
  "subject.shred_scheduled": { cls: "Account Change", activity: 5, activityName: "Disable" },
  "subject.shred_cancelled": { cls: "Account Change", activity: 2, activityName: "Enable" },
  "subject.shredded": { cls: "Account Change", activity: 6, activityName: "Delete" },
  "subject.records_erased": { cls: "API Activity", activity: 4, activityName: "Delete" },
  "subject.reference_revealed": { cls: "API Activity", activity: 2, activityName: "Read" },
  "subject.looked_up": { cls: "API Activity", activity: 2, activityName: "Read" },
  "blob.written": { cls: "API Activity", activity: 1, activityName: "Create" },
  "blob.read": { cls: "API Activity", activity: 2, activityName: "Read" },
  "blobs.removed": { cls: "API Activity", activity: 4, activityName: "Delete" },
  "recording.ingested": { cls: "API Activity", activity: 1, activityName: "Create" },
  "upload.queued": { cls: "API Activity", activity: 1, activityName: "Create" },
  "upload.failed": { cls: "API Activity", activity: 4, activityName: "Delete" },
  "import.started": { cls: "API Activity", activity: 1, activityName: "Create" },
  "import.object": { cls: "API Activity", activity: 1, activityName: "Create" },
  "import.finished": { cls: "API Activity", activity: 3, activityName: "Update" },
  "speaker.verified": { cls: "API Activity", activity: 2, activityName: "Read" },
  "retention.expired": { cls: "API Activity", activity: 4, activityName: "Delete" },
  "keys.root_rotated": { cls: "Entity Management", activity: 3, activityName: "Update", entity: "root_key" },
  "keys.root_version_destroyed": {
    cls: "Entity Management",
    activity: 4,
    activityName: "Delete",
    entity: "root_key",
  },
  "keys.subject_rotated": {
    cls: "Entity Management",
    activity: 3,
    activityName: "Update",
    entity: "subject_key",
  },
  "keys.retention_epochs_destroyed": {
    cls: "Entity Management",
    activity: 4,
    activityName: "Delete",
    entity: "retention_key",
  },
  "keys.root_rotation_started": {
    cls: "Entity Management",
    activity: 3,
    activityName: "Update",
    entity: "root_key",
  },
  "keys.root_generation_rotated": {
    cls: "Entity Management",
    activity: 3,
    activityName: "Update",
    entity: "root_key",
  },
  "keys.root_generation_destroyed": {
    cls: "Entity Management",
    activity: 4,
    activityName: "Delete",
    entity: "root_key",
  },
  "keys.punctures_applied": {
    cls: "Entity Management",
    activity: 3,
    activityName: "Update",
    entity: "root_key",
  },
  "keys.generation_received": {
    cls: "Entity Management",
    activity: 1,
    activityName: "Create",
    entity: "root_key",
  },
  "keys.host_joined": {
    cls: "Entity Management",
    activity: 1,
    activityName: "Create",
    entity: "key_host",
    entityId: "hostId",
  },
  "keys.host_approved": {
    cls: "Entity Management",
    activity: 3,
    activityName: "Update",
    entity: "key_host",
    entityId: "hostId",
  },
  "keys.host_revoked": {
    cls: "Entity Management",
    activity: 4,
    activityName: "Delete",
    entity: "key_host",
    entityId: "hostId",
  },
  "keys.host_key_rotated": {
    cls: "Entity Management",
    activity: 3,
    activityName: "Update",
    entity: "key_host",
    entityId: "hostId",
  },
  "keys.secret_rotated": {
    cls: "Entity Management",
    activity: 3,
    activityName: "Update",
    entity: "vault_secret",
    entityId: "name",
  },
  "keys.upgraded": { cls: "Entity Management", activity: 3, activityName: "Update", entity: "root_key" },
  "vault.restored": { cls: "Entity Management", activity: 3, activityName: "Update", entity: "vault" },
  "keys.quorum_reshared": {
    cls: "Entity Management",
    activity: 3,
    activityName: "Update",
    entity: "root_key",
  },
  "keys.root_migrated": { cls: "Entity Management", activity: 3, activityName: "Update", entity: "root_key" },
  "vault.unsealed": { cls: "Entity Management", activity: 3, activityName: "Update", entity: "vault" },
  "vault.sealed": { cls: "Entity Management", activity: 3, activityName: "Update", entity: "vault" },
  "log.key_rotated": {
    cls: "Entity Management",
    activity: 3,
    activityName: "Update",
    entity: "log_signing_key",
  },
  "log.witness_added": {
    cls: "Entity Management",
    activity: 1,
    activityName: "Create",
    entity: "log_witness",
  },
  "log.witness_removed": {
    cls: "Entity Management",
    activity: 4,
    activityName: "Delete",
    entity: "log_witness",
  },
  // Access layer (HTTP API): tokens, consent, break-glass, refusals.
  "token.created": {
    cls: "Entity Management",
    activity: 1,
    activityName: "Create",
    entity: "token",
    entityId: "tokenId",
  },
  "token.revoked": {
    cls: "Entity Management",
    activity: 4,
    activityName: "Delete",
    entity: "token",
    entityId: "tokenId",
  },
  "token.suspended": {
    cls: "Entity Management",
    activity: 3,
    activityName: "Update",
    entity: "token",
    entityId: "tokenId",
  },
  "enrolment.completed": { cls: "Account Change", activity: 2, activityName: "Enable" },
  "application.registered": {
    cls: "Entity Management",
    activity: 1,
    activityName: "Create",
    entity: "application",
    entityId: "application",
  },
  "consent.granted": { cls: "Account Change", activity: 7, activityName: "Attach Policy" },
  "consent.revoked": { cls: "Account Change", activity: 8, activityName: "Detach Policy" },
  "consent.text_published": {
    cls: "Entity Management",
    activity: 1,
    activityName: "Create",
    entity: "consent_text",
    entityId: "purpose",
  },
  "passkey.registered": { cls: "Account Change", activity: 10, activityName: "MFA Factor Enable" },
  "passkey.used": { cls: "Authentication", activity: 1, activityName: "Logon" },
  "passkey.reset": { cls: "Account Change", activity: 11, activityName: "MFA Factor Disable" },
  "access.denied": { cls: "API Activity", activity: 99, activityName: "Other", failure: true },
  "access.granted": { cls: "API Activity", activity: 2, activityName: "Read" },
  "budget.exceeded": { cls: "API Activity", activity: 99, activityName: "Other", failure: true },
  "derivation.served": { cls: "API Activity", activity: 2, activityName: "Read" },
  "breakglass.requested": {
    cls: "Entity Management",
    activity: 1,
    activityName: "Create",
    entity: "breakglass_request",
    entityId: "requestId",
  },
  "breakglass.decided": {
    cls: "Entity Management",
    activity: 3,
    activityName: "Update",
    entity: "breakglass_request",
    entityId: "requestId",
  },
  "breakglass.granted": {
    cls: "Entity Management",
    activity: 3,
    activityName: "Update",
    entity: "breakglass_request",
    entityId: "requestId",
  },
  "breakglass.used": { cls: "API Activity", activity: 2, activityName: "Read" },
  "policy.loaded": {
    cls: "Entity Management",
    activity: 3,
    activityName: "Update",
    entity: "policy_set",
    entityId: "policySetHash",
  },
};

const OTHER: Mapping = { cls: "API Activity", activity: 99, activityName: "Other" };

export interface OcsfContext {
  readonly vaultId: string;
  /** The log's origin line: where `metadata.sequence` can be proven. */
  readonly origin: string;
  readonly productVersion: string;
}

/** One event as an OCSF object (plain JSON). */
export function toOcsf(e: RecordedEvent, ctx: OcsfContext): Record<string, unknown> {
  const { type, ...payload } = e.event as { type: string } & Record<string, unknown>;
  const m = MAP[type] ?? OTHER;
  const cls = CLASS[m.cls];
  const subjectId = typeof payload.subjectId === "string" ? payload.subjectId : undefined;
  const actor = e.actor as { type: string; id: string; role?: string };
  const out: Record<string, unknown> = {
    activity_id: m.activity,
    activity_name: m.activityName,
    category_uid: cls.category,
    category_name: cls.categoryName,
    class_uid: cls.uid,
    class_name: m.cls,
    type_uid: cls.uid * 100 + m.activity,
    type_name: `${m.cls}: ${m.activityName}`,
    severity_id: 1,
    severity: "Informational",
    status_id: m.failure ? 2 : 1,
    status: m.failure ? "Failure" : "Success",
    time: Date.parse(e.at),
    message: type,
    metadata: {
      version: OCSF_VERSION,
      product: { name: "voxvault", vendor_name: "voxvault", version: ctx.productVersion },
      uid: e.id,
      event_code: type,
      original_time: e.at,
      log_name: ctx.origin,
      log_provider: "voxvault transparency log",
      ...(e.leafIndex === null ? {} : { sequence: e.leafIndex }),
    },
    actor: {
      user: { uid: actor.id, type: actor.type, ...(actor.role ? { groups: [{ name: actor.role }] } : {}) },
      app_name: "voxvault",
    },
    unmapped: {
      voxvault: {
        vault_id: ctx.vaultId,
        leaf_index: e.leafIndex,
        event_type: type,
        payload,
      },
    },
  };
  if (m.cls === "Account Change" || m.cls === "Authentication") {
    out.user = { uid: subjectId, type: "Contractor", type_id: 99 };
  } else if (m.cls === "Entity Management") {
    const named = m.entityId === undefined ? undefined : payload[m.entityId];
    out.entity = { type: m.entity, uid: typeof named === "string" ? named : (subjectId ?? ctx.vaultId) };
  } else {
    out.api = { operation: type, service: { name: "voxvault" } };
    // The event records no network source (CLI and library calls have none); OCSF requires the object.
    out.src_endpoint = { type: "Unknown", type_id: 0 };
    const resources: { type: string; uid: string }[] = [];
    if (subjectId) resources.push({ type: "subject", uid: subjectId });
    for (const [k, v] of Object.entries(payload)) {
      if (k !== "subjectId" && k.endsWith("Id") && typeof v === "string")
        resources.push({ type: k.slice(0, -2), uid: v });
    }
    if (resources.length > 0) out.resources = resources;
  }
  return out;
}
