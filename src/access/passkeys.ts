/**
 * Contractors' passkeys (WebAuthn). An enrolment link signs a contractor in once; they register a
 * passkey, and from then on only the passkey makes their sessions: the registration revokes their
 * unused enrolment links in the same transaction, and no operator or admin can make another
 * contractor credential for them (tokens.ts). An operator can reset a lost passkey — an audited
 * event the contractor sees in their log — after which a new enrolment link can be made.
 *
 * Ceremonies are single-use challenges (32 random bytes, kept only as a hash, 5 minutes). The
 * relying party (RP ID and origin) is the vault's configured public URL: without one there are no
 * passkeys, because the origin a browser reports must be checked against something the vault
 * chose, never the request's Host header.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Actor } from "../audit/events.js";
import { recordEvent } from "../audit/record.js";
import { VaultError } from "../errors.js";
import type { MetaDb } from "../store/meta/index.js";
import type { VaultDeps } from "../vault/deps.js";
import { loadSubject, requireActive, requireNotShredded } from "../vault/subjects.js";
import type { TokenService } from "./tokens.js";
import {
  fromBase64Url,
  toBase64Url,
  verifyAssertion,
  verifyRegistration,
  type AssertionResponse,
  type RegistrationResponse,
  type RelyingParty,
} from "./webauthn/verify.js";

export type { RelyingParty } from "./webauthn/verify.js";

const CHALLENGE_TTL_MS = 5 * 60_000;
const RP_NAME = "voxvault";

export interface PasskeyInfo {
  /** base64url of the credential id (not secret: an authenticator's handle for the key). */
  readonly credentialId: string;
  readonly alg: number;
  readonly backupEligible: boolean;
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
}

type Deps = Pick<VaultDeps, "meta" | "actor" | "now"> & { readonly tokens: TokenService };

export async function hasPasskey(db: MetaDb, subjectId: string): Promise<boolean> {
  const row = await db
    .selectFrom("passkeys")
    .select("credential_id")
    .where("subject_id", "=", subjectId)
    .executeTakeFirst();
  return row !== undefined;
}

/** The relying party of a vault served at `origin` (https, or http on loopback). */
export function relyingParty(origin: string | undefined): RelyingParty {
  if (!origin)
    throw new VaultError("CONFLICT", "passkeys need the vault's public URL (voxvault serve --public-url)");
  return { id: new URL(origin).hostname, origin };
}

const challengeHash = (c: Uint8Array) =>
  createHash("sha256").update("voxvault/webauthn-challenge/v1\n").update(c).digest();

/** The challenge a ceremony's client data names (verified again, byte for byte, by the verifier). */
function challengeOf(clientDataJSON: string): Uint8Array {
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(fromBase64Url(clientDataJSON, "clientDataJSON")).toString("utf8"));
  } catch {
    throw new VaultError("UNAUTHENTICATED", "passkey refused: client data is not JSON");
  }
  const challenge = (c as { challenge?: unknown }).challenge;
  if (typeof challenge !== "string") throw new VaultError("UNAUTHENTICATED", "passkey refused: no challenge");
  return fromBase64Url(challenge, "challenge");
}

