/**
 * Serving what is kept of voices: one derivation, or a page of a purpose's dataset. These are the
 * serving rules, the same for the HTTP API, the CLI and library users:
 *   - the subject is active, checked again inside the write transaction that records the serve;
 *   - a consumer's consent for the purpose is checked again there (it may have been revoked since
 *     the authorization decision); its egress budget is charged atomically just before, in its
 *     own transaction (a refusal after the charge costs the consumer budget: fail closed);
 *   - reconstructable material (frames, raw audio) needs an approved break-glass grant, consumed
 *     in that same transaction, so it serves once;
 *   - every item served records `derivation.served` in that transaction: nothing is handed out
 *     that the log does not show.
 * The caller has already decided that the principal may perform the action (Cedar, src/server/authz.ts
 * for the API). The CLI and library act as the local operator: whoever holds this host's key
 * file can decrypt everything anyway, so for them these rules are about the record (every serve
 * is logged) and about not handing out voice by accident, not a barrier against themselves.
 * The data key is unwrapped only after the transaction committed, so a refusal leaves none.
 */
import { recordEvent } from "../audit/record.js";
import { wipe } from "../crypto/bytes.js";
import { VaultError } from "../errors.js";
import { derivationKind, type DerivationName } from "../derivations/index.js";
import type { DerivationsTable, BlobsTable, SubjectsTable } from "../store/meta/schema.js";
import { loadBlob, openBlob, readSmallBlob } from "../vault/blobs.js";
import type { VaultDeps } from "../vault/deps.js";
import { loadSubject } from "../vault/subjects.js";
import type { BreakglassService } from "./breakglass.js";
import { createBudgetEnforcer, type BudgetEnforcer } from "./budget-enforcement.js";
import type { ResolvedAccess } from "./config.js";
import { hasActiveConsent } from "./consent.js";
import { pseudonym, pseudonymKey } from "./pseudonyms.js";
import type { Principal, TokenService } from "./tokens.js";

type Deps = Pick<VaultDeps, "vaultId" | "meta" | "store" | "tree" | "actor" | "now"> & {
  readonly access: ResolvedAccess;
  readonly breakglass: Pick<BreakglassService, "consume">;
  readonly tokens: Pick<TokenService, "revoke">;
  /** Which derivations each purpose may receive (vault.json `abstraction.purposes`). */
  readonly purposes: () => Readonly<Record<string, { readonly derivations: readonly DerivationName[] }>>;
};

/** Who asks, and with which token (budgets and suspensions are per token). */
export interface Requester {
  readonly principal: Principal;
  readonly tokenId: string;
}

export interface ReadDerivationInput {
  readonly requester: Requester;
  readonly derivationId: string;
  /** The purpose the decision was made for (consumers must give one). */
  readonly purpose?: string | undefined;
  /** An approved break-glass request, for reconstructable material. */
  readonly breakglass?: string | undefined;
}

export interface ServedDerivation {
  readonly id: string;
  readonly name: string;
  readonly contentType: string;
  readonly bytes: number;
  /** The plaintext, decrypted as it is read (authenticated segment by segment). */
  readonly stream: AsyncIterable<Uint8Array>;
}

export interface DatasetPageInput {
  readonly requester: Requester;
  readonly purpose: string;
  readonly after?: string | undefined;
  readonly limit?: number | undefined;
}

export interface DatasetItem {
  readonly pseudonym: string;
  readonly derivationId: string;
  readonly name: string;
  readonly derivation: DerivationsTable;
  readonly content: Uint8Array;
}

/**
 * The local operator (CLI, library): whoever holds this host's key file. An operator, with no
 * token: budgets do not apply, and break-glass grants are still needed for reconstructable
 * material (a grant names its requester, so the CLI uses one requested under its own id).
 */
export function localOperator(actorId: string): Requester {
  return {
    principal: { id: actorId, role: "operator", label: "local", subjectId: null, application: null },
    tokenId: "",
  };
}

/** A derivation and its subject, as the authorization decision needs them. */
export interface DerivationRef {
  readonly derivation: DerivationsTable;
  readonly subject: SubjectsTable;
}

