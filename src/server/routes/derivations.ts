import { Readable } from "node:stream";
import { Type } from "typebox";
import { pseudonym, pseudonymKey } from "../../access/pseudonyms.js";
import { hasActiveConsent } from "../../access/consent.js";
import { recordEvent } from "../../audit/record.js";
import { wipe } from "../../crypto/bytes.js";
import { VaultError } from "../../errors.js";
import type { DerivationName } from "../../ingest/config.js";
import { toDerivationInfo } from "../../ingest/service.js";
import { loadBlob, openBlob, readSmallBlob } from "../../vault/blobs.js";
import { loadSubject } from "../../vault/subjects.js";
import type { BlobsTable } from "../../store/meta/schema.js";
import { applicationTenant } from "../authz.js";
import { chargeOrRefuse } from "../budget.js";
import { RATE, route, type AnyRoute } from "../route.js";
import { derivationResource, subjectResource, vaultResource } from "./resources.js";
import { Derivation, Id, SubjectIdParams } from "./schemas.js";

/** How each derivation is served; the route's OpenAPI entry is built from this table. */
const CONTENT_TYPE: Record<string, string> = {
  quality: "application/json",
  "voice-stats": "application/json",
  "speaker-template": "application/octet-stream",
  frames: "application/octet-stream",
  raw: "audio/wav",
};
const CONTENT_KIND: Record<string, "json" | "binary"> = {
  "application/json": "json",
  "application/octet-stream": "binary",
  "audio/wav": "binary",
};