export function createPasskeyService(deps: Deps) {
  async function newChallenge(kind: "register" | "authenticate", subjectId: string | null): Promise<string> {
    const challenge = randomBytes(32);
    const now = deps.now();
    await deps.meta.write(async (trx) => {
      // Expired challenges go as new ones come: the table holds only live ceremonies.
      await trx.deleteFrom("webauthn_challenges").where("expires_at", "<", now.toISOString()).execute();
      await trx
        .insertInto("webauthn_challenges")
        .values({
          challenge_hash: challengeHash(challenge),
          kind,
          subject_id: subjectId,
          expires_at: new Date(now.getTime() + CHALLENGE_TTL_MS).toISOString(),
        })
        .execute();
    });
    return toBase64Url(challenge);
  }

  /** Spends a challenge of `kind` (and subject) in `trx`: UNAUTHENTICATED when unknown, used, expired or another's. */
  async function spend(
    trx: MetaDb,
    challenge: Uint8Array,
    kind: string,
    subjectId: string | null,
  ): Promise<void> {
    const hash = challengeHash(challenge);
    const row = await trx
      .selectFrom("webauthn_challenges")
      .selectAll()
      .where("challenge_hash", "=", hash)
      .executeTakeFirst();
    if (
      row?.kind !== kind ||
      row.subject_id !== subjectId ||
      Date.parse(row.expires_at) <= deps.now().getTime()
    )
      throw new VaultError("UNAUTHENTICATED", "passkey refused: unknown, used or expired challenge");
    await trx.deleteFrom("webauthn_challenges").where("challenge_hash", "=", hash).execute();
  }

  return {
    /** PublicKeyCredentialCreationOptions (JSON form, §5.4) for the subject's new passkey. */
    async registrationOptions(subjectId: string, rp: RelyingParty) {
      const s = await loadSubject(deps.meta.db, subjectId);
      requireActive(s);
      const existing = await deps.meta.db
        .selectFrom("passkeys")
        .select("credential_id")
        .where("subject_id", "=", s.id)
        .execute();
      return {
        challenge: await newChallenge("register", s.id),
        rp: { id: rp.id, name: RP_NAME },
        // The user handle is the opaque subject id: no name, e-mail or reference (§14.6.1).
        user: { id: toBase64Url(Buffer.from(s.id)), name: s.id, displayName: "voxvault" },
        pubKeyCredParams: [
          { type: "public-key" as const, alg: -8 },
          { type: "public-key" as const, alg: -7 },
        ],
        timeout: CHALLENGE_TTL_MS,
        attestation: "none" as const,
        authenticatorSelection: { residentKey: "required" as const, userVerification: "required" as const },
        excludeCredentials: existing.map((e) => ({ type: "public-key" as const, id: e.credential_id })),
      };
    },

    /** Verifies and stores a new passkey; revokes the subject's unused enrolment links. */
    async register(
      subjectId: string,
      response: RegistrationResponse,
      rp: RelyingParty,
    ): Promise<PasskeyInfo> {
      const challenge = challengeOf(response.clientDataJSON);
      // Spent in its own transaction, so a failed attempt uses it up too.
      await deps.meta.write((trx) => spend(trx, challenge, "register", subjectId));
      return deps.meta.write(async (trx) => {
        const s = await loadSubject(trx, subjectId);
        requireActive(s);
        const cred = verifyRegistration(response, challenge, rp);
        const credentialId = toBase64Url(cred.credentialId);
        const taken = await trx
          .selectFrom("passkeys")
          .select("subject_id")
          .where("credential_id", "=", credentialId)
          .executeTakeFirst();
        if (taken) throw new VaultError("CONFLICT", "that passkey is already registered");
        const at = deps.now().toISOString();
        await trx
          .insertInto("passkeys")
          .values({
            credential_id: credentialId,
            subject_id: s.id,
            public_key: Buffer.from(cred.publicKey),
            alg: cred.alg,
            sign_count: cred.signCount,
            backup_eligible: cred.backupEligible ? 1 : 0,
            created_at: at,
            last_used_at: null,
          })
          .execute();
        const links = await trx
          .updateTable("tokens")
          .set({ revoked_at: at })
          .where("subject_id", "=", s.id)
          .where("kind", "=", "enrolment")
          .where("revoked_at", "is", null)
          .executeTakeFirst();
        await recordEvent(trx, deps.actor, {
          type: "passkey.registered",
          subjectId: s.id,
          credentialId,
          alg: cred.alg,
          enrolmentLinksRevoked: Number(links.numUpdatedRows),
        });
        return {
          credentialId,
          alg: cred.alg,
          backupEligible: cred.backupEligible,
          createdAt: at,
          lastUsedAt: null,
        };
      });
    },

    /** Options for signing in with a discoverable passkey (no account named: §5.5). */
    async authenticationOptions(rp: RelyingParty) {
      return {
        challenge: await newChallenge("authenticate", null),
        rpId: rp.id,
        timeout: CHALLENGE_TTL_MS,
        userVerification: "required" as const,
        allowCredentials: [] as const,
      };
    },

    /** Verifies an assertion and makes a contractor session, as that contractor. */
    async authenticate(
      response: AssertionResponse,
      rp: RelyingParty,
    ): Promise<{ sessionToken: string; subjectId: string; expiresAt: string }> {
      const challenge = challengeOf(response.clientDataJSON);
      const credentialId = toBase64Url(fromBase64Url(response.rawId, "rawId"));
      await deps.meta.write((trx) => spend(trx, challenge, "authenticate", null));
      return deps.meta.write(async (trx) => {
        const key = await trx
          .selectFrom("passkeys")
          .selectAll()
          .where("credential_id", "=", credentialId)
          .executeTakeFirst();
        if (!key) throw new VaultError("UNAUTHENTICATED", "passkey refused: unknown credential");
        const s = await loadSubject(trx, key.subject_id);
        requireNotShredded(s);
        const signCount = verifyAssertion(
          response,
          { publicKey: key.public_key, signCount: key.sign_count },
          challenge,
          rp,
        );
        const at = deps.now().toISOString();
        await trx
          .updateTable("passkeys")
          .set({ sign_count: signCount, last_used_at: at })
          .where("credential_id", "=", credentialId)
          .execute();
        const principal = await trx
          .selectFrom("principals")
          .select(["id", "role"])
          .where("subject_id", "=", s.id)
          .where("role", "=", "contractor")
          .executeTakeFirst();
        const actor: Actor = principal
          ? { type: "principal", id: principal.id, role: principal.role }
          : deps.actor;
        const session = await deps.tokens.passkeySession(s.id, trx, actor);
        await recordEvent(trx, actor, {
          type: "passkey.used",
          subjectId: s.id,
          credentialId,
          sessionTokenId: session.info.id,
        });
        return { sessionToken: session.token, subjectId: s.id, expiresAt: session.info.expiresAt };
      });
    },

    async list(subjectId: string): Promise<PasskeyInfo[]> {
      const s = await loadSubject(deps.meta.db, subjectId);
      requireNotShredded(s);
      const rows = await deps.meta.db
        .selectFrom("passkeys")
        .selectAll()
        .where("subject_id", "=", s.id)
        .orderBy("created_at")
        .execute();
      return rows.map((r) => ({
        credentialId: r.credential_id,
        alg: r.alg,
        backupEligible: r.backup_eligible === 1,
        createdAt: r.created_at,
        lastUsedAt: r.last_used_at,
      }));
    },

    /** Removes every passkey of a subject (a lost device); a new enrolment link can then be made. */
    async reset(subjectId: string): Promise<{ removed: number }> {
      return deps.meta.write(async (trx) => {
        const s = await loadSubject(trx, subjectId);
        requireNotShredded(s);
        const out = await trx.deleteFrom("passkeys").where("subject_id", "=", s.id).executeTakeFirst();
        const removed = Number(out.numDeletedRows);
        await recordEvent(trx, deps.actor, { type: "passkey.reset", subjectId: s.id, removed });
        return { removed };
      });
    },
  };
}

export type PasskeyService = ReturnType<typeof createPasskeyService>;
