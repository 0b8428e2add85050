/**
 * Quorum unseal (docs/format.md §9.3): the key that seals a root key file is split M-of-N among
 * named officers with Shamir's scheme (src/crypto/shamir.ts).
 *
 * Shamir alone is silent: fewer than M shares, or one altered share, interpolate to some other
 * value. Two commitments make that impossible to miss:
 * - each officer's share is committed in the key file (SHA-256 over vault id, share set, x and
 *   the share), so a wrong, mistyped or foreign share is refused when it is submitted, naming
 *   nobody else's share;
 * - the seal key is committed too, so the combination is checked before it is used (the key
 *   file's AES-GCM tag checks it once more).
 * A share is uniformly random on its own (any M−1 shares are independent of the secret), so its
 * 256-bit commitment reveals nothing a guess could use.
 *
 * A share set is identified by its epoch; resharing makes a new seal key and a new epoch, and the
 * key file re-sealed under it is the only copy left (the replaced copy is overwritten), so shares
 * of an older set open nothing current.
 */
import { z } from "zod";
import { VaultError } from "../errors.js";
import { encodeFields, equalBytes, fromBase64, randomBytes, toBase64, toHex, wipe } from "../crypto/bytes.js";
import { labelledDigest } from "../crypto/kdf.js";
import { combine, split } from "../crypto/shamir.js";

export const SHARE_SCHEME = "shamir-gf256/1";
const SHARE_PREFIX = "voxvault-share/1";
const SEAL_KEY_BYTES = 32;
/** Officers are people; more than this is a mistake in the command line. */
export const MAX_OFFICERS = 64;

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);
export const OFFICER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export const QuorumSchema = z
  .strictObject({
    scheme: z.literal(SHARE_SCHEME),
    epoch: z.string().regex(/^[0-9a-f]{32}$/),
    threshold: z.number().int().min(2).max(MAX_OFFICERS),
    officers: z
      .array(
        z.strictObject({
          name: z.string().regex(OFFICER_NAME),
          x: z.number().int().min(1).max(255),
          commitment: b64,
        }),
      )
      .min(2)
      .max(MAX_OFFICERS),
    /** Commitment to the seal key. */
    secret: b64,
    createdAt: z.string(),
  })
  .refine((q) => q.threshold <= q.officers.length, "threshold above the number of officers")
  .refine((q) => new Set(q.officers.map((o) => o.name)).size === q.officers.length, "officer named twice")
  .refine((q) => new Set(q.officers.map((o) => o.x)).size === q.officers.length, "share x used twice");
export type Quorum = z.infer<typeof QuorumSchema>;

/** A share as an officer holds it: one line of text. */
export interface ParsedShare {
  readonly vaultId: string;
  readonly epoch: string;
  readonly x: number;
  readonly officer: string;
  readonly y: Uint8Array;
}

function shareCommitment(vaultId: string, epoch: string, x: number, y: Uint8Array): Uint8Array {
  return labelledDigest("voxvault/quorum-share/v1", encodeFields([vaultId, epoch, String(x), y]));
}

function secretCommitment(vaultId: string, epoch: string, key: Uint8Array): Uint8Array {
  return labelledDigest("voxvault/quorum-secret/v1", encodeFields([vaultId, epoch, key]));
}

export function formatShare(s: ParsedShare): string {
  return `${SHARE_PREFIX} ${s.vaultId} ${s.epoch} ${s.x} ${s.officer} ${Buffer.from(s.y).toString("base64url")}\n`;
}

/** Parses one share (surrounding white space allowed); anything else is UNSEAL_SHARE_INVALID. */
export function parseShare(text: string): ParsedShare {
  const fields = text.trim().split(" ");
  const bad = (why: string) => new VaultError("UNSEAL_SHARE_INVALID", `not an unseal share: ${why}`);
  if (fields.length !== 6 || fields[0] !== SHARE_PREFIX) throw bad(`expected "${SHARE_PREFIX} …"`);
  const [, vaultId, epoch, xs, officer, ys] = fields as [string, string, string, string, string, string];
  if (!/^[A-Za-z0-9_]{1,64}$/.test(vaultId)) throw bad("vault id");
  if (!/^[0-9a-f]{32}$/.test(epoch)) throw bad("share set id");
  if (!/^[1-9][0-9]{0,2}$/.test(xs) || Number(xs) > 255) throw bad("share number");
  if (!OFFICER_NAME.test(officer)) throw bad("officer name");
  if (!/^[A-Za-z0-9_-]{43}$/.test(ys)) throw bad("share bytes");
  const y = new Uint8Array(Buffer.from(ys, "base64url"));
  if (y.length !== SEAL_KEY_BYTES || Buffer.from(y).toString("base64url") !== ys) throw bad("share bytes");
  return { vaultId, epoch, x: Number(xs), officer, y };
}

