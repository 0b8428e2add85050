/**
 * Audit events of the root of trust: generations, punctures, hosts and secret rotation
 * (docs/architecture.md §Keys, §Several hosts). Fingerprints are of public keys only.
 */
export type KeyEvent =
  | {
      readonly type: "keys.root_rotation_started";
      readonly fromGeneration: number;
      readonly toGeneration: number;
      readonly secretsRotated: readonly string[];
    }
  | {
      readonly type: "keys.root_generation_rotated";
      readonly fromGeneration: number;
      readonly toGeneration: number;
      readonly subjects: number;
    }
  | {
      readonly type: "keys.root_generation_destroyed";
      readonly generation: number;
      readonly reason: "retention_ended" | "operator";
    }
  | {
      readonly type: "keys.punctures_applied";
      readonly hostId: string;
      readonly fromSeq: number;
      readonly throughSeq: number;
    }
  | { readonly type: "keys.generation_received"; readonly hostId: string; readonly generation: number }
  | {
      readonly type: "keys.host_joined";
      readonly hostId: string;
      readonly name: string;
      readonly fingerprint: string;
    }
  | {
      readonly type: "keys.host_approved";
      readonly hostId: string;
      readonly fingerprint: string;
      readonly generations: readonly number[];
    }
  | { readonly type: "keys.host_revoked"; readonly hostId: string }
  | { readonly type: "keys.host_key_rotated"; readonly hostId: string; readonly fingerprint: string }
  | { readonly type: "keys.secret_rotated"; readonly name: string; readonly version: number }
  | {
      readonly type: "keys.upgraded";
      readonly fromFormat: number;
      readonly subjectKeys: number;
      readonly secrets: number;
    }
  | {
      /** The root key file sealed under a new quorum's shares (docs/operations.md §Quorum unseal). */
      readonly type: "keys.quorum_reshared";
      readonly hostId: string;
      readonly from: "local" | "passphrase" | "quorum";
      readonly threshold: number;
      readonly officers: readonly string[];
      /** The new share set's id; shares of any other set open nothing written from now on. */
      readonly epoch: string;
    }
  | {
      /** The root moved from a key file into an HSM; the file's generations were destroyed. */
      readonly type: "keys.root_migrated";
      readonly hostId: string;
      readonly to: "pkcs11";
      readonly generation: number;
      readonly destroyedGenerations: readonly number[];
    }
  | {
      /** A sealed server opened the vault with these officers' shares. */
      readonly type: "vault.unsealed";
      readonly hostId: string;
      readonly officers: readonly string[];
      readonly epoch: string;
      /** Shares the sealed server refused since it was sealed (it cannot log while sealed). */
      readonly refusedShares: number;
      readonly sealedSince: string;
    }
  | {
      /** A server closed the vault and dropped its keys; it serves nothing until unsealed again. */
      readonly type: "vault.sealed";
      readonly hostId: string;
      readonly reason: "operator" | "alert";
      /** For reason "alert": the alert's name. */
      readonly alert?: string | undefined;
    }
  | {
      readonly type: "vault.restored";
      /** Subjects of the restored copy whose slots the root had punctured since the copy was made. */
      readonly subjectsErased: number;
      readonly punctureSeqBefore: number;
      readonly punctureSeqAfter: number;
      /** The log's size and root hash in the anchor that the restored copy predates. */
      readonly lostLogSize: number;
      readonly lostLogRoot: string;
    };

export const KEY_EVENT_TYPES: readonly KeyEvent["type"][] = [
  "keys.root_rotation_started",
  "keys.root_generation_rotated",
  "keys.root_generation_destroyed",
  "keys.punctures_applied",
  "keys.generation_received",
  "keys.host_joined",
  "keys.host_approved",
  "keys.host_revoked",
  "keys.host_key_rotated",
  "keys.secret_rotated",
  "keys.upgraded",
  "keys.quorum_reshared",
  "keys.root_migrated",
  "vault.unsealed",
  "vault.sealed",
  "vault.restored",
];
