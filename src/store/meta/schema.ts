/** Kysely table types of the metadata store. Times are ISO-8601 UTC strings; bytes are Buffers. */
import type { AccessTables } from "./schema-access.js";
import type { Generated } from "kysely";

export type Bytes = Buffer;

export interface VaultMetaTable {
  key: string;
  value: string;
}

/** Interior nodes of the key tree (docs/architecture.md §Keys). Level 0 is wrapped by the root key. */
export interface KeyNodesTable {
  level: number;
  prefix: number;
  generation: number;
  /** Generation of the parent node's key that wraps this one; for level 0, the root key version. */
  parent_generation: number;
  wrapped_key: Bytes;
}

/**
 * Vault-wide secrets (reference keys, signing seeds, template master keys, retention epochs),
 * each wrapped under the root's key at `point` of `root_generation` (NULL: a format-1 row under
 * the top node, until the upgrade moves it).
 */
export interface VaultSecretsTable {
  name: string;
  version: number;
  /** Format 1 only (the top node's generation); unused for rows with a root generation. */
  parent_generation: number;
  wrapped_key: Bytes;
  created_at: string;
  status: "active" | "retired";
  root_generation: number | null;
  point: number | null;
}

export type SubjectStatus = "active" | "shred_pending" | "shredded";

export type SubjectRole = "contractor" | "staff";

export interface SubjectsTable {
  id: string;
  tenant: string;
  slot: number;
  ref_hash: Bytes | null;
  ref_enc: Bytes | null;
  /** Reference-lookup bucket (src/vault/refs.ts); NULL for format-1 rows and shredded subjects. */
  ref_bucket: number | null;
  status: SubjectStatus;
  /** contractor (default) or staff: an interviewer or AI-interviewer voice (migration 0010). */
  role: SubjectRole;
  created_at: string;
  shred_after: string | null;
  shredded_at: string | null;
  blob_count: number;
  blob_bytes: number;
}

export interface SubjectKeysTable {
  subject_id: string;
  version: number;
  /** Format 1 only (the level-6 node's generation); unused for rows with a root generation. */
  parent_generation: number;
  wrapped_key: Bytes;
  created_at: string;
  /** Root generation whose key at the subject's slot wraps this key; NULL: a format-1 row. */
  root_generation: number | null;
}

export type RootGenerationStatus = "active" | "retiring" | "retired" | "destroyed";

export interface RootGenerationsTable {
  generation: number;
  status: RootGenerationStatus;
  /** The provider's check value of the generation (never two different generations with one number). */
  check_value: Bytes | null;
  created_at: string;
  retired_at: string | null;
  destroyed_at: string | null;
}

/** The puncture log: every host applies it to its own root provider (docs/architecture.md). */
export interface KeyPuncturesTable {
  seq: Generated<number>;
  point: number;
  reason: string;
  at: string;
  /** Hash chain over the log's points (src/vault/puncture-log.ts). */
  chain: Bytes;
}

export type KeyHostStatus = "pending" | "approved" | "revoked";

export interface KeyHostsTable {
  id: string;
  name: string;
  public_key: Bytes;
  status: KeyHostStatus;
  created_at: string;
  approved_at: string | null;
  revoked_at: string | null;
  applied_seq: number;
  /** JSON array of the generations the host reported holding. */
  generations: string;
  last_seen: string | null;
}

export interface KeyDistributionsTable {
  host_id: string;
  generation: number;
  sealed: Bytes;
  through_seq: number;
  created_at: string;
}

export interface BlobsTable {
  id: string;
  subject_id: string;
  kind: string;
  size: number;
  plaintext_size: number;
  segment_log2: number;
  key_version: number;
  wrapped_dek: Bytes;
  created_at: string;
  /** Reconstructable material kept under retention: the UTC day (YYYYMMDD) its key expires. */
  retention_epoch: string | null;
}

export interface RecordingsTable {
  id: string;
  subject_id: string;
  created_at: string;
  source: string;
  duration_ms: number;
  /** Seconds of detected speech × 1000 (null for recordings from before migration 0007). */
  speech_ms: number | null;
  /** The upload this recording was ingested from (unique): a retried ingest job finds it. */
  upload_id: string | null;
  /** JSON: external id, kind, recorded-at given at upload or import (src/ingest/metadata.ts). */
  metadata: string | null;
}

export type DerivationClass = "non-reconstructable" | "reconstructable";

export interface DerivationsTable {
  id: string;
  recording_id: string;
  subject_id: string;
  name: string;
  recipe: string;
  class: DerivationClass;
  application: string | null;
  blob_id: string;
  created_at: string;
  expires_at: string | null;
}

export interface DeletionCertificatesTable {
  id: string;
  subject_id: string;
  issued_at: string;
  body: string;
}

/** A deletion receipt: the hash of its secret and the subject it names (migration 0012). */
export interface DeletionReceiptsTable {
  secret_hash: Bytes;
  subject_id: string;
  created_at: string;
}

export interface AuditEventsTable {
  seq: Generated<number>;
  id: string;
  at: string;
  type: string;
  actor: string;
  subject_id: string | null;
  payload: string;
  /** The event's leaf in the transparency log; null only for rows older than the log (migration 0002). */
  leaf_index: number | null;
  /** "<actor type>:<actor id>", for auditor search. */
  actor_id: string | null;
}

/** Transparency log (docs/tlog.md §8): stored hashes per C2SP tile, post-order. */
export interface TlogTileTable {
  log_id: number;
  level: number;
  idx: number;
  hashes: Bytes;
}

/** The authoritative tree size and root, and the latest signed checkpoint's size and root. */
export interface TlogStateTable {
  log_id: number;
  origin: string;
  size: number;
  root_hash: Bytes;
  checkpoint_size: number;
  checkpoint_root: Bytes;
  checkpoint_at: string | null;
}

export interface TlogCheckpointsTable {
  log_id: number;
  size: number;
  root_hash: Bytes;
  signed_at: string;
  /** The signed note as the log signed it (without cosignatures). */
  note: string;
}

export interface TlogCosignaturesTable {
  log_id: number;
  size: number;
  /** Witness key: "<name>+<8 hex key id>". */
  witness: string;
  timestamp: number;
  /** The signature line, "— <name> <base64>". */
  line: string;
  received_at: string;
}

export interface TlogKeysTable {
  key: string;
  vkey: string;
  secret: string;
  status: "active" | "retired";
  created_at: string;
  retired_at: string | null;
}

export interface TlogWitnessesTable {
  key: string;
  vkey: string;
  status: "active" | "removed";
  added_at: string;
  removed_at: string | null;
}

export interface Database extends AccessTables {
  vault_meta: VaultMetaTable;
  key_nodes: KeyNodesTable;
  vault_secrets: VaultSecretsTable;
  root_generations: RootGenerationsTable;
  key_punctures: KeyPuncturesTable;
  key_hosts: KeyHostsTable;
  key_distributions: KeyDistributionsTable;
  subjects: SubjectsTable;
  subject_keys: SubjectKeysTable;
  blobs: BlobsTable;
  deletion_certificates: DeletionCertificatesTable;
  deletion_receipts: DeletionReceiptsTable;
  recordings: RecordingsTable;
  derivations: DerivationsTable;
  audit_events: AuditEventsTable;
  tlog_tile: TlogTileTable;
  tlog_state: TlogStateTable;
  tlog_checkpoints: TlogCheckpointsTable;
  tlog_cosignatures: TlogCosignaturesTable;
  tlog_keys: TlogKeysTable;
  tlog_witnesses: TlogWitnessesTable;
}