export interface NewQuorum {
  readonly quorum: Quorum;
  /** The seal key; the caller seals the key file with it and wipes it. */
  readonly sealKey: Uint8Array;
  /** Each officer's share, by name, as text to hand to that officer alone. */
  readonly shares: ReadonlyMap<string, string>;
}

/** A fresh seal key split `threshold`-of-`officers.length`, with its commitments. */
export function newQuorum(vaultId: string, threshold: number, officers: readonly string[]): NewQuorum {
  if (officers.length < 2 || officers.length > MAX_OFFICERS)
    throw new VaultError("INVALID_ARGUMENT", `a quorum needs 2 to ${MAX_OFFICERS} officers`);
  if (!Number.isInteger(threshold) || threshold < 2 || threshold > officers.length)
    throw new VaultError(
      "INVALID_ARGUMENT",
      `the threshold must be 2..${officers.length} (one officer alone is not a quorum)`,
    );
  for (const name of officers)
    if (!OFFICER_NAME.test(name))
      throw new VaultError(
        "INVALID_ARGUMENT",
        `officer name ${JSON.stringify(name)}: letters, digits and ._@-`,
      );
  if (new Set(officers).size !== officers.length)
    throw new VaultError("INVALID_ARGUMENT", "an officer is named twice");
  const epoch = toHex(randomBytes(16));
  const sealKey = randomBytes(SEAL_KEY_BYTES);
  const parts = split(sealKey, threshold, officers.length);
  const shares = new Map<string, string>();
  const entries = officers.map((name, i) => {
    const { x, y } = parts[i]!;
    shares.set(name, formatShare({ vaultId, epoch, x, officer: name, y }));
    const commitment = toBase64(shareCommitment(vaultId, epoch, x, y));
    wipe(y);
    return { name, x, commitment };
  });
  const quorum: Quorum = {
    scheme: SHARE_SCHEME,
    epoch,
    threshold,
    officers: entries,
    secret: toBase64(secretCommitment(vaultId, epoch, sealKey)),
    createdAt: new Date().toISOString(),
  };
  return { quorum, sealKey, shares };
}

/**
 * Checks one share against the quorum: the right vault, the current share set, and the
 * commitment of the officer it names. Returns the officer's name.
 */
export function checkShare(quorum: Quorum, vaultId: string, share: ParsedShare): string {
  if (share.vaultId !== vaultId)
    throw new VaultError("UNSEAL_SHARE_INVALID", `the share belongs to another vault (${share.vaultId})`);
  if (share.epoch !== quorum.epoch)
    throw new VaultError(
      "UNSEAL_SHARE_INVALID",
      "the share belongs to a share set that was replaced (voxvault keys reshare); ask for the current one",
    );
  const officer = quorum.officers.find((o) => o.x === share.x);
  if (officer?.name !== share.officer)
    throw new VaultError("UNSEAL_SHARE_INVALID", `share ${share.x} is not ${share.officer}'s`);
  const expected = fromBase64(officer.commitment);
  if (!equalBytes(shareCommitment(vaultId, quorum.epoch, share.x, share.y), expected))
    throw new VaultError(
      "UNSEAL_SHARE_INVALID",
      `${officer.name}'s share does not match its commitment (altered or mistyped)`,
    );
  return officer.name;
}

/**
 * The seal key from at least `threshold` shares of distinct officers, each checked against its
 * commitment and the result against the key's. A short set is UNSEAL_QUORUM_SHORT, never a guess.
 */
export function combineShares(quorum: Quorum, vaultId: string, shares: readonly ParsedShare[]): Uint8Array {
  const byOfficer = new Map<string, ParsedShare>();
  for (const s of shares) byOfficer.set(checkShare(quorum, vaultId, s), s);
  if (byOfficer.size < quorum.threshold)
    throw new VaultError(
      "UNSEAL_QUORUM_SHORT",
      `${byOfficer.size} of the ${quorum.threshold} officers' shares needed (of ${quorum.officers.length})`,
    );
  const chosen = [...byOfficer.values()].slice(0, quorum.threshold);
  const key = combine(chosen.map((s) => ({ x: s.x, y: s.y })));
  if (!equalBytes(secretCommitment(vaultId, quorum.epoch, key), fromBase64(quorum.secret))) {
    wipe(key);
    // Reachable only if the key file's quorum was altered: every share matched its commitment.
    throw new VaultError("ROOT_KEY_INVALID", "the shares combine to a key the key file does not commit to");
  }
  return key;
}

/** The quorum's public description (no commitments), for status and doctor. */
export function describeQuorum(q: Quorum): {
  threshold: number;
  officers: string[];
  epoch: string;
  createdAt: string;
} {
  return {
    threshold: q.threshold,
    officers: q.officers.map((o) => o.name),
    epoch: q.epoch,
    createdAt: q.createdAt,
  };
}
