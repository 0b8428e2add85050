/**
 * Principals and their tokens.
 *
 * A token is `<prefix><26-char id>_<43-char secret>`: the prefix (vvt_ API, vve_ enrolment, vvs_
 * contractor session) lets secret scanners recognise a leaked voxvault token; the id finds the
 * row; only SHA-256("voxvault/token/v1" || secret) is stored, compared in constant time. Tokens are
 * scoped (role, purposes, subject), expiring, revocable, and record their last use.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Actor } from "../audit/events.js";
import { recordEvent } from "../audit/record.js";
import { equalBytes } from "../crypto/bytes.js";
import { VaultError } from "../errors.js";
import { newId, parseId } from "../ids.js";
import type { MetaDb } from "../store/meta/index.js";
import type { PrincipalsTable, Role, TokensTable } from "../store/meta/schema-access.js";
import type { VaultDeps } from "../vault/deps.js";
import { hasPasskey } from "./passkeys.js";
import { loadSubject, requireActive, requireNotShredded } from "../vault/subjects.js";
import type { ResolvedAccess } from "./config.js";
import { ROLES } from "./roles.js";

export { ROLES } from "./roles.js";
export type TokenKind = TokensTable["kind"];
const PREFIX: Record<TokenKind, string> = { api: "vvt_", enrolment: "vve_", session: "vvs_" };
const TOKEN_RE = /^(vvt|vve|vvs)_([0-9a-hjkmnp-tv-z]{26})_([A-Za-z0-9_-]{43})$/;
/** Operator-chosen text: bounded, printable, no control characters or markup. */
export const LABEL_PATTERN = "^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$";
const LABEL_RE = new RegExp(LABEL_PATTERN);

export interface Principal {
  readonly id: string;
  readonly role: Role;
  readonly label: string;
  readonly subjectId: string | null;
  readonly application: string | null;
}

export interface TokenInfo {
  readonly id: string;
  readonly principalId: string;
  /** The principal's label (`token create --label`; a contractor's subject, a consumer's application). */
  readonly label: string;
  readonly role: Role;
  readonly kind: TokenKind;
  readonly purposes: readonly string[];
  readonly subjectId: string | null;
  readonly createdAt: string;
  readonly expiresAt: string;
  readonly revokedAt: string | null;
  readonly lastUsedAt: string | null;
  readonly useCount: number;
}

export interface Authenticated {
  readonly principal: Principal;
  readonly token: TokenInfo;
}

export interface CreateTokenInput {
  readonly role: Role;
  /** Names the principal (an operator's handle, an application's name); default: the role. */
  readonly label?: string | undefined;
  readonly purposes?: readonly string[] | undefined;
  readonly subjectId?: string | undefined;
  /** Consumer tokens belong to a registered application. */
  readonly application?: string | undefined;
  readonly ttlMs?: number | undefined;
  readonly kind?: TokenKind | undefined;
  readonly maxUses?: number | undefined;
}

export function hashSecret(secret: string): Buffer {
  return createHash("sha256").update("voxvault/token/v1\n").update(secret).digest();
}

export function toTokenInfo(r: TokensTable, label: string): TokenInfo {
  return {
    id: r.id,
    principalId: r.principal_id,
    label,
    role: r.role,
    kind: r.kind,
    purposes: JSON.parse(r.purposes) as string[],
    subjectId: r.subject_id,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
    useCount: r.use_count,
  };
}

function toPrincipal(r: PrincipalsTable): Principal {
  return { id: r.id, role: r.role, label: r.label, subjectId: r.subject_id, application: r.application };
}

type Deps = Pick<VaultDeps, "meta" | "actor" | "now"> & {
  readonly access: ResolvedAccess;
  readonly purposes: () => readonly string[];
  /** Shared across actor views: when each token's last use was last written. */
  readonly lastUse: Map<string, number>;
};

/** How often last_used_at is written per token (every use would make each read a write). */
const LAST_USED_GRANULARITY_MS = 60_000;

