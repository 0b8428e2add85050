/**
 * Audit events: one type per event kind. Services record them in the same transaction as the
 * change they describe, so no entry point (CLI, API, library) can change state without a record.
 * Events carry ids, counts and kinds, never personal data in clear.
 */
import { ACCESS_EVENT_TYPES, type AccessEvent } from "./events-access.js";
import { KEY_EVENT_TYPES, type KeyEvent } from "./events-keys.js";

export type Actor =
  | { readonly type: "cli"; readonly id: string }
  | { readonly type: "system"; readonly id: string }
  | { readonly type: "principal"; readonly id: string; readonly role: string };

export type AuditEvent =
  | AccessEvent
  | KeyEvent
  | {
      readonly type: "vault.initialized";
      readonly vaultId: string;
      readonly keyProvider: string;
      readonly metadata: "sqlite" | "postgres";
      readonly schemaVersion: number;
      /** The first host of the vault (approved by creating it) and its host key's fingerprint. */
      readonly hostId?: string;
      readonly hostFingerprint?: string;
    }
  | { readonly type: "subject.created"; readonly subjectId: string; readonly tenant: string }
  | { readonly type: "subject.reference_revealed"; readonly subjectId: string }
  | { readonly type: "subject.looked_up"; readonly subjectId: string }
  | { readonly type: "subject.shred_scheduled"; readonly subjectId: string; readonly shredAfter: string }
  | { readonly type: "subject.shred_cancelled"; readonly subjectId: string }
  | {
      readonly type: "subject.shredded";
      readonly subjectId: string;
      readonly certificateId: string;
      readonly blobs: number;
      readonly bytes: number;
      readonly subjectKeyVersions: readonly number[];
      /** Format-1 vaults: the root version destroyed. */
      readonly retiredRootVersion?: number;
      /** The root generations whose key at the subject's slot is punctured. */
      readonly rootGenerations?: readonly number[];
    }
  | {
      readonly type: "subject.records_erased";
      readonly subjectId: string;
      readonly recordings: number;
      readonly derivations: number;
    }
  | {
      readonly type: "blob.written";
      readonly subjectId: string;
      readonly blobId: string;
      readonly kind: string;
      readonly size: number;
    }
  | {
      readonly type: "blob.read";
      readonly subjectId: string;
      readonly blobId: string;
      readonly kind: string;
      readonly start: number;
      readonly end: number;
    }
  | {
      readonly type: "blobs.removed";
      readonly subjectId: string;
      readonly count: number;
      readonly reason:
        "subject_shredded" | "retention" | "upload_assembled" | "upload_aborted" | "upload_failed";
    }
  /** An upload's last byte arrived: its staged ciphertext waits for a worker (src/ingest/jobs.ts). */
  | {
      readonly type: "upload.queued";
      readonly subjectId: string;
      readonly uploadId: string;
      readonly bytes: number;
    }
  /** `voxvault import` (src/ingest/import): a run started or resumed, one event per object, the end. */
  | {
      readonly type: "import.started";
      readonly runId: string;
      readonly source: "dir" | "s3";
      readonly resumed: boolean;
      readonly deleteSource: boolean;
    }
  | {
      readonly type: "import.object";
      readonly runId: string;
      /** The keyed hash of the object's key (the key itself may hold a name). */
      readonly item: string;
      readonly outcome: "imported" | "skipped" | "failed";
      readonly subjectId: string | null;
      readonly recordingId: string | null;
      readonly code: string | null;
      readonly sourceDeleted: boolean;
    }
  | {
      readonly type: "import.finished";
      readonly runId: string;
      readonly imported: number;
      readonly skipped: number;
      readonly failed: number;
      readonly bytesDestroyed: number;
    }
  /** An ingest job ended without a recording; its staged parts were deleted with this event. */
  | {
      readonly type: "upload.failed";
      readonly subjectId: string;
      readonly uploadId: string;
      readonly code: string;
      readonly attempts: number;
    }
  /** Format-1 vaults (root versions); later vaults record keys.root_generation_rotated. */
  | { readonly type: "keys.root_rotated"; readonly fromVersion: number; readonly toVersion: number }
  | { readonly type: "keys.template_key_rotated"; readonly version: number }
  | { readonly type: "keys.root_version_destroyed"; readonly version: number; readonly reason: "reconcile" }
  | {
      readonly type: "keys.subject_rotated";
      readonly subjectId: string;
      readonly fromVersions: readonly number[];
      readonly toVersion: number;
      readonly blobsRewrapped: number;
    }
  | {
      readonly type: "recording.ingested";
      readonly subjectId: string;
      readonly recordingId: string;
      readonly container: string;
      readonly codec: string;
      readonly durationMs: number;
      readonly derivations: readonly string[];
      readonly rawKept: boolean;
    }
  | {
      readonly type: "speaker.verified";
      readonly subjectId: string;
      readonly match: boolean;
      readonly templates: number;
    }
  | {
      readonly type: "retention.expired";
      readonly subjectId: string;
      readonly blobs: number;
      readonly epochs: readonly string[];
    }
  | {
      readonly type: "keys.retention_epochs_destroyed";
      readonly epochs: readonly string[];
      /** Format-1 vaults only. */
      readonly retiredRootVersion?: number;
    }
  // Transparency log (docs/tlog.md §9, §14): changes to who signs and who witnesses the log.
  | {
      readonly type: "log.key_rotated";
      /** Note key ids ("<name>+<8 hex>") of the retired and the new checkpoint signing key. */
      readonly fromKey: string;
      readonly toKey: string;
    }
  | { readonly type: "log.witness_added"; readonly witness: string }
  | { readonly type: "log.witness_removed"; readonly witness: string };

export type AuditEventType = AuditEvent["type"];

/** Every event type, for exhaustiveness checks in tests and for filters. */
export const AUDIT_EVENT_TYPES: readonly AuditEventType[] = [
  "vault.initialized",
  "subject.created",
  "subject.reference_revealed",
  "subject.looked_up",
  "subject.shred_scheduled",
  "subject.shred_cancelled",
  "subject.shredded",
  "subject.records_erased",
  "blob.written",
  "blob.read",
  "blobs.removed",
  "upload.queued",
  "upload.failed",
  "import.started",
  "import.object",
  "import.finished",
  "keys.root_rotated",
  "keys.template_key_rotated",
  "keys.root_version_destroyed",
  "keys.subject_rotated",
  "recording.ingested",
  "speaker.verified",
  "retention.expired",
  "keys.retention_epochs_destroyed",
  "log.key_rotated",
  "log.witness_added",
  "log.witness_removed",
  ...KEY_EVENT_TYPES,
  ...ACCESS_EVENT_TYPES,
];
