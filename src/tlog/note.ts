/**
 * C2SP signed notes (c2sp.org/signed-note): a UTF-8 text ending in a newline, a blank line, and
 * one or more signature lines "— <key name> <base64(key id || signature)>".
 *
 * Parsing is strict and verification follows §Signatures: signatures from unknown keys are
 * ignored, a known key's signature must verify (else the whole note is rejected), and at least
 * one known signature must verify.
 */

import { createHash } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { VaultError } from "../errors.js";
import {
  decodeBase64Strict,
  decodeUtf8Strict,
  encodeBase64,
  formatKeyId,
  isNoteSafeText,
  isValidKeyName,
  utf8,
} from "./encoding.js";
import {
  ed25519PrivateKey,
  ed25519PublicKey,
  ed25519RawPublicKey,
  ed25519Sign,
  ed25519Verify,
} from "../crypto/ed25519.js";

/** Signature type byte of plain Ed25519 note signatures (C2SP signed-note §Signature types). */
export const SIGNATURE_TYPE_ED25519 = 0x01;

/** Notes with more signature lines are rejected; the spec requires accepting at least 16. */
export const MAX_NOTE_SIGNATURES = 100;

const SIGNATURE_PREFIX = "\u2014 "; // em dash, space

export interface NoteSigner {
  /** Key name as it appears in signature lines. */
  readonly name: string;
  /** uint32 key id (first 4 bytes of the key hash, big-endian). */
  readonly keyId: number;
  /** Signature type byte this key signs with (0x01 Ed25519, 0x04 cosignature/v1, ...). */
  readonly type: number;
  /** Signs the note text (UTF-8, including its final newline). Async so keys may live elsewhere. */
  sign(text: Uint8Array): Promise<Uint8Array>;
}

export interface NoteVerifier {
  readonly name: string;
  readonly keyId: number;
  readonly type: number;
  /** Checks a signature (without its 4-byte key id) over the note text. Never throws. */
  verify(text: Uint8Array, signature: Uint8Array): boolean;
}

export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  /** Signature bytes after the 4-byte key id. */
  readonly signature: Uint8Array;
}

export interface Note {
  /** The signed text, including its final newline. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

export interface OpenedNote {
  readonly text: string;
  /** Signatures by known keys, all verified; one per key. */
  readonly verified: readonly NoteSignature[];
  /** Signatures by keys not in the verifier list, unchecked; exact duplicates dropped. */
  readonly unverified: readonly NoteSignature[];
}

/** C2SP signed-note: key ID = SHA-256(key name || 0x0A || signature type || public key)[:4]. */
export function computeKeyId(name: string, type: number, publicKey: Uint8Array): number {
  const digest = createHash("sha256")
    .update(name, "utf8")
    .update(new Uint8Array([0x0a, type]))
    .update(publicKey)
    .digest();
  return digest.readUInt32BE(0);
}

function malformed(reason: string, details: Record<string, string | number | boolean> = {}): VaultError {
  return new VaultError("NOTE_INVALID", `malformed note: ${reason}`, { details: { reason, ...details } });
}

function checkName(name: string): void {
  if (!isValidKeyName(name)) {
    throw new VaultError("INVALID_ARGUMENT", "key names must be non-empty, without spaces or '+'");
  }
}

/** An Ed25519 (type 0x01) note signer from a 32-byte seed. */
export function ed25519NoteSigner(name: string, seed: Uint8Array): NoteSigner {
  checkName(name);
  return keySigner(name, SIGNATURE_TYPE_ED25519, ed25519PrivateKey(seed), (key, text) =>
    Promise.resolve(ed25519Sign(key, text)),
  );
}

/** @internal Shared by the Ed25519 and cosignature signers: the key id comes from the key. */
export function keySigner(
  name: string,
  type: number,
  key: KeyObject,
  sign: (key: KeyObject, text: Uint8Array) => Promise<Uint8Array>,
): NoteSigner {
  const keyId = computeKeyId(name, type, ed25519RawPublicKey(key));
  // Deferred, so a signer that throws (e.g. a cosigner given a non-checkpoint) rejects instead.
  return { name, keyId, type, sign: (text) => Promise.resolve().then(() => sign(key, text)) };
}

/** An Ed25519 (type 0x01) note verifier from a 32-byte public key. */
export function ed25519NoteVerifier(name: string, publicKey: Uint8Array): NoteVerifier {
  checkName(name);
  const key = ed25519PublicKey(publicKey);
  return {
    name,
    keyId: computeKeyId(name, SIGNATURE_TYPE_ED25519, publicKey),
    type: SIGNATURE_TYPE_ED25519,
    verify: (text, signature) => ed25519Verify(key, text, signature),
  };
}

/** Parses a signed note without checking any signature. Throws NOTE_INVALID. */
export function parseNote(message: string | Uint8Array): Note {
  const msg = typeof message === "string" ? message : decodeUtf8Strict(message);
  if (msg === undefined) throw malformed("not valid UTF-8");
  if (!isNoteSafeText(msg)) throw malformed("contains control characters or unpaired surrogates");

  // The text ends at the last blank line (§Format); the signature block follows it.
  const split = msg.lastIndexOf("\n\n");
  if (split < 0) throw malformed("no blank line before the signatures");
  const text = msg.slice(0, split + 1);
  const block = msg.slice(split + 2);
  if (block.length === 0 || !block.endsWith("\n")) throw malformed("signature block must end with a newline");

  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_NOTE_SIGNATURES) {
    throw malformed("too many signatures", { limit: MAX_NOTE_SIGNATURES });
  }
  const signatures = lines.map((line, i) => {
    if (!line.startsWith(SIGNATURE_PREFIX)) {
      throw malformed("signature line must start with an em dash", { line: i });
    }
    const rest = line.slice(SIGNATURE_PREFIX.length);
    const space = rest.indexOf(" ");
    const name = space < 0 ? rest : rest.slice(0, space);
    const bytes = space < 0 ? undefined : decodeBase64Strict(rest.slice(space + 1));
    if (!isValidKeyName(name)) throw malformed("invalid key name", { line: i });
    // Four bytes of key id and at least one of signature.
    if (bytes === undefined || bytes.length < 5) throw malformed("invalid signature encoding", { line: i });
    const keyId = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
    return { name, keyId, signature: bytes.slice(4) };
  });
  return { text, signatures };
}