export function createTokenService(deps: Deps) {
  const lastUseWritten = deps.lastUse;

  async function principalFor(
    trx: MetaDb,
    input: CreateTokenInput,
    subjectId: string | null,
  ): Promise<PrincipalsTable> {
    // Contractor and consumer principals are named by their subject and application; a label
    // given for them would otherwise vanish without a trace.
    if ((input.role === "contractor" || input.role === "consumer") && input.label !== undefined)
      throw new VaultError(
        "INVALID_ARGUMENT",
        `a ${input.role} token is named by its ${input.role === "contractor" ? "subject" : "application"}; --label is for operator, auditor and admin tokens`,
      );
    const label =
      input.role === "contractor"
        ? subjectId!
        : input.role === "consumer"
          ? input.application!
          : (input.label ?? input.role);
    if (!LABEL_RE.test(label))
      throw new VaultError("INVALID_ARGUMENT", "principal label must be 1-64 characters [A-Za-z0-9 ._@-]");
    const existing = await trx
      .selectFrom("principals")
      .selectAll()
      .where("role", "=", input.role)
      .where("label", "=", label)
      .executeTakeFirst();
    if (existing) {
      if (existing.status !== "active")
        throw new VaultError("INVALID_ARGUMENT", `principal ${existing.id} is suspended`);
      return existing;
    }
    const row: PrincipalsTable = {
      id: newId("prn"),
      role: input.role,
      label,
      subject_id: subjectId,
      application: input.role === "consumer" ? input.application! : null,
      created_at: deps.now().toISOString(),
      status: "active",
    };
    await trx.insertInto("principals").values(row).execute();
    return row;
  }

  async function create(
    input: CreateTokenInput,
    trxIn?: MetaDb,
    actor: Actor = deps.actor,
    viaPasskey = false,
  ): Promise<{ token: string; info: TokenInfo }> {
    if (!ROLES.includes(input.role))
      throw new VaultError("INVALID_ARGUMENT", `role must be one of ${ROLES.join(", ")}`);
    const kind = input.kind ?? "api";
    const ttl =
      input.ttlMs ??
      (kind === "enrolment"
        ? deps.access.tokens.enrolmentTtlMs
        : kind === "session"
          ? deps.access.tokens.sessionTtlMs
          : deps.access.tokens.defaultTtlMs);
    if (!Number.isSafeInteger(ttl) || ttl <= 0 || ttl > deps.access.tokens.maxTtlMs) {
      throw new VaultError(
        "INVALID_ARGUMENT",
        "token lifetime must be positive and within the configured maximum",
      );
    }
    const purposes = [...new Set(input.purposes ?? [])];
    const known = deps.purposes();
    for (const p of purposes)
      if (!known.includes(p)) throw new VaultError("INVALID_ARGUMENT", `unknown purpose ${p}`);
    if (input.role === "consumer") {
      if (purposes.length === 0)
        throw new VaultError("INVALID_ARGUMENT", "consumer tokens need at least one purpose");
      if (!input.application)
        throw new VaultError("INVALID_ARGUMENT", "consumer tokens belong to an application (--application)");
    } else if (purposes.length > 0) {
      throw new VaultError("INVALID_ARGUMENT", "only consumer tokens carry purposes");
    }
    if (input.role === "contractor" && !input.subjectId)
      throw new VaultError("INVALID_ARGUMENT", "contractor tokens are bound to a subject");
    if (input.role !== "contractor" && input.subjectId)
      throw new VaultError("INVALID_ARGUMENT", "only contractor tokens are bound to a subject");
    const run = async (trx: MetaDb) => {
      let subjectId: string | null = null;
      if (input.subjectId) {
        const s = await loadSubject(trx, input.subjectId);
        // A passkey signs its contractor in during the soft-delete window too: to see what will
        // be erased, and to cancel it. Every other credential needs an active subject.
        if (viaPasskey) requireNotShredded(s);
        else requireActive(s);
        subjectId = s.id;
        // Once a contractor has a passkey, only the passkey makes their sessions: no operator or
        // admin can mint a link or token that acts as them (docs/portal.md, Passkeys).
        if (input.role === "contractor" && !viaPasskey && (await hasPasskey(trx, s.id)))
          throw new VaultError(
            "CONFLICT",
            `subject ${s.id} signs in with a passkey; no other contractor credential can be made for it`,
          );
      }
      if (input.role === "consumer") {
        const app = await trx
          .selectFrom("applications")
          .selectAll()
          .where("name", "=", input.application!)
          .executeTakeFirst();
        if (!app)
          throw new VaultError("INVALID_ARGUMENT", `no application ${input.application}; register it first`);
        const allowed = JSON.parse(app.purposes) as string[];
        for (const p of purposes)
          if (!allowed.includes(p))
            throw new VaultError("INVALID_ARGUMENT", `application ${app.name} is not registered for ${p}`);
      }
      const principal = await principalFor(trx, input, subjectId);
      const id = newId("tok");
      const secret = randomBytes(32).toString("base64url");
      const now = deps.now();
      const row: TokensTable = {
        id,
        principal_id: principal.id,
        secret_hash: hashSecret(secret),
        role: input.role,
        purposes: JSON.stringify(purposes),
        subject_id: subjectId,
        kind,
        created_at: now.toISOString(),
        expires_at: new Date(now.getTime() + ttl).toISOString(),
        revoked_at: null,
        last_used_at: null,
        use_count: 0,
        max_uses: input.maxUses ?? null,
      };
      await trx.insertInto("tokens").values(row).execute();
      await recordEvent(trx, actor, {
        type: "token.created",
        tokenId: id,
        principalId: principal.id,
        role: input.role,
        kind,
        label: principal.label,
        ...(subjectId ? { subjectId } : {}),
        expiresAt: row.expires_at,
      });
      return { token: `${PREFIX[kind]}${id.slice(4)}_${secret}`, info: toTokenInfo(row, principal.label) };
    };
    return trxIn ? run(trxIn) : deps.meta.write(run);
  }

  /**
   * Verifies a presented token; UNAUTHENTICATED for anything but a live, matching token of one of
   * the expected kinds (the API accepts api and session tokens; only /v1/enrol takes enrolment ones).
   */
  async function authenticate(
    presented: string,
    expectKind?: TokenKind | readonly TokenKind[],
  ): Promise<Authenticated> {
    const m = TOKEN_RE.exec(presented);
    const fail = (why: string) => new VaultError("UNAUTHENTICATED", why);
    if (!m) throw fail("malformed token");
    const kind = (Object.keys(PREFIX) as TokenKind[]).find((k) => PREFIX[k] === `${m[1]}_`)!;
    const kinds: readonly TokenKind[] | undefined =
      typeof expectKind === "string" ? [expectKind] : expectKind;
    if (kinds && !kinds.includes(kind)) throw fail("wrong kind of token for this endpoint");
    const id = `tok_${m[2]}`;
    const row = await deps.meta.db
      .selectFrom("tokens")
      .innerJoin("principals", "principals.id", "tokens.principal_id")
      .selectAll("tokens")
      .leftJoin("subjects", "subjects.id", "tokens.subject_id")
      .select([
        "principals.label",
        "principals.application",
        "principals.status as principal_status",
        "subjects.status as subject_status",
      ])
      .where("tokens.id", "=", id)
      .executeTakeFirst();
    // Compare a hash even for unknown ids so timing does not reveal which ids exist.
    const presentedHash = hashSecret(m[3]!);
    const ok = row ? equalBytes(presentedHash, row.secret_hash) : equalBytes(presentedHash, hashSecret("x"));
    if (!row || !ok) throw fail("unknown token");
    if (row.kind !== kind) throw fail("unknown token");
    const now = deps.now();
    if (row.revoked_at) throw fail("token revoked");
    if (Date.parse(row.expires_at) <= now.getTime()) throw fail("token expired");
    if (row.principal_status !== "active") throw fail("principal suspended");
    // A contractor's tokens, sessions and enrolment links end with its subject: checked here, on
    // every use, so no token of a shredded subject works on any instance, whenever it was made.
    if (row.subject_status === "shredded") throw fail("subject erased");
    if (row.max_uses !== null && row.use_count >= row.max_uses) throw fail("token already used");
    // Single-use tokens (max_uses) are counted only by consume(), in the transaction that uses
    // them; counting the authentication too would spend the one use before it is exercised.
    const last = lastUseWritten.get(id) ?? 0;
    if (row.max_uses === null && now.getTime() - last >= LAST_USED_GRANULARITY_MS) {
      lastUseWritten.set(id, now.getTime());
      await deps.meta.write(async (trx) => {
        await trx
          .updateTable("tokens")
          .set({ last_used_at: now.toISOString(), use_count: row.use_count + 1 })
          .where("id", "=", id)
          .execute();
      });
    }
    return {
      principal: {
        id: row.principal_id,
        role: row.role,
        label: row.label,
        subjectId: row.subject_id,
        application: row.application,
      },
      token: toTokenInfo(row, row.label),
    };
  }

  /** Consumes a single-use token (enrolment) inside the caller's transaction. */
  async function consume(trx: MetaDb, tokenId: string): Promise<void> {
    const r = await trx
      .selectFrom("tokens")
      .select(["use_count", "max_uses"])
      .where("id", "=", tokenId)
      .executeTakeFirst();
    if (!r || (r.max_uses !== null && r.use_count >= r.max_uses))
      throw new VaultError("UNAUTHENTICATED", "token already used");
    await trx
      .updateTable("tokens")
      .set({ use_count: r.use_count + 1, last_used_at: deps.now().toISOString() })
      .where("id", "=", tokenId)
      .execute();
  }

  return {
    create: (input: CreateTokenInput) => create(input),
    authenticate,

    /** A contractor session made by a verified passkey assertion, in the caller's transaction. */
    passkeySession: (subjectId: string, trx: MetaDb, actor: Actor) =>
      create({ role: "contractor", subjectId, kind: "session" }, trx, actor, true),

    /**
     * Exchanges a one-time enrolment token for a contractor session: the token is used up, the
     * session created and `enrolment.completed` recorded in one transaction, as the contractor.
     */
    async completeEnrolment(
      secret: string,
    ): Promise<{ sessionToken: string; subjectId: string; expiresAt: string }> {
      const auth = await authenticate(secret, "enrolment");
      const subjectId = auth.token.subjectId;
      if (!subjectId) throw new VaultError("UNAUTHENTICATED", "enrolment token without subject");
      const actor: Actor = { type: "principal", id: auth.principal.id, role: auth.principal.role };
      return deps.meta.write(async (trx) => {
        await consume(trx, auth.token.id);
        const session = await create({ role: "contractor", subjectId, kind: "session" }, trx, actor);
        await recordEvent(trx, actor, {
          type: "enrolment.completed",
          subjectId,
          tokenId: auth.token.id,
          sessionTokenId: session.info.id,
        });
        return { sessionToken: session.token, subjectId, expiresAt: session.info.expiresAt };
      });
    },

    async list(
      filter: { role?: Role | undefined; includeRevoked?: boolean | undefined } = {},
    ): Promise<TokenInfo[]> {
      let q = deps.meta.db
        .selectFrom("tokens")
        .innerJoin("principals", "principals.id", "tokens.principal_id")
        .selectAll("tokens")
        .select("principals.label")
        .orderBy("tokens.created_at")
        .orderBy("tokens.id");
      if (filter.role) q = q.where("tokens.role", "=", filter.role);
      if (!filter.includeRevoked) q = q.where("tokens.revoked_at", "is", null);
      return (await q.execute()).map((r) => toTokenInfo(r, r.label));
    },

    async revoke(tokenId: string, reason = "revoked by admin", suspended = false): Promise<TokenInfo> {
      const id = parseId("tok", tokenId, "token id");
      return deps.meta.write(async (trx) => {
        const row = await trx
          .selectFrom("tokens")
          .innerJoin("principals", "principals.id", "tokens.principal_id")
          .selectAll("tokens")
          .select("principals.label")
          .where("tokens.id", "=", id)
          .executeTakeFirst();
        if (!row) throw new VaultError("NOT_FOUND", `no token ${id}`);
        if (row.revoked_at) return toTokenInfo(row, row.label);
        const at = deps.now().toISOString();
        await trx.updateTable("tokens").set({ revoked_at: at }).where("id", "=", id).execute();
        await recordEvent(trx, deps.actor, {
          type: suspended ? "token.suspended" : "token.revoked",
          tokenId: id,
          reason,
        });
        lastUseWritten.delete(id);
        return toTokenInfo({ ...row, revoked_at: at }, row.label);
      });
    },

    async principal(id: string): Promise<Principal> {
      const row = await deps.meta.db
        .selectFrom("principals")
        .selectAll()
        .where("id", "=", parseId("prn", id))
        .executeTakeFirst();
      if (!row) throw new VaultError("NOT_FOUND", `no principal ${id}`);
      return toPrincipal(row);
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
