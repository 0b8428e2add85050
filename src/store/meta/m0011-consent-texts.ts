/**
 * Migration 0011: consent texts. Each purpose's consent text is stored, versioned (one version may
 * hold the same text in several languages) and identified by the hex SHA-256 of its UTF-8 bytes,
 * which is what a grant cites (src/access/consent-texts.ts). `consents.ended_by` says why a grant
 * stopped counting: revoked by the contractor, replaced by a newer grant, or superseded when a new
 * text version was published (which asks everyone again).
 */
import type { Kysely } from "kysely";

export async function m0011ConsentTexts(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("consent_texts")
    .addColumn("purpose", "text", (c) => c.notNull())
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("lang", "text", (c) => c.notNull())
    .addColumn("text", "text", (c) => c.notNull())
    .addColumn("text_hash", "text", (c) => c.notNull())
    .addColumn("published_at", "text", (c) => c.notNull())
    .addPrimaryKeyConstraint("consent_texts_pk", ["purpose", "version", "lang"])
    .execute();
  // A hash names one text of one purpose: publishing the same text again is refused.
  await db.schema
    .createIndex("consent_texts_hash")
    .unique()
    .on("consent_texts")
    .columns(["purpose", "text_hash"])
    .execute();
  await db.schema.alterTable("consents").addColumn("ended_by", "text").execute();
}
