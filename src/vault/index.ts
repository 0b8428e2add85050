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
export type { SubjectInfo, LiveSubjectInfo, ShreddedSubjectInfo, ListSubjectsOptions } from "./subjects.js";
export type { BlobInfo, PutBlobInput, ReadBlobOptions, BlobRead } from "./blobs.js";
export type { ShredOutcome } from "./shred.js";
export type { DeletionCertificate } from "./certificates.js";
export { verifyCertificate } from "./certificates.js";
export type { KeyStatus, SubjectRotation } from "./keys.js";
export type { SweepReport } from "./sweep.js";
export type { HostInfo } from "./hosts.js";
export type { RootRotation, RotationProgress } from "./rotation.js";
