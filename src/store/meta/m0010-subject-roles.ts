/**
 * Migration 0010: a subject's role. `staff` subjects are the platform's own people (interviewers,
 * and the AI interviewer's synthetic voices): their enrolled templates are what ingest excludes
 * when it picks the contractor's voice out of a recording with several (src/ingest/speakers.ts).
 */
import { sql, type Kysely } from "kysely";

export async function m0010SubjectRoles(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable("subjects")
    .addColumn("role", "text", (c) => c.notNull().defaultTo("contractor"))
    .execute();
  await sql`CREATE INDEX subjects_role ON subjects (tenant, role)`.execute(db);
}