export function createServingService(deps: Deps) {
  const budgets: BudgetEnforcer = createBudgetEnforcer(deps);

  async function derivationRef(id: string): Promise<DerivationRef> {
    const derivation = await deps.meta.db
      .selectFrom("derivations")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    if (!derivation) throw new VaultError("NOT_FOUND", `no derivation ${id}`);
    return { derivation, subject: await loadSubject(deps.meta.db, derivation.subject_id) };
  }

  /**
   * The tenant of a consumer's application: consumers see subjects of that tenant only (policy
   * `consumers-stay-in-their-tenant`). No application, or one that no longer exists: "" (none).
   */
  async function applicationTenant(application: string | null): Promise<string> {
    if (application === null) return "";
    const row = await deps.meta.db
      .selectFrom("applications")
      .select("tenant")
      .where("name", "=", application)
      .executeTakeFirst();
    return row?.tenant ?? "";
  }

  return {
    derivationRef,
    budgets,
    applicationTenant,

    /** A subject's record, as the authorization decision needs it (tenant, status). */
    subjectRef: (id: string): Promise<SubjectsTable> => loadSubject(deps.meta.db, id),

    /** One derivation's content, under the serving rules (module comment). */
    async read(input: ReadDerivationInput): Promise<ServedDerivation> {
      const { requester } = input;
      const isConsumer = requester.principal.role === "consumer";
      const purpose = input.purpose ?? "";
      if (isConsumer && purpose === "")
        throw new VaultError("BAD_REQUEST", "a consumer must name the purpose (?purpose=)");
      const { derivation: d, subject } = await derivationRef(input.derivationId);
      const kind = derivationKind(d.name);
      if (isConsumer && !(deps.purposes()[purpose]?.derivations ?? []).includes(kind.name))
        throw new VaultError("FORBIDDEN", `${purpose} does not receive ${kind.name}`);
      const blob = await loadBlob(deps.meta.db, d.blob_id);
      if (isConsumer) await budgets.charge(requester, purpose, blob.plaintext_size, 1);
      await deps.meta.write(async (trx) => {
        const now = await loadSubject(trx, subject.id);
        if (now.status !== "active") throw new VaultError("SUBJECT_SHREDDED", "subject is no longer active");
        if (isConsumer && !(await hasActiveConsent(trx, subject.id, purpose)))
          throw new VaultError("CONSENT_REQUIRED", "consent was revoked");
        if (kind.reconstructable) {
          if (!input.breakglass)
            throw new VaultError("FORBIDDEN", "reconstructable material needs a break-glass grant");
          await deps.breakglass.consume(
            trx,
            requester.principal,
            input.breakglass,
            subject.id,
            kind.name as "raw" | "frames",
            d.id,
          );
        }
        await recordEvent(trx, deps.actor, {
          type: "derivation.served",
          subjectId: subject.id,
          derivationId: d.id,
          name: d.name,
          purpose,
          bytes: blob.plaintext_size,
        });
      });
      const opened = await openBlob(deps, blob, subject);
      return {
        id: d.id,
        name: d.name,
        contentType: kind.contentType,
        bytes: blob.plaintext_size,
        stream: opened.stream,
      };
    },

    /**
     * A page of a purpose's dataset: only subjects of `tenant` with active consent for the
     * purpose, only the purpose's non-reconstructable derivations, each subject under the
     * application's pseudonym. One event per item, so each contractor sees every access.
     */
    async datasetPage(input: DatasetPageInput): Promise<{ items: DatasetItem[]; next: string | null }> {
      const { requester, purpose } = input;
      const tenant = await applicationTenant(requester.principal.application);
      const p = deps.purposes()[purpose];
      if (!p) throw new VaultError("NOT_FOUND", `no purpose ${purpose}`);
      const names = p.derivations.filter((n) => !derivationKind(n).reconstructable);
      const limit = input.limit ?? 50;
      if (!Number.isInteger(limit) || limit < 1 || limit > 100)
        throw new VaultError("BAD_REQUEST", "limit must be 1-100");
      const db = deps.meta.db;
      const application = requester.principal.application;
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
      if (application) {
        q = q.where((eb) =>
          eb.or([eb("derivations.application", "is", null), eb("derivations.application", "=", application)]),
        );
      }
      if (input.after) q = q.where("derivations.id", ">", input.after);
      const rows = await q.execute();
      let bytes = 0;
      const blobs: BlobsTable[] = [];
      for (const r of rows) {
        const b = await loadBlob(db, r.blob_id);
        bytes += b.plaintext_size;
        blobs.push(b);
      }
      if (requester.principal.role === "consumer")
        await budgets.charge(requester, purpose, bytes, Math.max(1, rows.length));
      await deps.meta.write(async (trx) => {
        for (let i = 0; i < rows.length; i++) {
          const r = rows[i]!;
          await recordEvent(trx, deps.actor, {
            type: "derivation.served",
            subjectId: r.subject_id,
            derivationId: r.id,
            name: r.name,
            purpose,
            bytes: blobs[i]!.plaintext_size,
          });
        }
      });
      const key = await pseudonymKey(deps);
      const app = application ?? requester.principal.id;
      try {
        const items: DatasetItem[] = [];
        for (let i = 0; i < rows.length; i++) {
          const r = rows[i]!;
          const s = await loadSubject(db, r.subject_id);
          items.push({
            pseudonym: pseudonym(key, app, r.subject_id),
            derivationId: r.id,
            name: r.name,
            derivation: r,
            content: await readSmallBlob(db, deps, blobs[i]!, s),
          });
        }
        return { items, next: rows.length === limit ? rows[rows.length - 1]!.id : null };
      } finally {
        wipe(key);
      }
    },
  };
}

export type ServingService = ReturnType<typeof createServingService>;
