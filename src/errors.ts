/**
 * One error taxonomy for the whole vault: every failure that a caller may act on carries a
 * stable code from ERROR_CODES. The CLI prints `error[CODE]: message`; the HTTP API maps the
 * code to a status. Messages never contain key material or personal data.
 *
 * Codes are part of the public contract (docs/errors.md): add, never rename.
 */

export const ERROR_CODES = {
  // --- usage and configuration -------------------------------------------------------------
  USAGE: "Command-line usage is wrong (unknown flag, missing argument).",
  INVALID_ARGUMENT: "An argument has the wrong form (bad id, bad duration, out of range).",
  INSECURE_CONFIG: "The configuration or file permissions are insecure; the vault refuses to start.",
  CONFIG_INVALID: "The vault configuration file does not parse or fails validation.",

  // --- vault lifecycle ---------------------------------------------------------------------
  VAULT_EXISTS: "A vault already exists at that data directory; init refuses to overwrite it.",
  VAULT_NOT_FOUND: "No vault at that data directory.",
  VAULT_NEWER_VERSION: "The data directory was written by a newer voxvault; refusing to touch it.",
  VAULT_CORRUPT: "The vault's metadata is damaged or inconsistent.",
  VAULT_BUSY: "Another process holds the vault's write lock; try again.",
  VAULT_CLOSED: "The vault handle was closed.",

  // --- keys --------------------------------------------------------------------------------
  ROOT_KEY_MISSING: "The root key file or provider is not available.",
  ROOT_KEY_MISMATCH: "The root key does not belong to this vault.",
  ROOT_KEY_INVALID: "The root key file is malformed or its passphrase is wrong.",
  KEY_UNAVAILABLE: "A key needed for this operation was destroyed or cannot be unwrapped.",
  HSM_MODULE_UNAVAILABLE:
    "The PKCS#11 module cannot be loaded (missing file, not a PKCS#11 library, or pkcs11js not installed).",
  HSM_TOKEN_NOT_FOUND: "No token with the configured label or slot is present in the PKCS#11 module.",
  HSM_PIN_INCORRECT: "The HSM refused the PIN (wrong PIN, or none was given).",
  HSM_TOKEN_LOCKED:
    "The HSM token's user PIN is locked after too many wrong attempts; its security officer must reset it.",
  HSM_KEY_MISSING: "A root key this vault needs is not on the HSM token (wrong token, or destroyed).",
  HSM_MECHANISM_UNSUPPORTED:
    "The HSM token lacks a mechanism the vault needs (AES-GCM, HMAC-SHA256, key generation).",
  VAULT_SEALED: "The vault is sealed: it opens once a quorum of officers has submitted their unseal shares.",
  UNSEAL_SHARE_INVALID:
    "An unseal share is malformed, belongs to another vault or to a replaced share set, or is not the officer's.",
  UNSEAL_QUORUM_SHORT: "Fewer valid unseal shares than the quorum's threshold were given.",
  RESTORE_REQUIRED:
    "The metadata is older than this host's root or audit log (a restored backup): run `voxvault restore`.",
  RESTORE_REFUSED:
    "The copy cannot be restored as it is (not older than the vault, or the root it needs is destroyed).",

  // --- subjects ----------------------------------------------------------------------------
  SUBJECT_NOT_FOUND: "No such subject (or it was shredded).",
  SUBJECT_EXISTS: "A subject with that external reference already exists.",
  SUBJECT_SHREDDED: "The subject was crypto-shredded; nothing of it can be read or written.",
  SHRED_PENDING: "The subject is scheduled for shredding; writes are refused until it is cancelled.",
  SHRED_NOT_PENDING: "The subject has no pending shred to cancel.",

  // --- blobs and the blob format -----------------------------------------------------------
  BLOB_NOT_FOUND: "No such blob.",
  BLOB_BAD_MAGIC: "Not a voxvault blob (wrong magic bytes).",
  BLOB_UNSUPPORTED_VERSION: "The blob uses a format version or suite this build does not know.",
  BLOB_HEADER_INVALID: "The blob header is malformed.",
  BLOB_WRONG_KEY: "The key commitment does not match: wrong key for this blob.",
  BLOB_CONTEXT_MISMATCH:
    "The blob was sealed for another tenant, subject, blob id or kind, or its header was altered.",
  BLOB_TRUNCATED: "The blob ends before its final segment.",
  BLOB_SEGMENT_REORDERED: "A segment appears at the wrong position.",
  BLOB_SEGMENT_DUPLICATED: "A segment appears twice.",
  BLOB_SEGMENT_CORRUPT: "A segment failed authentication.",
  BLOB_TRAILING_DATA: "Data follows the final segment.",
  BLOB_TOO_LARGE: "The blob exceeds the format's maximum number of segments.",
  BLOB_RANGE_INVALID: "The requested byte range lies outside the blob.",
  RETENTION_EXPIRED:
    "The material's retention period has ended; it is (or is about to be) cryptographically erased.",

  // --- storage -----------------------------------------------------------------------------
  STORE_IO: "The blob store failed an I/O operation.",
  STORE_INTEGRITY: "A stored object does not match its recorded size or digest.",
  METADATA_UNAVAILABLE:
    "The metadata database cannot be reached (restart, failover, network); retry after a short wait.",

  // --- audio and derivations (abstraction pipeline) ----------------------------------------
  UNSUPPORTED_FORMAT: "The audio container or codec is not supported.",
  CORRUPT_AUDIO: "The audio data is damaged or inconsistent with its header.",
  TOO_LARGE: "The input exceeds the configured size limit.",
  TOO_LONG: "The audio exceeds the configured duration limit.",
  TOO_SHORT: "The audio is shorter than the minimum duration.",
  NO_SPEECH: "No speech was detected in the audio.",
  NO_AUDIO: "The file holds no audio track (a video-only file, or an empty container).",
  AMBIGUOUS_SPEAKER:
    "The recording holds several voices and none could be told to be the subject's: no speaker template was enrolled from it.",
  DECODE_TIMEOUT: "Decoding did not finish within its time bound.",
  UNSUPPORTED_LAYOUT: "Sample rate or channel count is outside the allowed limits.",
  MODEL_INVALID: "A model file could not be loaded or has an unexpected shape.",
  NO_TEMPLATE: "The subject has no enrolled speaker template under the current template key and embedder.",
  FILE_UNREADABLE: "An input file cannot be opened or read (missing, a directory, no permission).",
  INGEST_FAILED: "Some files of an ingest batch failed (each failure is reported on its own line).",
  TEMPLATE_MISMATCH:
    "Protected templates made under different template keys, parameters or embedder profiles cannot be compared.",

  // --- transparency log --------------------------------------------------------------------
  LOG_INCONSISTENT: "The audit log does not match its signed checkpoints.",
  PROOF_INVALID: "A Merkle proof does not verify.",
  CHECKPOINT_INVALID: "A checkpoint is malformed or its signature does not verify.",
  NOTE_INVALID: "A signed note is malformed.",
  EXPORT_FAILED: "Exported audit events could not be delivered (webhook or file).",

  // --- access (HTTP API) ------------------------------------------------------------------
  UNAUTHENTICATED: "No valid token: missing, malformed, unknown, expired, revoked or already used.",
  FORBIDDEN: "The policy does not allow this principal this action on this resource.",
  NOT_FOUND: "No such resource (or none this principal may know about).",
  CONSENT_REQUIRED: "The subject has no active consent for this purpose.",
  CONSENT_TEXT_UNKNOWN:
    "The consent grant cites a text that is not one of the purpose's current consent text version (or none is published).",
  BUDGET_EXCEEDED: "The principal's egress budget for this purpose is used up; retry later.",
  RATE_LIMITED: "Too many requests; retry later.",
  PAYLOAD_TOO_LARGE: "The request body exceeds the limit.",
  UNSUPPORTED_MEDIA_TYPE: "The request's content type is not accepted here.",
  BAD_REQUEST: "The request is malformed.",
  CONFLICT: "The request conflicts with the resource's state (e.g. upload offset mismatch).",
  POLICY_INVALID: "A Cedar policy or the policy set does not parse or validate against the schema.",
  BREAKGLASS_INVALID: "The break-glass request cannot be decided or used in its current state.",
  METHOD_NOT_ALLOWED: "The route exists but not with this method (the Allow header lists those it has).",
  SERVER_UNREACHABLE: "The server could not be reached, or did not answer in time.",
  REQUEST_TIMEOUT: "The client did not send the whole request in time; the connection is closed.",
  URI_TOO_LONG: "A path parameter is longer than any valid one.",
  HEADERS_TOO_LARGE: "The request's headers exceed the size limit.",
  SERVER_CLOSING: "The server is shutting down and takes no new requests; retry (another instance).",
  CLIENT_ABORTED: "The client closed the connection before its request was complete (not a server error).",
  MATERIAL_NOT_RETAINED:
    "No such material is kept for the subject (retention discards it, or what was kept has expired): nothing to grant.",

  // --- generic -----------------------------------------------------------------------------
  NOT_IMPLEMENTED_BY_PROVIDER: "The configured provider does not support this operation.",
  INTERNAL: "Unexpected internal error.",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class VaultError extends Error {
  override readonly name = "VaultError";
  readonly code: ErrorCode;
  /** Extra machine-readable facts (ids, indices); never secrets or personal data. */
  readonly details: Readonly<Record<string, string | number | boolean>> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, string | number | boolean> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details ? Object.freeze({ ...options.details }) : undefined;
  }
}

export function isVaultError(e: unknown, code?: ErrorCode): e is VaultError {
  return e instanceof VaultError && (code === undefined || e.code === code);
}

/** Wraps an unknown throwable; VaultErrors pass through untouched. */
export function asVaultError(e: unknown, fallback: ErrorCode = "INTERNAL"): VaultError {
  if (e instanceof VaultError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new VaultError(fallback, message, { cause: e });
}
