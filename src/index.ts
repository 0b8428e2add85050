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