export function derivationRoutes(): AnyRoute[] {
  return [
    route({
      method: "GET",
      url: "/v1/subjects/:id/derivations",
      summary: "What is kept of a subject's recordings (metadata, not contents)",
      tags: ["derivations"],
      auth: "token",
      action: "derivation.list",
      rateLimit: RATE.read,
      params: SubjectIdParams,
      query: Type.Object(
        { name: Type.Optional(Type.String({ pattern: "^[a-z-]{3,32}$" })) },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Object({ derivations: Type.Array(Derivation) }, { additionalProperties: false }),
      },
      resource: (ctx) => subjectResource(ctx.vault, ctx.params.id),
      async handler(ctx) {
        return {
          derivations: await ctx.vault.recordings.derivations({
            subjectId: ctx.params.id,
            ...(ctx.query.name ? { name: ctx.query.name as DerivationName } : {}),
          }),
        };
      },
    }),
    route({
      method: "GET",
      url: "/v1/derivations/:id",
      summary:
        "A derivation's content: consumers declare ?purpose=; reconstructable material needs ?breakglass=<approved request>",
      tags: ["derivations"],
      auth: "token",
      action: "derivation.read",
      purposeRequiredFor: ["consumer"],
      rateLimit: RATE.read,
      params: Type.Object({ id: Id("drv") }, { additionalProperties: false }),
      query: Type.Object(
        {
          purpose: Type.Optional(Type.String({ pattern: "^[a-z][a-z0-9-]{0,62}$" })),
          breakglass: Type.Optional(Type.String({ pattern: "^bgr_[0-9a-hjkmnp-tv-z]{26}$" })),
        },
        { additionalProperties: false },
      ),
      response: {
        200: {
          raw: true,
          description:
            "the derivation: JSON for quality and voice-stats, WAV for raw audio, bytes for templates and frames",
          content: Object.fromEntries(Object.values(CONTENT_TYPE).map((t) => [t, CONTENT_KIND[t]])),
        },
      },
      resource: (ctx) => derivationResource(ctx.vault, ctx.params.id),
      async handler(ctx) {
        const { vault, auth } = ctx;
        const d = ctx.resource.derivation!;
        const subject = ctx.resource.subject!;
        const drv = await vault.internals.meta.db
          .selectFrom("derivations")
          .select("blob_id")
          .where("id", "=", d.id)
          .executeTakeFirstOrThrow();
        const row = await loadBlob(vault.internals.meta.db, drv.blob_id);
        await chargeOrRefuse(vault, auth, ctx.decision.purpose, row.plaintext_size, 1);
        const opened = await openBlob(vault.internals, row, subject);
        await vault.internals.meta.write(async (trx) => {
          const now = await loadSubject(trx, subject.id);
          if (now.status !== "active")
            throw new VaultError("SUBJECT_SHREDDED", "subject is no longer active");
          if (
            ctx.decision.purpose &&
            auth.principal.role === "consumer" &&
            !(await hasActiveConsent(trx, subject.id, ctx.decision.purpose))
          ) {
            throw new VaultError("CONSENT_REQUIRED", "consent was revoked");
          }
          if (d.reconstructable) {
            const q = ctx.query;
            if (!q.breakglass)
              throw new VaultError("FORBIDDEN", "reconstructable material needs a break-glass grant");
            await vault.access.breakglass.consume(
              trx,
              auth.principal,
              q.breakglass,
              subject.id,
              d.name as "raw" | "frames",
              d.id,
            );
          }
          await recordEvent(trx, vault.actor, {
            type: "derivation.served",
            subjectId: subject.id,
            derivationId: d.id,
            name: d.name,
            purpose: ctx.decision.purpose,
            bytes: row.plaintext_size,
          });
        });
        void ctx.reply.type(CONTENT_TYPE[d.name] ?? "application/octet-stream");
        // A node stream: Fastify pipes those (an async generator would be serialised as "{}").
        return ctx.reply.send(Readable.from(opened.stream));
      },
    }),
    route({
      method: "GET",
      url: "/v1/datasets/:purpose",
      summary:
        "A page of a purpose's dataset: only consented subjects (as per-application pseudonyms), only that purpose's derivations",
      tags: ["derivations"],
      auth: "token",
      action: "dataset.pull",
      rateLimit: RATE.read,
      params: Type.Object(
        { purpose: Type.String({ pattern: "^[a-z][a-z0-9-]{0,62}$" }) },
        { additionalProperties: false },
      ),
      query: Type.Object(
        {
          purpose: Type.Optional(Type.String({ pattern: "^[a-z][a-z0-9-]{0,62}$" })),
          after: Type.Optional(Id("drv")),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
        },
        { additionalProperties: false },
      ),
      response: {
        200: Type.Object(
          {
            purpose: Type.String(),
            items: Type.Array(
              Type.Object(
                {
                  pseudonym: Type.String(),
                  derivationId: Type.String(),
                  name: Type.String(),
                  recipe: Derivation.properties.recipe,
                  createdAt: Type.String(),
                  content: Type.String({ description: "base64" }),
                },
                { additionalProperties: false },
              ),
            ),
            next: Type.Union([Type.String(), Type.Null()]),
          },
          { additionalProperties: false },
        ),
      },
      purpose: (ctx) => {
        if (ctx.query.purpose !== undefined && ctx.query.purpose !== ctx.params.purpose) {
          throw new VaultError("BAD_REQUEST", "purpose mismatch");
        }
        return ctx.params.purpose;
      },
      resource: vaultResource,
      async handler(ctx) {
        const { vault, auth } = ctx;
        const purpose = ctx.params.purpose;
        const p = vault.abstraction.purposes[purpose];
        if (!p) throw new VaultError("NOT_FOUND", `no purpose ${purpose}`);
        const names = p.derivations.filter((n) => n !== "raw" && n !== "frames");
        const limit = ctx.query.limit ?? 50;
        const db = vault.internals.meta.db;
        // Only the application's tenant (as the `consumers-stay-in-their-tenant` policy for reads).
        const tenant = await applicationTenant(vault, auth.principal.application);
        let q = db
          .selectFrom("derivations")
          .innerJoin("subjects", "subjects.id", "derivations.subject_id")
          .innerJoin("consents", (j) =>
            j
              .onRef("consents.subject_id", "=", "derivations.subject_id")
              .on("consents.purpose", "=", purpose)
              .on("consents.revoked_at", "is", null),
          )
          .selectAll("derivations")
          .where("subjects.status", "=", "active")
          .where("subjects.tenant", "=", tenant)
          .where("derivations.name", "in", names.length ? names : ["-"])
          .orderBy("derivations.id")
          .limit(limit);
        if (auth.principal.application) {
          q = q.where((eb) =>
            eb.or([
              eb("derivations.application", "is", null),
              eb("derivations.application", "=", auth.principal.application),
            ]),
          );
        }
        if (ctx.query.after) q = q.where("derivations.id", ">", ctx.query.after);
        const rows = await q.execute();
        let bytes = 0;
        const blobs: BlobsTable[] = [];
        for (const r of rows) {
          const b = await loadBlob(db, r.blob_id);
          bytes += b.plaintext_size;
          blobs.push(b);
        }
        await chargeOrRefuse(vault, auth, purpose, bytes, Math.max(1, rows.length));
        // One event per item, so each contractor sees every access in their own log view.
        await vault.internals.meta.write(async (trx) => {
          for (let i = 0; i < rows.length; i++) {
            const r = rows[i]!;
            await recordEvent(trx, vault.actor, {
              type: "derivation.served",
              subjectId: r.subject_id,
              derivationId: r.id,
              name: r.name,
              purpose,
              bytes: blobs[i]!.plaintext_size,
            });
          }
        });
        const key = await pseudonymKey(vault.internals);
        const app = auth.principal.application ?? auth.principal.id;
        try {
          const items = [];
          for (let i = 0; i < rows.length; i++) {
            const r = rows[i]!;
            const s = await loadSubject(db, r.subject_id);
            const content = await readSmallBlob(db, vault.internals, blobs[i]!, s);
            const info = toDerivationInfo(r);
            items.push({
              pseudonym: pseudonym(key, app, r.subject_id),
              derivationId: r.id,
              name: r.name,
              recipe: info.recipe,
              createdAt: r.created_at,
              content: Buffer.from(content).toString("base64"),
            });
          }
          return { purpose, items, next: rows.length === limit ? rows[rows.length - 1]!.id : null };
        } finally {
          wipe(key);
        }
      },
    }),
  ];
}