function checkText(text: string): void {
  if (!text.endsWith("\n")) throw new VaultError("NOTE_INVALID", "note text must end with a newline");
  if (!isNoteSafeText(text)) {
    throw new VaultError("NOTE_INVALID", "note text contains control characters or unpaired surrogates");
  }
}

function signatureLine(sig: NoteSignature): string {
  const bytes = new Uint8Array(4 + sig.signature.length);
  new DataView(bytes.buffer).setUint32(0, sig.keyId);
  bytes.set(sig.signature, 4);
  return `${SIGNATURE_PREFIX}${sig.name} ${encodeBase64(bytes)}\n`;
}

/** Serializes a note. Throws NOTE_INVALID if it would not parse back to the same value. */
export function formatNote(note: Note): string {
  checkText(note.text);
  if (note.signatures.length === 0) {
    throw new VaultError("NOTE_INVALID", "a note needs at least one signature");
  }
  if (note.signatures.length > MAX_NOTE_SIGNATURES) {
    throw new VaultError("NOTE_INVALID", "too many signatures");
  }
  let out = `${note.text}\n`;
  for (const sig of note.signatures) {
    if (!isValidKeyName(sig.name)) throw new VaultError("NOTE_INVALID", "invalid key name in signature");
    if (
      !Number.isInteger(sig.keyId) ||
      sig.keyId < 0 ||
      sig.keyId > 0xffffffff ||
      sig.signature.length === 0
    ) {
      throw new VaultError("NOTE_INVALID", "invalid signature");
    }
    out += signatureLine(sig);
  }
  return out;
}

async function signatures(text: string, signers: readonly NoteSigner[]): Promise<NoteSignature[]> {
  const bytes = utf8(text);
  const out: NoteSignature[] = [];
  for (const s of signers) out.push({ name: s.name, keyId: s.keyId, signature: await s.sign(bytes) });
  return out;
}

/** Signs `text` (which must end in a newline) with each signer, in order. */
export async function signNote(text: string, signers: readonly NoteSigner[]): Promise<string> {
  checkText(text);
  if (signers.length === 0) throw new VaultError("INVALID_ARGUMENT", "at least one signer is needed");
  return formatNote({ text, signatures: await signatures(text, signers) });
}

/**
 * Adds signatures to an already signed note (for example a witness cosigning a checkpoint).
 * Existing lines are kept, except those by a key (name and id) that signs again here.
 * Does not verify the existing signatures.
 */
export async function addNoteSignatures(
  message: string | Uint8Array,
  signers: readonly NoteSigner[],
): Promise<string> {
  const note = parseNote(message);
  const fresh = await signatures(note.text, signers);
  const replaced = new Set(fresh.map((s) => `${s.name}+${s.keyId}`));
  const kept = note.signatures.filter((s) => !replaced.has(`${s.name}+${s.keyId}`));
  return formatNote({ text: note.text, signatures: [...kept, ...fresh] });
}

function verifierMap(verifiers: readonly NoteVerifier[]): Map<string, NoteVerifier> {
  const byKey = new Map<string, NoteVerifier>();
  for (const v of verifiers) {
    const key = `${v.name}+${formatKeyId(v.keyId)}`;
    // Two keys with one name and id would make a signature's meaning ambiguous.
    if (byKey.has(key)) throw new VaultError("INVALID_ARGUMENT", `ambiguous verifier key ${key}`);
    byKey.set(key, v);
  }
  return byKey;
}

/**
 * Parses a note and checks its signatures against the known verifiers (§Signatures).
 * Throws NOTE_INVALID (details.reason "bad-signature" or "unverified") unless every signature
 * by a known key verifies and there is at least one.
 */
export function openNote(message: string | Uint8Array, verifiers: readonly NoteVerifier[]): OpenedNote {
  const note = parseNote(message);
  const known = verifierMap(verifiers);
  const text = utf8(note.text);
  const verified: NoteSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seenKeys = new Set<string>();
  const seenLines = new Set<string>();
  for (const sig of note.signatures) {
    const key = `${sig.name}+${formatKeyId(sig.keyId)}`;
    const verifier = known.get(key);
    if (verifier === undefined) {
      const line = signatureLine(sig);
      if (!seenLines.has(line)) unverified.push(sig);
      seenLines.add(line);
      continue;
    }
    if (!verifier.verify(text, sig.signature)) {
      throw new VaultError("NOTE_INVALID", `invalid signature for key ${key}`, {
        details: { reason: "bad-signature", key },
      });
    }
    if (!seenKeys.has(key)) verified.push(sig);
    seenKeys.add(key);
  }
  if (verified.length === 0) {
    throw new VaultError("NOTE_INVALID", "note has no signature by a known key", {
      details: { reason: "unverified" },
    });
  }
  return { text: note.text, verified, unverified };
}
