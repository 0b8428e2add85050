export {
  initVault,
  openVault,
  joinVault,
  type InitOptions,
  type OpenOptions,
  type JoinOptions,
  type JoinResult,
} from "./lifecycle.js";
export { Vault } from "./vault.js";
export type { VaultConfig } from "./config.js";
export type {
  SubjectInfo,
  LiveSubjectInfo,
  ShreddedSubjectInfo,
  ListSubjectsOptions,
} from "../vault/subjects.js";
export type { BlobInfo, PutBlobInput, ReadBlobOptions, BlobRead } from "../vault/blobs.js";
export type { ShredOutcome } from "../vault/shred.js";
export type { DeletionCertificate } from "../vault/certificates.js";
export { verifyCertificate } from "../vault/certificates.js";
export type { KeyStatus, SubjectRotation } from "../vault/keys.js";
export type { SweepReport } from "../vault/sweep.js";
export type { HostInfo } from "../vault/hosts.js";
export type { RootRotation, RotationProgress } from "../vault/rotation.js";
