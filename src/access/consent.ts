/**
 * Purpose-bound consent (GDPR Art. 6(1)(a), 7): per subject and purpose, the hash of the exact
 * consent text agreed to, with grant and revoke times. History is kept; the latest unrevoked row
 * is the active consent. Revocation takes effect on the next request (no caching of consent).
 * A grant must cite a text of the purpose's current version (src/access/consent-texts.ts).
 */
import { recordEvent } from "../audit/record.js";
import { VaultError } from "../errors.js";
import { newId } from "../ids.js";
import { currentConsentText } from "./consent-texts.js";
import type { Purpose } from "../ingest/config.js";
import type { MetaDb } from "../store/meta/index.js";
import type { VaultDeps } from "../vault/deps.js";
import { loadSubject, requireActive, requireNotShredded } from "../vault/subjects.js";

export interface ConsentState {
  readonly purpose: string;
  readonly active: boolean;
  readonly consentId: string | null;
  readonly textHash: string | null;
  readonly grantedAt: string | null;
  readonly revokedAt: string | null;
  /** Why the latest grant stopped counting: revoked, or superseded by a new text version. */
  readonly endedBy: "revoked" | "superseded" | null;
  /** The text version the latest grant cites (null: none, or a grant older than stored texts). */
  readonly textVersion: number | null;
  /** The purpose's current text version, which a grant must cite (null: none published yet). */
  readonly currentVersion: number | null;
}

type Deps = Pick<VaultDeps, "meta" | "actor" | "now"> & {
  readonly purposes: () => Readonly<Record<string, Purpose>>;
};

const HASH_RE = /^[0-9a-f]{64}$/;

const NO_CONSENT = {
  active: false,
  consentId: null,
  textHash: null,
  grantedAt: null,
  revokedAt: null,
  endedBy: null,
  textVersion: null,
} as const;

async function textVersion(db: MetaDb, purpose: string, textHash: string): Promise<number | null> {
  const row = await db
    .selectFrom("consent_texts")
    .select("version")
    .where("purpose", "=", purpose)
    .where("text_hash", "=", textHash)
    .executeTakeFirst();
  return row?.version ?? null;
}

/** Rows ended before migration 0011 have no reason recorded: they were revoked. */
function endedBy(reason: string | null, revokedAt: string | null): ConsentState["endedBy"] {
  if (revokedAt === null) return null;
  return reason === "superseded" ? "superseded" : "revoked";
}

export async function hasActiveConsent(db: MetaDb, subjectId: string, purpose: string): Promise<boolean> {
  const row = await db
    .selectFrom("consents")
    .select("id")
    .where("subject_id", "=", subjectId)
    .where("purpose", "=", purpose)
    .where("revoked_at", "is", null)
    .executeTakeFirst();
  return row !== undefined;
}

export function createConsentService(deps: Deps) {
  function checkPurpose(purpose: string): void {
    if (!Object.hasOwn(deps.purposes(), purpose))
      throw new VaultError("INVALID_ARGUMENT", `unknown purpose ${purpose}`);
  }
  return {
    async grant(subjectId: string, purpose: string, textHash: string): Promise<ConsentState> {
      checkPurpose(purpose);
      if (!HASH_RE.test(textHash))
        throw new VaultError("INVALID_ARGUMENT", "textHash must be the hex SHA-256 of the consent text");
      return deps.meta.write(async (trx) => {
        const s = await loadSubject(trx, subjectId);
        requireActive(s);
        // Checked in the write transaction, so a version published meanwhile wins.
        const current = await currentConsentText(trx, purpose);
        const cited = current?.texts.find((t) => t.textHash === textHash);
        if (!current || !cited)
          throw new VaultError(
            "CONSENT_TEXT_UNKNOWN",
            current
              ? `that is not a text of version ${current.version} of ${purpose}, the current one`
              : `no consent text is published for ${purpose}`,
          );
        const at = deps.now().toISOString();
        // A new grant replaces the previous one.
        await trx
          .updateTable("consents")
          .set({ revoked_at: at, ended_by: "replaced" })
          .where("subject_id", "=", s.id)
          .where("purpose", "=", purpose)
          .where("revoked_at", "is", null)
          .execute();
        const id = newId("cns");
        await trx
          .insertInto("consents")
          .values({
            id,
            subject_id: s.id,
            purpose,
            text_hash: textHash,
            granted_at: at,
            revoked_at: null,
            ended_by: null,
          })
          .execute();
        await recordEvent(trx, deps.actor, {
          type: "consent.granted",
          subjectId: s.id,
          purpose,
          textHash,
          consentId: id,
          textVersion: current.version,
          lang: cited.lang,
        });
        return {
          purpose,
          active: true,
          consentId: id,
          textHash,
          grantedAt: at,
          revokedAt: null,
          endedBy: null,
          textVersion: current.version,
          currentVersion: current.version,
        };
      });
    },

    async revoke(subjectId: string, purpose: string): Promise<ConsentState> {
      checkPurpose(purpose);
      return deps.meta.write(async (trx) => {
        const s = await loadSubject(trx, subjectId);
        const row = await trx
          .selectFrom("consents")
          .selectAll()
          .where("subject_id", "=", s.id)
          .where("purpose", "=", purpose)
          .where("revoked_at", "is", null)
          .executeTakeFirst();
        const current = await currentConsentText(trx, purpose);
        const currentVersion = current?.version ?? null;
        if (!row) return { ...NO_CONSENT, purpose, currentVersion };
        const at = deps.now().toISOString();
        await trx
          .updateTable("consents")
          .set({ revoked_at: at, ended_by: "revoked" })
          .where("id", "=", row.id)
          .execute();
        await recordEvent(trx, deps.actor, {
          type: "consent.revoked",
          subjectId: s.id,
          purpose,
          consentId: row.id,
        });
        return {
          purpose,
          active: false,
          consentId: row.id,
          textHash: row.text_hash,
          grantedAt: row.granted_at,
          revokedAt: at,
          endedBy: "revoked",
          textVersion: await textVersion(trx, purpose, row.text_hash),
          currentVersion,
        };
      });
    },

    /**
     * The current state for every configured purpose. A subject scheduled for shredding has no
     * active consent (nothing flows for it, whatever its rows say); a shredded one has none to
     * show: SUBJECT_SHREDDED.
     */
    async list(subjectId: string): Promise<ConsentState[]> {
      const s = await loadSubject(deps.meta.db, subjectId);
      requireNotShredded(s);
      const rows = await deps.meta.db
        .selectFrom("consents")
        .selectAll()
        .where("subject_id", "=", s.id)
        .orderBy("granted_at", "desc")
        .execute();
      const out: ConsentState[] = [];
      for (const purpose of Object.keys(deps.purposes())) {
        const latest = rows.find((r) => r.purpose === purpose);
        const current = await currentConsentText(deps.meta.db, purpose);
        out.push({
          purpose,
          active: latest?.revoked_at === null && s.status === "active",
          consentId: latest?.id ?? null,
          textHash: latest?.text_hash ?? null,
          grantedAt: latest?.granted_at ?? null,
          revokedAt: latest?.revoked_at ?? null,
          endedBy: endedBy(latest?.ended_by ?? null, latest?.revoked_at ?? null),
          textVersion: latest ? await textVersion(deps.meta.db, purpose, latest.text_hash) : null,
          currentVersion: current?.version ?? null,
        });
      }
      return out;
    },

    isActive: (db: MetaDb, subjectId: string, purpose: string) => hasActiveConsent(db, subjectId, purpose),
  };
}

export type ConsentService = ReturnType<typeof createConsentService>;
