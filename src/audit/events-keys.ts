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
  "vault.restored",
];
