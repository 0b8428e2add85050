/** voxvault: the public library entry. */
export { VaultError, ERROR_CODES, isVaultError, asVaultError } from "./errors.js";
export type { ErrorCode } from "./errors.js";
export * from "./platform/index.js";
export { initVault, openVault } from "./public-vault.js";
export type { Actor, AuditEvent, AuditEventType } from "./audit/events.js";
export type { RecordedEvent, EventQuery } from "./audit/record.js";
export {
  sealStream,
  openStream,
  openRange,
  sealBuffer,
  openBuffer,
  blobLayout,
  type BlobContext,
  type RandomAccessSource,
} from "./format/index.js";
export type { RootKeyProvider } from "./keys/provider.js";
export { localOperator, type Requester, type ServedDerivation } from "./access/serving.js";
export type { BlobStore } from "./store/blob/types.js";
// What a contractor (or anyone they hand their data to) needs to check the vault's word offline:
// their audit-log bundle against pinned log keys, and a deletion certificate against the vault's keys.
export {
  verifySubjectBundle,
  type SubjectBundle,
  type VerifiedSubjectLog,
} from "./audit/subject-view.js";
export { verifyCertificate, type DeletionCertificate } from "./vault/certificates.js";
