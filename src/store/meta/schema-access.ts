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
  status: "open" | "complete" | "aborted";
  recording_id: string | null;
}

export interface AccessTables {
  applications: ApplicationsTable;
  principals: PrincipalsTable;
  tokens: TokensTable;
  consents: ConsentsTable;
  egress_usage: EgressUsageTable;
  budget_strikes: BudgetStrikesTable;
  breakglass_requests: BreakglassRequestsTable;
  breakglass_approvals: BreakglassApprovalsTable;
  uploads: UploadsTable;
}
