/**
 * Consent texts (GDPR Art. 7(2): a request for consent in clear and plain language, distinguishable
 * from other matters). Per purpose, operators publish numbered versions; a version holds the same
 * text in one or more languages. Each text is identified by the hex SHA-256 of its UTF-8 bytes,
 * and a grant must cite a text of the purpose's current version (src/access/consent.ts).
 *
 * Publishing a new version supersedes every live grant of the purpose in the same transaction:
 * people agreed to the words they were shown, so new words ask them again (fail closed). There is
 * no "editorial" version that keeps old grants; an operator who only fixes a typo asks again too.
 */
import { recordEvent } from "../audit/record.js";
import { toHex, utf8Bytes } from "../crypto/bytes.js";
import { sha256 } from "../crypto/kdf.js";
import { VaultError } from "../errors.js";
import type { Purpose } from "../ingest/config.js";
import type { MetaDb } from "../store/meta/index.js";
import type { ConsentTextsTable } from "../store/meta/schema-access.js";
import type { VaultDeps } from "../vault/deps.js";

export interface ConsentText {
  readonly lang: string;
  readonly textHash: string;
  readonly text: string;
}

export interface ConsentTextVersion {
  readonly purpose: string;
  readonly version: number;
  readonly publishedAt: string;
  /** Ordered by language tag. */
  readonly texts: readonly ConsentText[];
}

export interface PublishedVersion {
  readonly version: ConsentTextVersion;
  /** Live grants of earlier versions that stopped counting. */
  readonly superseded: number;
}

type Deps = Pick<VaultDeps, "meta" | "actor" | "now"> & {
  readonly purposes: () => Readonly<Record<string, Purpose>>;
};

/** A language tag in the shape of BCP 47 (RFC 5646 §2.1), lower-case language, e.g. en, pt-BR. */
const LANG_RE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$/;
export const MAX_TEXT_BYTES = 64 * 1024;
export const MAX_LANGUAGES = 32;
/** C0 controls but tab and line feed, DEL, C1 controls, and bidi overrides that can hide text. */
// eslint-disable-next-line no-control-regex
const FORBIDDEN_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;

export function consentTextHash(text: string): string {
  return toHex(sha256(utf8Bytes(text)));
}

/**
 * Refuses a text whose hash a browser could compute differently from the vault, or that could
 * show a reader something other than what is hashed: lone surrogates (UTF-8 encoders replace
 * them), carriage returns (line endings are LF only), control and bidi-override characters.
 */
export function checkConsentText(lang: string, text: string): void {
  if (!LANG_RE.test(lang)) throw new VaultError("INVALID_ARGUMENT", `language tag ${lang} is not valid`);
  if (text.trim().length === 0) throw new VaultError("INVALID_ARGUMENT", `the ${lang} consent text is empty`);
  if (!isWellFormed(text))
    throw new VaultError(
      "INVALID_ARGUMENT",
      `the ${lang} consent text holds a lone surrogate (not Unicode text)`,
    );
  if (text.includes("\r"))
    throw new VaultError(
      "INVALID_ARGUMENT",
      `the ${lang} consent text holds a carriage return (use LF line ends)`,
    );
  if (FORBIDDEN_CHARS.test(text))
    throw new VaultError(
      "INVALID_ARGUMENT",
      `the ${lang} consent text holds a control or bidi-override character`,
    );
  if (utf8Bytes(text).length > MAX_TEXT_BYTES)
    throw new VaultError("INVALID_ARGUMENT", `the ${lang} consent text exceeds ${MAX_TEXT_BYTES} bytes`);
}

function isWellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) return false;
  }
  return true;
}

function toVersions(rows: readonly ConsentTextsTable[]): ConsentTextVersion[] {
  const byKey = new Map<string, ConsentTextsTable[]>();
  for (const r of rows) {
    const key = `${r.purpose}\n${r.version}`;
    const list = byKey.get(key) ?? [];
    list.push(r);
    byKey.set(key, list);
  }
  return [...byKey.values()].map((list) => ({
    purpose: list[0]!.purpose,
    version: list[0]!.version,
    publishedAt: list[0]!.published_at,
    texts: list
      .sort((a, b) => (a.lang < b.lang ? -1 : 1))
      .map((r) => ({ lang: r.lang, textHash: r.text_hash, text: r.text })),
  }));
}

