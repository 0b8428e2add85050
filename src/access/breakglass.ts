/**
 * Break-glass access to reconstructable material (raw audio, frames): never with one credential.
 * An operator files a request with a reason; M other distinct operators approve (default 2); the
 * grant is time-boxed and single-use, for that subject and that material only. Every step is an
 * audit event; approvers cannot approve their own request.
 */
import { recordEvent } from "../audit/record.js";
import { VaultError } from "../errors.js";
import { newId, parseId } from "../ids.js";
import type { MetaDb } from "../store/meta/index.js";
import type { BreakglassRequestsTable } from "../store/meta/schema-access.js";
import type { VaultDeps } from "../vault/deps.js";
import { loadSubject, requireActive } from "../vault/subjects.js";
import type { RetentionRule } from "../ingest/config.js";
import type { ResolvedAccess } from "./config.js";
import type { Principal } from "./tokens.js";

export type Material = "raw" | "frames";
const MATERIALS: ReadonlySet<string> = new Set(["raw", "frames"]);

export interface BreakglassRequest {
  readonly id: string;
  readonly requesterId: string;
  readonly subjectId: string;
  readonly material: Material;
  readonly reason: string;
  readonly requiredApprovals: number;
  readonly approvals: readonly string[];
  readonly status: BreakglassRequestsTable["status"];
  readonly createdAt: string;
  readonly grantedUntil: string | null;
}

type Deps = Pick<VaultDeps, "meta" | "actor" | "now"> & {
  readonly access: ResolvedAccess;
  /** What retention keeps of each reconstructable material (vault.json `abstraction.retention`). */
  readonly retention: Readonly<Record<Material, RetentionRule>>;
};

/**
 * A grant must be able to serve something: refused at filing time unless the subject has some of
 * that material still kept (unexpired), so no approval is spent on an empty grant.
 */
async function requireRetained(
  deps: Deps,
  trx: MetaDb,
  subjectId: string,
  material: Material,
): Promise<void> {
  const kept = await trx
    .selectFrom("derivations")
    .select("id")
    .where("subject_id", "=", subjectId)
    .where("name", "=", material)
    .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", deps.now().toISOString())]))
    .executeTakeFirst();
  if (kept) return;
  const why =
    deps.retention[material].mode === "discard"
      ? `retention discards ${material} (abstraction.retention.${material} is "discard")`
      : `none of this subject's ${material} is kept (never ingested, or expired)`;
  throw new VaultError("MATERIAL_NOT_RETAINED", `nothing to grant: ${why}`);
}

function requireOperator(p: Principal): void {
  if (p.role !== "operator") throw new VaultError("FORBIDDEN", "only operators take part in break-glass");
}

