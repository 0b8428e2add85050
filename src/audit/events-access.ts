/** Audit events of the HTTP API's access layer (tokens, consent, budgets, break-glass, denials). */
export type AccessEvent =
  | {
      readonly type: "token.created";
      readonly tokenId: string;
      readonly principalId: string;
      readonly role: string;
      readonly kind: string;
      /** The principal's label: operator-chosen, 1-64 characters of [A-Za-z0-9 ._@-]. */
      readonly label: string;
      readonly subjectId?: string;
      readonly expiresAt: string;
    }
  | { readonly type: "token.revoked"; readonly tokenId: string; readonly reason: string }
  | { readonly type: "token.suspended"; readonly tokenId: string; readonly reason: string }
  | {
      readonly type: "enrolment.completed";
      readonly subjectId: string;
      readonly tokenId: string;
      readonly sessionTokenId: string;
    }
  | {
      readonly type: "application.registered";
      readonly application: string;
      readonly purposes: readonly string[];
    }
  | {
      readonly type: "consent.granted";
      readonly subjectId: string;
      readonly purpose: string;
      readonly textHash: string;
      readonly consentId: string;
      /** The text version and language granted (absent in events older than stored texts). */
      readonly textVersion?: number;
      readonly lang?: string;
    }
  | {
      /** A new consent text version; `superseded` live grants of earlier versions stopped counting. */
      readonly type: "consent.text_published";
      readonly purpose: string;
      readonly version: number;
      readonly texts: readonly { readonly lang: string; readonly textHash: string }[];
      readonly superseded: number;
    }
  | {
      readonly type: "consent.revoked";
      readonly subjectId: string;
      readonly purpose: string;
      readonly consentId: string;
    }
  | {
      readonly type: "passkey.registered";
      readonly subjectId: string;
      readonly credentialId: string;
      readonly alg: number;
      /** Unused enrolment links of the subject revoked by the registration. */
      readonly enrolmentLinksRevoked: number;
    }
  | {
      readonly type: "passkey.used";
      readonly subjectId: string;
      readonly credentialId: string;
      readonly sessionTokenId: string;
    }
  | { readonly type: "passkey.reset"; readonly subjectId: string; readonly removed: number }
  | {
      readonly type: "access.denied";
      readonly action: string;
      readonly subjectId?: string;
      readonly resource: string;
      readonly reason: string;
    }
  /**
   * A read of metadata that has no event of its own (a subject's record, consents, recording and
   * derivation lists, the event log, tokens, policies): who looked at what. Content reads are
   * `derivation.served`; a contractor reading its own subject is not recorded.
   */
  | {
      readonly type: "access.granted";
      readonly action: string;
      readonly subjectId?: string;
      readonly resource: string;
    }
  | {
      readonly type: "derivation.served";
      readonly subjectId: string;
      readonly derivationId: string;
      readonly name: string;
      readonly purpose: string;
      readonly bytes: number;
    }
  | {
      readonly type: "budget.exceeded";
      readonly principalId: string;
      readonly purpose: string;
      readonly window: string;
      readonly retryAfterSec: number;
    }
  | {
      readonly type: "breakglass.requested";
      readonly requestId: string;
      readonly subjectId: string;
      readonly material: string;
    }
  | {
      readonly type: "breakglass.decided";
      readonly requestId: string;
      readonly subjectId: string;
      readonly decision: "approve" | "deny";
      readonly approvals: number;
      readonly required: number;
    }
  | {
      readonly type: "breakglass.granted";
      readonly requestId: string;
      readonly subjectId: string;
      readonly until: string;
    }
  | {
      readonly type: "breakglass.used";
      readonly requestId: string;
      readonly subjectId: string;
      readonly derivationId: string;
    }
  | { readonly type: "policy.loaded"; readonly policySetHash: string; readonly policies: number };

export const ACCESS_EVENT_TYPES: readonly AccessEvent["type"][] = [
  "token.created",
  "token.revoked",
  "token.suspended",
  "enrolment.completed",
  "application.registered",
  "consent.granted",
  "consent.revoked",
  "consent.text_published",
  "passkey.registered",
  "passkey.used",
  "passkey.reset",
  "access.denied",
  "access.granted",
  "derivation.served",
  "budget.exceeded",
  "breakglass.requested",
  "breakglass.decided",
  "breakglass.granted",
  "breakglass.used",
  "policy.loaded",
];