/** The purpose's current text version, read in the caller's transaction; undefined when none. */
export async function currentConsentText(
  db: MetaDb,
  purpose: string,
): Promise<ConsentTextVersion | undefined> {
  const top = await db
    .selectFrom("consent_texts")
    .select("version")
    .where("purpose", "=", purpose)
    .orderBy("version", "desc")
    .limit(1)
    .executeTakeFirst();
  if (!top) return undefined;
  const rows = await db
    .selectFrom("consent_texts")
    .selectAll()
    .where("purpose", "=", purpose)
    .where("version", "=", top.version)
    .execute();
  return toVersions(rows)[0];
}

export function createConsentTextService(deps: Deps) {
  function checkPurpose(purpose: string): void {
    if (!Object.hasOwn(deps.purposes(), purpose))
      throw new VaultError("INVALID_ARGUMENT", `unknown purpose ${purpose}`);
  }
  return {
    /**
     * Publishes the purpose's next version (texts by language tag) and supersedes every live
     * grant of the purpose, in one transaction with its `consent.text_published` event.
     */
    async publish(purpose: string, texts: Readonly<Record<string, string>>): Promise<PublishedVersion> {
      checkPurpose(purpose);
      const entries = Object.entries(texts).sort(([a], [b]) => (a < b ? -1 : 1));
      if (entries.length === 0)
        throw new VaultError("INVALID_ARGUMENT", "a consent text version needs a text");
      if (entries.length > MAX_LANGUAGES)
        throw new VaultError("INVALID_ARGUMENT", `at most ${MAX_LANGUAGES} languages per version`);
      for (const [lang, text] of entries) checkConsentText(lang, text);
      const hashed = entries.map(([lang, text]) => ({ lang, text, textHash: consentTextHash(text) }));
      if (new Set(hashed.map((t) => t.textHash)).size !== hashed.length)
        throw new VaultError("INVALID_ARGUMENT", "two languages of one version hold the same text");
      return deps.meta.write(async (trx) => {
        const clash = await trx
          .selectFrom("consent_texts")
          .select(["version", "lang"])
          .where("purpose", "=", purpose)
          .where(
            "text_hash",
            "in",
            hashed.map((t) => t.textHash),
          )
          .executeTakeFirst();
        if (clash)
          throw new VaultError(
            "CONFLICT",
            `that text was already published as version ${clash.version} (${clash.lang}) of ${purpose}`,
          );
        const current = await currentConsentText(trx, purpose);
        const version = (current?.version ?? 0) + 1;
        const at = deps.now().toISOString();
        await trx
          .insertInto("consent_texts")
          .values(
            hashed.map((t) => ({
              purpose,
              version,
              lang: t.lang,
              text: t.text,
              text_hash: t.textHash,
              published_at: at,
            })),
          )
          .execute();
        const ended = await trx
          .updateTable("consents")
          .set({ revoked_at: at, ended_by: "superseded" })
          .where("purpose", "=", purpose)
          .where("revoked_at", "is", null)
          .executeTakeFirst();
        const superseded = Number(ended.numUpdatedRows);
        await recordEvent(trx, deps.actor, {
          type: "consent.text_published",
          purpose,
          version,
          texts: hashed.map((t) => ({ lang: t.lang, textHash: t.textHash })),
          superseded,
        });
        return {
          version: {
            purpose,
            version,
            publishedAt: at,
            texts: hashed.map(({ lang, textHash, text }) => ({ lang, textHash, text })),
          },
          superseded,
        };
      });
    },

    /** The current version of every configured purpose that has one. */
    async current(): Promise<ConsentTextVersion[]> {
      const out: ConsentTextVersion[] = [];
      for (const purpose of Object.keys(deps.purposes())) {
        const v = await currentConsentText(deps.meta.db, purpose);
        if (v) out.push(v);
      }
      return out;
    },

    /** Every version of a purpose, newest first (what each grant in a history agreed to). */
    async history(purpose: string): Promise<ConsentTextVersion[]> {
      checkPurpose(purpose);
      const rows = await deps.meta.db
        .selectFrom("consent_texts")
        .selectAll()
        .where("purpose", "=", purpose)
        .orderBy("version", "desc")
        .execute();
      return toVersions(rows);
    },
  };
}

export type ConsentTextService = ReturnType<typeof createConsentTextService>;
