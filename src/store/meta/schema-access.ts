/** Table types of migration 0004 (access control for the HTTP API). */
import type { Generated } from "kysely";
import type { Bytes } from "./schema.js";

export type Role = "contractor" | "operator" | "consumer" | "auditor" | "admin";

export interface ApplicationsTable {
  name: string;
  tenant: string;
  purposes: string;
  created_at: string;
}

export interface PrincipalsTable {
  id: string;
  role: Role;
  label: string;
  subject_id: string | null;
  application: string | null;
  created_at: string;
  status: "active" | "suspended";
}

export interface TokensTable {
  id: string;
  principal_id: string;
  secret_hash: Bytes;
  role: Role;
  purposes: string;
  subject_id: string | null;
  kind: "api" | "enrolment" | "session";
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
  last_used_at: string | null;
  use_count: number;
  max_uses: number | null;
}

export interface ConsentsTable {
  id: string;
  subject_id: string;
  purpose: string;
  text_hash: string;
  granted_at: string;
  revoked_at: string | null;
  /** Why the grant stopped counting (null while active, and for rows older than migration 0011). */
  ended_by: "revoked" | "replaced" | "superseded" | null;
}

/** One language of one version of a purpose's consent text (migration 0011). */
export interface ConsentTextsTable {
  purpose: string;
  version: number;
  lang: string;
  text: string;
  /** Hex SHA-256 of the text's UTF-8 bytes: what a grant cites. */
  text_hash: string;
  published_at: string;
}

/** One budget refusal of a token (src/access/budget-enforcement.ts). */
export interface BudgetStrikesTable {
  id: Generated<number>;
  token_id: string;
  at_ms: number;
}

export interface EgressUsageTable {
  id: Generated<number>;
  principal_id: string;
  purpose: string;
  at_ms: number;
  bytes: number;
  items: number;
}

export interface BreakglassRequestsTable {
  id: string;
  requester_id: string;
  subject_id: string;
  material: "raw" | "frames";
  reason: string;
  required_approvals: number;
  status: "pending" | "granted" | "used" | "expired" | "denied";
  created_at: string;
  granted_until: string | null;
  used_at: string | null;
}

export interface BreakglassApprovalsTable {
  request_id: string;
  approver_id: string;
  decision: "approve" | "deny";
  at: string;
}

export interface UploadsTable {
  id: string;
  subject_id: string;
  principal_id: string;
  length: number;
  received: number;
  parts: string;
  created_at: string;
  expires_at: string;
  /** open → queued → processing → complete | failed; open → aborted (docs/architecture.md). */
  status: UploadStatus;
  recording_id: string | null;
  /** Ingest attempts started (each claim by a worker counts one). */
  attempts: number;
  /** A queued job is not claimed before this time (backoff after a transient failure). */
  run_after_ms: number | null;
  /** A processing job whose lease has passed is taken over by another worker. */
  lease_until_ms: number | null;
  lease_owner: string | null;
  error_code: string | null;
  error_message: string | null;
  metadata: string | null;
  updated_at: string | null;
}

export type UploadStatus = "open" | "queued" | "processing" | "complete" | "failed" | "aborted";

export interface ImportRunsTable {
  id: string;
  fingerprint: string;
  source: string;
  status: "running" | "complete";
  created_at: string;
  finished_at: string | null;
  report: string | null;
}

export type ImportItemStatus = "staging" | "staged" | "imported" | "skipped" | "failed";

export interface ImportItemsTable {
  run_id: string;
  key_mac: string;
  status: ImportItemStatus;
  subject_id: string | null;
  upload_id: string | null;
  recording_id: string | null;
  content_mac: string | null;
  bytes: number;
  duration_ms: number | null;
  error_code: string | null;
  error_message: string | null;
  source_deleted: number;
  updated_at: string;
}

/** One rate-limit bucket (GCRA): a keyed hash of its key and its theoretical arrival time in µs. */
export interface RateLimitsTable {
  key_mac: Bytes;
  tat_us: number;
}

/** A contractor's passkey (migration 0013). */
export interface PasskeysTable {
  /** base64url of the WebAuthn credential id. */
  credential_id: string;
  subject_id: string;
  /** The COSE_Key bytes. */
  public_key: Bytes;
  alg: number;
  sign_count: number;
  backup_eligible: number;
  created_at: string;
  last_used_at: string | null;
}

/** A pending WebAuthn ceremony's challenge, by hash; deleted when used or expired. */
export interface WebauthnChallengesTable {
  challenge_hash: Bytes;
  kind: "register" | "authenticate";
  subject_id: string | null;
  expires_at: string;
}

export interface AccessTables {
  applications: ApplicationsTable;
  principals: PrincipalsTable;
  tokens: TokensTable;
  consents: ConsentsTable;
  consent_texts: ConsentTextsTable;
  passkeys: PasskeysTable;
  webauthn_challenges: WebauthnChallengesTable;
  egress_usage: EgressUsageTable;
  budget_strikes: BudgetStrikesTable;
  breakglass_requests: BreakglassRequestsTable;
  breakglass_approvals: BreakglassApprovalsTable;
  uploads: UploadsTable;
  import_runs: ImportRunsTable;
  import_items: ImportItemsTable;
  rate_limits: RateLimitsTable;
}
