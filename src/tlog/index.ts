/**
 * Transparency-log primitives: RFC 9162 Merkle trees, a tile-based storage seam (C2SP
 * tlog-tiles), C2SP signed notes, checkpoints and cosignatures. No database code: see
 * docs/tlog.md for the contract a SQL-backed TileStore must meet.
 */

export {
  HASH_SIZE,
  type Hash,
  leafHash,
  nodeHash,
  emptyRoot,
  isHash,
  merkleRoot,
  inclusionProofFromLeaves,
  consistencyProofFromLeaves,
  rootFromInclusionProof,
  verifyInclusion,
  verifyConsistency,
} from "./merkle.js";

export {
  TILE_HEIGHT,
  TILE_WIDTH,
  FULL_TILE_HASHES,
  type TileCoord,
  type Tile,
  type TileStore,
  storedHashCount,
  storedPosition,
  tileWidth,
  tileEntries,
  edgeTiles,
  tilePath,
  MemoryTileStore,
} from "./tiles.js";

export {
  type AppendResult,
  appendLeaves,
  treeHash,
  inclusionProof,
  consistencyProof,
  readLeafHashes,
} from "./tree.js";

export {
  SIGNATURE_TYPE_ED25519,
  MAX_NOTE_SIGNATURES,
  type NoteSigner,
  type NoteVerifier,
  type NoteSignature,
  type Note,
  type OpenedNote,
  computeKeyId,
  ed25519NoteSigner,
  ed25519NoteVerifier,
  parseNote,
  formatNote,
  signNote,
  addNoteSignatures,
  openNote,
} from "./note.js";

export { type Checkpoint, parseCheckpoint, formatCheckpoint, signCheckpoint } from "./checkpoint.js";

export {
  SIGNATURE_TYPE_COSIGNATURE_V1,
  COSIGNATURE_V1_SIZE,
  cosignatureMessage,
  cosignatureTimestamp,
  ed25519Cosigner,
  ed25519CosignatureVerifier,
} from "./cosignature.js";

export {
  type CheckpointPolicy,
  type WitnessCosignature,
  type OpenedCheckpoint,
  openCheckpoint,
} from "./open-checkpoint.js";

export {
  type KeyType,
  type KeyPairStrings,
  verifierKeyString,
  signerKeyString,
  generateKeyStrings,
  parseVerifierKey,
  parseSignerKey,
} from "./keys.js";