export function createBreakglassService(deps: Deps) {
  async function load(
    trx: MetaDb,
    id: string,
  ): Promise<{ row: BreakglassRequestsTable; approvals: string[] }> {
    const row = await trx
      .selectFrom("breakglass_requests")
      .selectAll()
      .where("id", "=", parseId("bgr", id, "request id"))
      .executeTakeFirst();
    if (!row) throw new VaultError("NOT_FOUND", `no break-glass request ${id}`);
    const approvals = (
      await trx
        .selectFrom("breakglass_approvals")
        .select("approver_id")
        .where("request_id", "=", row.id)
        .where("decision", "=", "approve")
        .execute()
    ).map((a) => a.approver_id);
    return { row, approvals };
  }
  const view = (row: BreakglassRequestsTable, approvals: string[]): BreakglassRequest => ({
    id: row.id,
    requesterId: row.requester_id,
    subjectId: row.subject_id,
    material: row.material,
    reason: row.reason,
    requiredApprovals: row.required_approvals,
    approvals,
    status:
      row.status === "granted" &&
      row.granted_until !== null &&
      Date.parse(row.granted_until) <= deps.now().getTime()
        ? "expired"
        : row.status,
    createdAt: row.created_at,
    grantedUntil: row.granted_until,
  });

  return {
    async request(
      requester: Principal,
      subjectId: string,
      material: Material,
      reason: string,
    ): Promise<BreakglassRequest> {
      requireOperator(requester);
      // Callers outside TypeScript (the API validates too) must not smuggle another material in.
      if (!MATERIALS.has(material))
        throw new VaultError("INVALID_ARGUMENT", "material must be raw or frames");
      if (reason.trim().length < 10 || reason.length > 1000)
        throw new VaultError("INVALID_ARGUMENT", "give a reason of 10 to 1000 characters");
      return deps.meta.write(async (trx) => {
        const s = await loadSubject(trx, subjectId);
        requireActive(s);
        await requireRetained(deps, trx, s.id, material);
        const row: BreakglassRequestsTable = {
          id: newId("bgr"),
          requester_id: requester.id,
          subject_id: s.id,
          material,
          reason: reason.trim(),
          required_approvals: deps.access.breakGlass.approvals,
          status: "pending",
          created_at: deps.now().toISOString(),
          granted_until: null,
          used_at: null,
        };
        await trx.insertInto("breakglass_requests").values(row).execute();
        await recordEvent(trx, deps.actor, {
          type: "breakglass.requested",
          requestId: row.id,
          subjectId: s.id,
          material,
        });
        return view(row, []);
      });
    },

    async decide(
      approver: Principal,
      requestId: string,
      decision: "approve" | "deny",
    ): Promise<BreakglassRequest> {
      requireOperator(approver);
      return deps.meta.write(async (trx) => {
        const { row, approvals } = await load(trx, requestId);
        if (row.status !== "pending") throw new VaultError("BREAKGLASS_INVALID", `request is ${row.status}`);
        if (row.requester_id === approver.id)
          throw new VaultError("FORBIDDEN", "approvers cannot decide their own request");
        const already = await trx
          .selectFrom("breakglass_approvals")
          .select("decision")
          .where("request_id", "=", row.id)
          .where("approver_id", "=", approver.id)
          .executeTakeFirst();
        if (already) throw new VaultError("BREAKGLASS_INVALID", "this operator already decided");
        const at = deps.now().toISOString();
        await trx
          .insertInto("breakglass_approvals")
          .values({ request_id: row.id, approver_id: approver.id, decision, at })
          .execute();
        const nowApprovals = decision === "approve" ? [...approvals, approver.id] : approvals;
        await recordEvent(trx, deps.actor, {
          type: "breakglass.decided",
          requestId: row.id,
          subjectId: row.subject_id,
          decision,
          approvals: nowApprovals.length,
          required: row.required_approvals,
        });
        let next: BreakglassRequestsTable = row;
        if (decision === "deny") {
          next = { ...row, status: "denied" };
          await trx
            .updateTable("breakglass_requests")
            .set({ status: "denied" })
            .where("id", "=", row.id)
            .execute();
        } else if (nowApprovals.length >= row.required_approvals) {
          const until = new Date(deps.now().getTime() + deps.access.breakGlass.grantTtlMs).toISOString();
          next = { ...row, status: "granted", granted_until: until };
          await trx
            .updateTable("breakglass_requests")
            .set({ status: "granted", granted_until: until })
            .where("id", "=", row.id)
            .execute();
          await recordEvent(trx, deps.actor, {
            type: "breakglass.granted",
            requestId: row.id,
            subjectId: row.subject_id,
            until,
          });
        }
        return view(next, nowApprovals);
      });
    },

    /**
     * Consumes a grant inside the caller's transaction: the requester, the subject and the material
     * must match, the grant must be live and unused. Returns the request for the event.
     */
    async consume(
      trx: MetaDb,
      requester: Principal,
      requestId: string,
      subjectId: string,
      material: Material,
      derivationId: string,
    ): Promise<void> {
      const { row } = await load(trx, requestId);
      const now = deps.now();
      if (row.requester_id !== requester.id)
        throw new VaultError("FORBIDDEN", "only the requester can use a break-glass grant");
      if (row.status !== "granted") throw new VaultError("BREAKGLASS_INVALID", `request is ${row.status}`);
      if (row.granted_until === null || Date.parse(row.granted_until) <= now.getTime())
        throw new VaultError("BREAKGLASS_INVALID", "grant expired");
      if (row.subject_id !== subjectId || row.material !== material)
        throw new VaultError("FORBIDDEN", "grant is for another subject or material");
      await trx
        .updateTable("breakglass_requests")
        .set({ status: "used", used_at: now.toISOString() })
        .where("id", "=", row.id)
        .execute();
      await recordEvent(trx, deps.actor, {
        type: "breakglass.used",
        requestId: row.id,
        subjectId,
        derivationId,
      });
    },

    async get(requestId: string): Promise<BreakglassRequest> {
      const { row, approvals } = await load(deps.meta.db, requestId);
      return view(row, approvals);
    },

    async list(status?: BreakglassRequestsTable["status"]): Promise<BreakglassRequest[]> {
      let q = deps.meta.db.selectFrom("breakglass_requests").selectAll().orderBy("created_at", "desc");
      if (status) q = q.where("status", "=", status);
      const rows = await q.limit(500).execute();
      const out: BreakglassRequest[] = [];
      for (const r of rows) out.push(view(r, (await load(deps.meta.db, r.id)).approvals));
      return out;
    },
  };
}

export type BreakglassService = ReturnType<typeof createBreakglassService>;
