/**
 * Verifying a signed, optionally witnessed checkpoint: the note must carry a valid signature by
 * one of the log's keys, its origin must be the expected one, and (if asked) a quorum of the
 * configured witnesses must have cosigned it (c2sp.org/tlog-cosignature: clients verify a
 * quorum of cosignatures to rule out split views).
 */

import { VaultError, isVaultError } from "../errors.js";
import { type Checkpoint, parseCheckpoint } from "./checkpoint.js";
import { SIGNATURE_TYPE_COSIGNATURE_V1, cosignatureTimestamp } from "./cosignature.js";
import { formatKeyId } from "./encoding.js";
import { type NoteSignature, type NoteVerifier, type OpenedNote, openNote } from "./note.js";

export interface CheckpointPolicy {
  /** The origin line the checkpoint must carry. */
  readonly origin: string;
  /** The log's keys; at least one must have signed. */
  readonly logVerifiers: readonly NoteVerifier[];
  /** Witness keys (cosignature/v1). Their signatures are checked and counted. */
  readonly witnesses?: readonly NoteVerifier[];
  /** How many distinct witnesses must have cosigned; default 0. */
  readonly witnessQuorum?: number;
}

export interface WitnessCosignature {
  readonly name: string;
  readonly keyId: number;
  /** POSIX seconds at which the witness cosigned. */
  readonly timestamp: number;
}

export interface OpenedCheckpoint {
  readonly checkpoint: Checkpoint;
  /** The checkpoint note text, as signed. */
  readonly text: string;
  readonly logSignatures: readonly NoteSignature[];
  readonly cosignatures: readonly WitnessCosignature[];
  /** Signature lines from keys not in the policy. */
  readonly unverified: readonly NoteSignature[];
}

function invalid(message: string, reason: string, cause?: unknown): VaultError {
  return new VaultError(
    "CHECKPOINT_INVALID",
    message,
    cause === undefined ? { details: { reason } } : { cause, details: { reason } },
  );
}

/** Opens a signed checkpoint under `policy`. Throws CHECKPOINT_INVALID on any failure. */
export function openCheckpoint(message: string | Uint8Array, policy: CheckpointPolicy): OpenedCheckpoint {
  const witnesses = policy.witnesses ?? [];
  const quorum = policy.witnessQuorum ?? 0;
  if (policy.logVerifiers.length === 0) {
    throw new VaultError("INVALID_ARGUMENT", "at least one log key is needed");
  }
  if (!Number.isSafeInteger(quorum) || quorum < 0 || quorum > witnesses.length) {
    throw new VaultError("INVALID_ARGUMENT", "witness quorum must be between 0 and the number of witnesses");
  }
  if (witnesses.some((w) => w.type !== SIGNATURE_TYPE_COSIGNATURE_V1)) {
    throw new VaultError("INVALID_ARGUMENT", "witness keys must be cosignature/v1 (type 0x04) verifiers");
  }
  const logKeys = new Set(policy.logVerifiers.map((v) => `${v.name}+${formatKeyId(v.keyId)}`));

  let note: OpenedNote;
  try {
    // Log and witness keys together: every signature by any configured key must verify.
    note = openNote(message, [...policy.logVerifiers, ...witnesses]);
  } catch (e) {
    if (isVaultError(e, "NOTE_INVALID")) throw invalid(`checkpoint note rejected: ${e.message}`, "note", e);
    throw e;
  }
  const logSignatures = note.verified.filter((s) => logKeys.has(`${s.name}+${formatKeyId(s.keyId)}`));
  if (logSignatures.length === 0) throw invalid("checkpoint is not signed by the log", "no-log-signature");

  let checkpoint: Checkpoint;
  try {
    checkpoint = parseCheckpoint(note.text);
  } catch (e) {
    throw invalid("checkpoint text is malformed", "malformed", e);
  }
  if (checkpoint.origin !== policy.origin) {
    throw invalid("checkpoint origin is not the expected log", "origin");
  }

  const cosignatures = note.verified
    .filter((s) => !logKeys.has(`${s.name}+${formatKeyId(s.keyId)}`))
    .map((s) => ({ name: s.name, keyId: s.keyId, timestamp: cosignatureTimestamp(s.signature) }));
  if (cosignatures.length < quorum) {
    throw new VaultError("CHECKPOINT_INVALID", "too few witness cosignatures", {
      details: { reason: "quorum", have: cosignatures.length, need: quorum },
    });
  }
  return { checkpoint, text: note.text, logSignatures, cosignatures, unverified: note.unverified };
}
