/**
 * C2SP signed notes and checkpoints, as the vault's log writes them (docs/tlog.md): the note text,
 * a blank line, then lines "— name base64(key id ‖ signature)". Verifier keys (vkeys) are
 * "name+hex key id+base64(type ‖ Ed25519 public key)", type 0x01 for the log, 0x04 for a witness
 * (c2sp.org/tlog-cosignature: the signature is an 8-byte timestamp and an Ed25519 signature over
 * "cosignature/v1\ntime T\n" ‖ the checkpoint text). Key id = SHA-256(name ‖ 0x0A ‖ type ‖ key)[:4].
 */
import { concat, ed25519Verify, fromB64, ProofError, same, sha256, utf8 } from "./bytes.js";

export interface VerifierKey {
  readonly name: string;
  readonly keyId: Uint8Array;
  readonly type: 1 | 4;
  readonly key: Uint8Array;
}

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
}

export interface OpenedCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly text: string;
  /** Names of the witnesses whose cosignatures verified. */
  readonly witnesses: readonly string[];
}

export async function parseVkey(vkey: string): Promise<VerifierKey> {
  // name+id+material: base64 may hold "+" itself, so only the first two separate fields.
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+(\S+)$/.exec(vkey);
  if (!m) throw new ProofError("bad verifier key");
  const [, name, id, material] = m as unknown as [string, string, string, string];
  const bytes = fromB64(material, "verifier key");
  const type = bytes[0];
  if ((type !== 1 && type !== 4) || bytes.length !== 33) throw new ProofError("unsupported verifier key");
  const key = bytes.slice(1);
  const keyId = (await sha256(concat(utf8(name), Uint8Array.of(0x0a, type), key))).slice(0, 4);
  if (!same(keyId, Uint8Array.from(id.match(/../g)!.map((h) => parseInt(h, 16)))))
    throw new ProofError("verifier key id does not match the key");
  return { name, keyId, type, key };
}

/** Opens a checkpoint note: a signature by one of `logKeys` must verify; witness cosignatures are counted. */
export async function openCheckpoint(
  note: string,
  origin: string,
  logKeys: readonly VerifierKey[],
  witnessKeys: readonly VerifierKey[],
): Promise<OpenedCheckpoint> {
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n")) throw new ProofError("checkpoint is not a signed note");
  const text = note.slice(0, split + 1);
  let logSigned = false;
  const witnesses: string[] = [];
  for (const line of note.slice(split + 2, -1).split("\n")) {
    if (!line.startsWith("\u2014 ")) throw new ProofError("bad signature line");
    const [name, b64, ...rest] = line.slice(2).split(" ");
    if (!name || !b64 || rest.length > 0) throw new ProofError("bad signature line");
    const sig = fromB64(b64, "signature");
    if (sig.length < 5) throw new ProofError("bad signature");
    const id = sig.slice(0, 4);
    const body = sig.slice(4);
    const log = logKeys.find((k) => k.name === name && same(k.keyId, id));
    if (log) {
      // A signature by a trusted key that does not verify is a forgery, not noise.
      if (!(await ed25519Verify(log.key, utf8(text), body)))
        throw new ProofError(`log signature by ${name} does not verify`);
      logSigned = true;
      continue;
    }
    const witness = witnessKeys.find((k) => k.name === name && same(k.keyId, id));
    if (witness && body.length === 72) {
      const time = new DataView(body.buffer, body.byteOffset, 8).getBigUint64(0);
      const msg = utf8(`cosignature/v1\ntime ${time.toString()}\n${text}`);
      if (!(await ed25519Verify(witness.key, msg, body.slice(8))))
        throw new ProofError(`cosignature by ${name} does not verify`);
      witnesses.push(name);
    }
  }
  if (!logSigned) throw new ProofError("the checkpoint is not signed by a log key you trust");
  const [o, size, root] = text.split("\n");
  if (o !== origin) throw new ProofError("the checkpoint is for another log");
  if (!size || !/^(0|[1-9][0-9]{0,15})$/.test(size)) throw new ProofError("bad checkpoint size");
  const rootHash = fromB64(root ?? "", "checkpoint root");
  if (rootHash.length !== 32) throw new ProofError("bad checkpoint root");
  return { checkpoint: { origin, size: Number(size), root: rootHash }, text, witnesses };
}
