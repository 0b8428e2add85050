/**
 * The authorization matrix: one row per route (method, URL, Cedar action), the expected outcome
 * for each role and each scope — the caller's own subject, another subject with or without consent
 * for the consumer's purpose, someone else's upload, reconstructable or not — generated into one
 * case each and run through the real server against a real vault. A route declared without a row,
 * or a row naming no route (or the wrong action), fails the suite.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Role } from "../../src/store/meta/schema-access.js";
import { ROLES } from "../../src/access/tokens.js";
import type { Principal } from "../../src/access/tokens.js";
import type { AnyRoute } from "../../src/server/route.js";
import { allRoutes } from "../../src/server/routes/index.js";
import { internalsOf } from "../../src/platform/vault.js";
import { relyingParty } from "../../src/access/passkeys.js";
import { SoftAuthenticator } from "../support/webauthn.js";
import { HAVE_AUDIO_TOOLS } from "../support/audio.js";
import { BACKENDS } from "../support/backends.js";
import {
  call,
  codeOf,
  CONSENT_TEXT_HASH,
  makeWorld,
  PUBLIC_URL,
  speechBytes,
  type Call,
  type Party,
  type Reply,
  type World,
} from "./helpers.js";

/**
 * Expected status class. "5xx" appears only where the route is allowed but needs the speaker
 * embedder that is not built yet (verify-speaker answers MODEL_INVALID as a generic 500).
 */
type Outcome = "2xx" | 403 | 404 | "5xx";

/**
 * Scopes. own: the contractor's own subject. consented / unconsented: another subject, with or
 * without consent for every purpose. mine / theirs: an upload the caller started / someone else's.
 * "<scope>:<derivation>": a derivation of that subject. vault: a vault-wide resource. public: none.
 */
type Scope =
  | "own"
  | "consented"
  | "unconsented"
  | "mine"
  | "theirs"
  | "vault"
  | "public"
  | "self"
  | "own:quality"
  | "own:raw"
  | "consented:quality"
  | "consented:voice-stats"
  | "consented:raw"
  | "consented:frames"
  | "unconsented:quality";

/** Scopes only some roles can be in (only a contractor has an own subject; only uploaders have uploads). */
const ONLY_FOR: Partial<Record<Scope, readonly Role[]>> = {
  own: ["contractor"],
  "own:quality": ["contractor"],
  "own:raw": ["contractor"],
  mine: ["contractor", "operator"],
};

type RoleExpect = Outcome | Partial<Record<Scope, Outcome>>;

interface Request extends Omit<Call, "token"> {
  /** The token to present (default: the role's token, or the own subject's contractor token). */
  readonly token?: string;
}

interface Row {
  readonly route: string;
  readonly action: string | null;
  readonly scopes: readonly Scope[];
  readonly expect: Readonly<Record<Role, RoleExpect>>;
  request(w: World, role: Role, scope: Scope): Promise<Request>;
}

const OK = "2xx" as const;
/** A purpose only the consent-text publishing row uses. */
const DRILL_PURPOSE = "consent-drill";
/** verify-speaker when allowed (the built-in embedder is always there). */
const VERIFIED: Outcome = OK;
const SUBJECT_SCOPES = ["own", "consented", "unconsented"] as const satisfies readonly Scope[];
/** Contractors: own subject allowed (or the given outcome), any other subject 404. */
const contractorOwn = (own: Outcome = OK): RoleExpect => ({ own, consented: 404, unconsented: 404 });
const denyAll = { contractor: 403, operator: 403, consumer: 403, auditor: 403, admin: 403 } as const;
const allowAll = { contractor: OK, operator: OK, consumer: OK, auditor: OK, admin: OK } as const;

/** The subject a scope names (fixed subjects for reads). */
function target(w: World, scope: Scope): Party {
  if (scope.startsWith("own")) return w.s1;
  if (scope.startsWith("unconsented")) return w.s4;
  return w.s2;
}

/** The subject for a state-changing case: a fresh one, so cases never disturb each other. */
async function freshTarget(w: World, scope: Scope): Promise<Party> {
  return w.fresh(scope !== "unconsented");
}

/**
 * Puts a subject in the soft-delete window. The matrix's vault shreds at once (no window), so the
 * state a cancellation needs is written directly.
 */
async function schedule(w: World, p: Party): Promise<Party> {
  const shredAfter = new Date(Date.now() + 86_400_000).toISOString();
  await internalsOf(w.vault).meta.write((trx) =>
    trx
      .updateTable("subjects")
      .set({ status: "shred_pending", shred_after: shredAfter })
      .where("id", "=", p.id)
      .execute(),
  );
  return p;
}

/** The token a role presents; a contractor's is the own subject's (fresh: that party's). */
function tokenFor(w: World, role: Role, own: Party = w.s1): string {
  return role === "contractor" ? own.contractor : w.tok[role];
}

async function principalOf(w: World, token: string): Promise<Principal> {
  return (await w.vault.access.tokens.authenticate(token)).principal;
}

/** An upload the role started (mine) or operator 2 started on another subject (theirs). */
async function uploadFor(w: World, role: Role, scope: Scope): Promise<{ id: string; token: string }> {
  const token = tokenFor(w, role);
  const starter = scope === "mine" ? token : w.tok.operator2;
  const subject = scope === "mine" && role === "contractor" ? w.s1.id : w.s2.id;
  const r = await call(w.app, {
    method: "POST",
    url: `/v1/subjects/${subject}/uploads`,
    token: starter,
    json: { length: 1000 },
  });
  expect(r.status, r.text).toBe(201);
  return { id: (r.json() as { id: string }).id, token };
}

const subjectRead =
  (suffix: string, method: Call["method"] = "GET") =>
  (w: World, role: Role, scope: Scope): Promise<Request> =>
    Promise.resolve({
      method,
      url: `/v1/subjects/${target(w, scope).id}${suffix}`,
      token: tokenFor(w, role),
    });

const selfRead =
  (suffix: string) =>
  (w: World, role: Role): Promise<Request> =>
    Promise.resolve({ method: "GET", url: `/v1/me${suffix}`, token: tokenFor(w, role) });

export const MATRIX: readonly Row[] = [
  // --- public ---
  {
    route: "GET /healthz",
    action: null,
    scopes: ["public"],
    expect: allowAll,
    request: (w, role) => Promise.resolve({ method: "GET", url: "/healthz", token: tokenFor(w, role) }),
  },
  // The contractor portal's pages and assets (built into dist/web by `npm run build`).
  ...["/enrol", "/portal", "/portal/portal.js", "/portal/portal.css", "/portal/icon.svg"].map((url): Row => ({
    route: `GET ${url}`,
    action: null,
    scopes: ["public"],
    expect: allowAll,
    request: (w, role) => Promise.resolve({ method: "GET", url, token: tokenFor(w, role) }),
  })),
  ...["/healthz/live", "/healthz/ready"].map((url): Row => ({
    route: `GET ${url}`,
    action: null,
    scopes: ["public"],
    expect: allowAll,
    request: (w, role) => Promise.resolve({ method: "GET", url, token: tokenFor(w, role) }),
  })),
  {
    route: "GET /openapi.json",
    action: null,
    scopes: ["public"],
    expect: allowAll,
    request: (w, role) => Promise.resolve({ method: "GET", url: "/openapi.json", token: tokenFor(w, role) }),
  },
  {
    route: "POST /v1/enrol",
    action: null,
    scopes: ["public"],
    expect: allowAll,
    async request(w) {
      const p = await w.fresh();
      const link = await w.vault.access.tokens.create({
        role: "contractor",
        subjectId: p.id,
        kind: "enrolment",
        maxUses: 1,
      });
      return { method: "POST", url: "/v1/enrol", json: { token: link.token } };
    },
  },
  {
    route: "POST /v1/deletion-certificate",
    action: null,
    scopes: ["public"],
    expect: allowAll,
    async request(w) {
      const p = await w.fresh();
      const out = await w.vault.shredding.request(p.id, { receipt: true });
      return { method: "POST", url: "/v1/deletion-certificate", json: { receipt: out.receipt } };
    },
  },
  {
    route: "GET /v1/keys",
    action: null,
    scopes: ["public"],
    expect: allowAll,
    request: (w, role) => Promise.resolve({ method: "GET", url: "/v1/keys", token: tokenFor(w, role) }),
  },
  // --- subjects ---
  {
    route: "POST /v1/subjects",
    action: "subject.create",
    scopes: ["vault"],
    expect: { ...denyAll, operator: OK },
    request: (w, role) =>
      Promise.resolve({
        method: "POST",
        url: "/v1/subjects",
        token: tokenFor(w, role),
        json: { ref: `new-${Math.random()}` },
      }),
  },
  {
    route: "GET /v1/subjects",
    action: "subject.list",
    scopes: ["vault"],
    expect: { ...denyAll, operator: OK, admin: OK },
    request: (w, role) => Promise.resolve({ method: "GET", url: "/v1/subjects", token: tokenFor(w, role) }),
  },
  {
    route: "GET /v1/subjects/:id",
    action: "subject.read",
    scopes: SUBJECT_SCOPES,
    expect: { ...denyAll, contractor: contractorOwn(), operator: OK },
    request: subjectRead(""),
  },
  {
    route: "DELETE /v1/subjects/:id",
    action: "subject.shred",
    scopes: SUBJECT_SCOPES,
    expect: { ...denyAll, contractor: contractorOwn(), operator: OK },
    async request(w, role, scope) {
      const subject = await freshTarget(w, scope);
      const token =
        role === "contractor" ? (scope === "own" ? subject.contractor : w.s1.contractor) : w.tok[role];
      return { method: "DELETE", url: `/v1/subjects/${subject.id}`, token };
    },
  },
  {
    route: "POST /v1/subjects/:id/enrolment-links",
    action: "enrolment.create",
    scopes: SUBJECT_SCOPES,
    expect: { ...denyAll, contractor: contractorOwn(403), operator: OK },
    request: subjectRead("/enrolment-links", "POST"),
  },
  {
    route: "GET /v1/subjects/:id/consents",
    action: "consent.read",
    scopes: SUBJECT_SCOPES,
    expect: { ...denyAll, contractor: contractorOwn(), operator: OK },
    request: subjectRead("/consents"),
  },
  // --- recordings ---
  {
    route: "POST /v1/subjects/:id/recordings",
    action: "recording.upload",
    scopes: SUBJECT_SCOPES,
    expect: { ...denyAll, contractor: contractorOwn(), operator: OK },
    request: (w, role, scope) =>
      Promise.resolve({
        method: "POST",
        url: `/v1/subjects/${target(w, scope).id}/recordings`,
        token: tokenFor(w, role),
        type: "audio/wav",
        body: speechBytes("slt"),
      }),
  },
  {
    route: "GET /v1/subjects/:id/recordings",
    action: "recording.list",
    scopes: SUBJECT_SCOPES,
    expect: { ...denyAll, contractor: contractorOwn(), operator: OK },
    request: subjectRead("/recordings"),
  },
  {
    route: "POST /v1/subjects/:id/verify-speaker",
    action: "speaker.verify",
    scopes: SUBJECT_SCOPES,
    expect: {
      ...denyAll,
      contractor: contractorOwn(403),
      operator: VERIFIED,
      consumer: { consented: VERIFIED, unconsented: 403 },
    },
    request: (w, role, scope) =>
      Promise.resolve({
        method: "POST",
        url: `/v1/subjects/${target(w, scope).id}/verify-speaker${role === "consumer" ? "?purpose=identity-verification" : ""}`,
        token: tokenFor(w, role),
        type: "audio/wav",
        body: speechBytes("slt"),
      }),
  },
  // --- uploads ---
  {
    route: "GET /v1/subjects/:id/uploads",
    action: "recording.list",
    scopes: SUBJECT_SCOPES,
    expect: { ...denyAll, contractor: contractorOwn(), operator: OK },
    request: subjectRead("/uploads"),
  },
  {
    route: "POST /v1/subjects/:id/uploads",
    action: "recording.upload",
    scopes: SUBJECT_SCOPES,
    expect: { ...denyAll, contractor: contractorOwn(), operator: OK },
    request: (w, role, scope) =>
      Promise.resolve({
        method: "POST",
        url: `/v1/subjects/${target(w, scope).id}/uploads`,
        token: tokenFor(w, role),
        json: { length: 1000 },
      }),
  },
  {
    route: "GET /v1/uploads/:id",
    action: "recording.upload",
    scopes: ["mine", "theirs"],
    expect: {
      contractor: { mine: OK, theirs: 404 },
      operator: { mine: OK, theirs: 404 },
      consumer: 404,
      auditor: 404,
      admin: 404,
    },
    async request(w, role, scope) {
      const u = await uploadFor(w, role, scope);
      return { method: "GET", url: `/v1/uploads/${u.id}`, token: u.token };
    },
  },
  {
    route: "PATCH /v1/uploads/:id",
    action: "recording.upload",
    scopes: ["mine", "theirs"],
    expect: {
      contractor: { mine: OK, theirs: 404 },
      operator: { mine: OK, theirs: 404 },
      consumer: 404,
      auditor: 404,
      admin: 404,
    },
    async request(w, role, scope) {
      const u = await uploadFor(w, role, scope);
      return {
        method: "PATCH",
        url: `/v1/uploads/${u.id}`,
        token: u.token,
        type: "application/offset+octet-stream",
        headers: { "upload-offset": "0" },
        body: Buffer.alloc(100, 1),
      };
    },
  },
  {
    route: "DELETE /v1/uploads/:id",
    action: "recording.upload",
    scopes: ["mine", "theirs"],
    expect: {
      contractor: { mine: OK, theirs: 404 },
      operator: { mine: OK, theirs: 404 },
      consumer: 404,
      auditor: 404,
      admin: 404,
    },
    async request(w, role, scope) {
      const u = await uploadFor(w, role, scope);
      return { method: "DELETE", url: `/v1/uploads/${u.id}`, token: u.token };
    },
  },
  // --- derivations ---
  {
    route: "GET /v1/subjects/:id/derivations",
    action: "derivation.list",
    scopes: SUBJECT_SCOPES,
    expect: { ...denyAll, contractor: contractorOwn(), operator: OK },
    request: subjectRead("/derivations"),
  },
  {
    route: "GET /v1/derivations/:id",
    action: "derivation.read",
    scopes: [
      "own:quality",
      "own:raw",
      "consented:quality",
      "consented:voice-stats",
      "consented:raw",
      "consented:frames",
      "unconsented:quality",
    ],
    expect: {
      // A contractor reads its own non-reconstructable derivations, never raw; others' are 404.
      contractor: {
        "own:quality": OK,
        "own:raw": 403,
        "consented:quality": 404,
        "consented:voice-stats": 404,
        "consented:raw": 404,
        "consented:frames": 404,
        "unconsented:quality": 404,
      },
      // Operators read nothing without a break-glass grant (break-glass.test.ts).
      operator: 403,
      // Consumers (purpose quality-review, or asr-training for frames): only the purpose's
      // derivation, only with consent, never reconstructable material.
      consumer: {
        "consented:quality": OK,
        "consented:voice-stats": 403,
        "consented:raw": 403,
        "consented:frames": 403,
        "unconsented:quality": 403,
      },
      auditor: 403,
      admin: 403,
    },
    request(w, role, scope) {
      const name = scope.split(":")[1]!;
      const id = target(w, scope).drv[name];
      expect(id, `${scope} derivation`).toBeDefined();
      const purpose = name === "frames" ? "asr-training" : "quality-review";
      return Promise.resolve({
        method: "GET",
        url: `/v1/derivations/${id!}${role === "consumer" ? `?purpose=${purpose}` : ""}`,
        token: tokenFor(w, role),
      });
    },
  },
  {
    route: "GET /v1/datasets/:purpose",
    action: "dataset.pull",
    scopes: ["vault"],
    expect: { ...denyAll, consumer: OK },
    request: (w, role) =>
      Promise.resolve({ method: "GET", url: "/v1/datasets/quality-review", token: tokenFor(w, role) }),
  },
  // --- contractor self-service ---
  {
    route: "GET /v1/me",
    action: "subject.read",
    scopes: ["self"],
    expect: { ...denyAll, contractor: OK },
    request: selfRead(""),
  },
  {
    route: "GET /v1/me/recordings",
    action: "recording.list",
    scopes: ["self"],
    expect: { ...denyAll, contractor: OK },
    request: selfRead("/recordings"),
  },
  {
    route: "GET /v1/me/derivations",
    action: "derivation.list",
    scopes: ["self"],
    expect: { ...denyAll, contractor: OK },
    request: selfRead("/derivations"),
  },
  {
    route: "GET /v1/me/consents",
    action: "consent.read",
    scopes: ["self"],
    expect: { ...denyAll, contractor: OK },
    request: selfRead("/consents"),
  },
  {
    route: "PUT /v1/me/consents/:purpose",
    action: "consent.write",
    scopes: ["self"],
    expect: { ...denyAll, contractor: OK },
    async request(w, role) {
      const p = await w.fresh(false);
      return {
        method: "PUT",
        url: "/v1/me/consents/quality-review",
        token: tokenFor(w, role, p),
        json: { textHash: CONSENT_TEXT_HASH },
      };
    },
  },
  {
    route: "DELETE /v1/me/consents/:purpose",
    action: "consent.write",
    scopes: ["self"],
    expect: { ...denyAll, contractor: OK },
    async request(w, role) {
      const p = await w.fresh(true);
      return { method: "DELETE", url: "/v1/me/consents/quality-review", token: tokenFor(w, role, p) };
    },
  },
  {
    route: "DELETE /v1/me",
    action: "subject.shred",
    scopes: ["self"],
    expect: { ...denyAll, contractor: OK },
    async request(w, role) {
      const p = await w.fresh(true);
      return { method: "DELETE", url: "/v1/me", token: tokenFor(w, role, p) };
    },
  },
  {
    route: "POST /v1/me/cancel-erasure",
    action: "subject.shred",
    scopes: ["self"],
    expect: { ...denyAll, contractor: OK },
    async request(w, role) {
      const p = await schedule(w, await w.fresh(true));
      return { method: "POST", url: "/v1/me/cancel-erasure", token: tokenFor(w, role, p) };
    },
  },
  {
    route: "POST /v1/subjects/:id/cancel-shred",
    action: "subject.shred",
    scopes: SUBJECT_SCOPES,
    expect: { ...denyAll, operator: OK, contractor: contractorOwn() },
    async request(w, role, scope) {
      const subject = await schedule(w, await freshTarget(w, scope));
      const token = role === "contractor" && scope === "own" ? subject.contractor : tokenFor(w, role);
      return { method: "POST", url: `/v1/subjects/${subject.id}/cancel-shred`, token };
    },
  },
  {
    route: "PUT /v1/subjects/:id/consents/:purpose",
    action: "consent.write",
    scopes: SUBJECT_SCOPES,
    expect: { ...denyAll, contractor: contractorOwn() },
    async request(w, role, scope) {
      const subject = await freshTarget(w, scope);
      const token = role === "contractor" && scope === "own" ? subject.contractor : tokenFor(w, role);
      return {
        method: "PUT",
        url: `/v1/subjects/${subject.id}/consents/research-aggregates`,
        token,
        json: { textHash: CONSENT_TEXT_HASH },
      };
    },
  },
  {
    route: "DELETE /v1/subjects/:id/consents/:purpose",
    action: "consent.write",
    scopes: SUBJECT_SCOPES,
    expect: { ...denyAll, contractor: contractorOwn() },
    async request(w, role, scope) {
      const subject = await freshTarget(w, scope);
      const token = role === "contractor" && scope === "own" ? subject.contractor : tokenFor(w, role);
      return { method: "DELETE", url: `/v1/subjects/${subject.id}/consents/research-aggregates`, token };
    },
  },
  // --- break-glass ---
  {
    route: "POST /v1/subjects/:id/breakglass",
    action: "breakglass.request",
    scopes: SUBJECT_SCOPES,
    expect: { ...denyAll, contractor: contractorOwn(403), operator: OK },
    request: (w, role, scope) =>
      Promise.resolve({
        method: "POST",
        url: `/v1/subjects/${target(w, scope).id}/breakglass`,
        token: tokenFor(w, role),
        json: { material: "raw", reason: "legal hold: court order 2026-17" },
      }),
  },
  {
    route: "POST /v1/breakglass/:id/decision",
    action: "breakglass.decide",
    scopes: ["vault"],
    expect: { ...denyAll, operator: OK },
    async request(w, role) {
      const requester = await principalOf(w, w.tok.operator2);
      const r = await w.vault.access.breakglass.request(
        requester,
        w.s2.id,
        "raw",
        "fraud investigation ticket 4411",
      );
      return {
        method: "POST",
        url: `/v1/breakglass/${r.id}/decision`,
        token: tokenFor(w, role),
        json: { decision: "approve" },
      };
    },
  },
  {
    route: "GET /v1/breakglass",
    action: "breakglass.list",
    scopes: ["vault"],
    expect: { ...denyAll, operator: OK },
    request: (w, role) => Promise.resolve({ method: "GET", url: "/v1/breakglass", token: tokenFor(w, role) }),
  },
  // --- control plane ---
  {
    route: "POST /v1/admin/tokens",
    action: "token.create",
    scopes: ["vault"],
    expect: { ...denyAll, admin: OK },
    request: (w, role) =>
      Promise.resolve({
        method: "POST",
        url: "/v1/admin/tokens",
        token: tokenFor(w, role),
        json: { role: "auditor", label: "auditor-2" },
      }),
  },
  {
    route: "POST /v1/seal",
    action: "vault.seal",
    scopes: ["vault"],
    expect: { ...denyAll, admin: OK, operator: OK },
    request: (w, role) => Promise.resolve({ method: "POST", url: "/v1/seal", token: tokenFor(w, role) }),
  },
  {
    route: "GET /v1/admin/tokens",
    action: "token.list",
    scopes: ["vault"],
    expect: { ...denyAll, admin: OK },
    request: (w, role) =>
      Promise.resolve({ method: "GET", url: "/v1/admin/tokens", token: tokenFor(w, role) }),
  },
  {
    route: "DELETE /v1/admin/tokens/:id",
    action: "token.revoke",
    scopes: ["vault"],
    expect: { ...denyAll, admin: OK },
    async request(w, role) {
      const victim = await w.vault.access.tokens.create({ role: "auditor", label: "to-revoke" });
      return { method: "DELETE", url: `/v1/admin/tokens/${victim.info.id}`, token: tokenFor(w, role) };
    },
  },
  {
    route: "POST /v1/admin/applications",
    action: "application.register",
    scopes: ["vault"],
    expect: { ...denyAll, admin: OK },
    request: (w, role) =>
      Promise.resolve({
        method: "POST",
        url: "/v1/admin/applications",
        token: tokenFor(w, role),
        json: { name: `app-${Math.random().toString(36).slice(2, 10)}`, purposes: ["quality-review"] },
      }),
  },
  {
    route: "GET /v1/admin/policies",
    action: "policy.read",
    scopes: ["vault"],
    expect: { ...denyAll, admin: OK },
    request: (w, role) =>
      Promise.resolve({ method: "GET", url: "/v1/admin/policies", token: tokenFor(w, role) }),
  },
  // --- passkeys ---
  {
    route: "POST /v1/me/passkeys/options",
    action: "passkey.register",
    scopes: ["self"],
    expect: { ...denyAll, contractor: OK },
    request: (w, role) =>
      Promise.resolve({ method: "POST", url: "/v1/me/passkeys/options", token: tokenFor(w, role) }),
  },
  {
    route: "POST /v1/me/passkeys",
    action: "passkey.register",
    scopes: ["self"],
    expect: { ...denyAll, contractor: OK },
    async request(w, role) {
      const p = await w.fresh(false);
      const options = await w.vault.access.passkeys.registrationOptions(p.id, relyingParty(PUBLIC_URL));
      const json = new SoftAuthenticator().create(options, PUBLIC_URL);
      return { method: "POST", url: "/v1/me/passkeys", token: tokenFor(w, role, p), json };
    },
  },
  {
    route: "GET /v1/me/passkeys",
    action: "subject.read",
    scopes: ["self"],
    expect: { ...denyAll, contractor: OK },
    request: selfRead("/passkeys"),
  },
  {
    route: "POST /v1/passkey/options",
    action: null,
    scopes: ["public"],
    expect: allowAll,
    request: () => Promise.resolve({ method: "POST", url: "/v1/passkey/options" }),
  },
  {
    route: "POST /v1/passkey/session",
    action: null,
    scopes: ["public"],
    expect: allowAll,
    async request(w) {
      const p = await w.fresh(false);
      const rp = relyingParty(PUBLIC_URL);
      const auth = new SoftAuthenticator();
      const created = auth.create(await w.vault.access.passkeys.registrationOptions(p.id, rp), PUBLIC_URL);
      await w.vault.access.passkeys.register(p.id, created, rp);
      const json = auth.get(await w.vault.access.passkeys.authenticationOptions(rp), PUBLIC_URL);
      return { method: "POST", url: "/v1/passkey/session", json };
    },
  },
  {
    route: "DELETE /v1/subjects/:id/passkeys",
    action: "passkey.reset",
    scopes: SUBJECT_SCOPES,
    expect: { ...denyAll, contractor: contractorOwn(403), operator: OK },
    request: subjectRead("/passkeys", "DELETE"),
  },
  // --- consent texts ---
  {
    route: "GET /v1/consent-texts",
    action: "consent.texts",
    scopes: ["vault"],
    expect: allowAll,
    request: (w, role) =>
      Promise.resolve({ method: "GET", url: "/v1/consent-texts", token: tokenFor(w, role) }),
  },
  {
    route: "GET /v1/consent-texts/:purpose",
    action: "consent.texts",
    scopes: ["vault"],
    expect: allowAll,
    request: (w, role) =>
      Promise.resolve({ method: "GET", url: "/v1/consent-texts/quality-review", token: tokenFor(w, role) }),
  },
  {
    route: "POST /v1/consent-texts/:purpose",
    action: "consent.publish",
    scopes: ["vault"],
    expect: { ...denyAll, operator: OK },
    // A purpose of its own: a new version supersedes every grant of the purpose.
    request: (w, role) =>
      Promise.resolve({
        method: "POST",
        url: `/v1/consent-texts/${DRILL_PURPOSE}`,
        token: tokenFor(w, role),
        json: { texts: { en: `drill text ${Math.random()}` } },
      }),
  },
  // --- transparency log ---
  {
    route: "GET /checkpoint",
    action: null,
    scopes: ["public"],
    expect: allowAll,
    request: (w, role) => Promise.resolve({ method: "GET", url: "/checkpoint", token: tokenFor(w, role) }),
  },
  {
    route: "GET /v1/audit/leaves/:index",
    action: "audit.proof",
    scopes: ["vault"],
    expect: allowAll,
    request: (w, role) =>
      Promise.resolve({ method: "GET", url: "/v1/audit/leaves/0", token: tokenFor(w, role) }),
  },
  {
    route: "GET /v1/audit/proof/inclusion",
    action: "audit.proof",
    scopes: ["vault"],
    expect: allowAll,
    request: (w, role) =>
      Promise.resolve({ method: "GET", url: "/v1/audit/proof/inclusion?index=0", token: tokenFor(w, role) }),
  },
  {
    route: "GET /v1/audit/proof/consistency",
    action: "audit.proof",
    scopes: ["vault"],
    expect: allowAll,
    request: (w, role) =>
      Promise.resolve({ method: "GET", url: "/v1/audit/proof/consistency?from=1", token: tokenFor(w, role) }),
  },
  {
    route: "GET /v1/audit/events",
    action: "audit.read",
    scopes: ["vault"],
    expect: { ...denyAll, auditor: OK, admin: OK },
    request: (w, role) =>
      Promise.resolve({ method: "GET", url: "/v1/audit/events?limit=5", token: tokenFor(w, role) }),
  },
  {
    route: "POST /v1/me/audit",
    action: "audit.subject",
    scopes: ["self"],
    expect: { ...denyAll, contractor: OK },
    request: (w, role) =>
      Promise.resolve({ method: "POST", url: "/v1/me/audit", token: tokenFor(w, role), json: {} }),
  },
];

function scopesFor(row: Row, role: Role): Scope[] {
  return row.scopes.filter((s) => ONLY_FOR[s]?.includes(role) ?? true);
}

function expectation(row: Row, role: Role, scope: Scope): Outcome {
  const e = row.expect[role];
  if (typeof e !== "object") return e;
  const v = e[scope];
  if (v === undefined) throw new Error(`${row.route}: no expectation for ${role} in scope ${scope}`);
  return v;
}

interface Case {
  readonly row: Row;
  readonly role: Role;
  readonly scope: Scope;
  readonly outcome: Outcome;
}

export const CASES: readonly Case[] = MATRIX.flatMap((row) =>
  ROLES.flatMap((role) =>
    scopesFor(row, role).map((scope) => ({ row, role, scope, outcome: expectation(row, role, scope) })),
  ),
);

function declared(): AnyRoute[] {
  return allRoutes({ policies: () => ({ hash: "", policies: [] }), openapi: () => ({}) });
}

function classOf(status: number): "2xx" | "5xx" | number {
  if (status >= 200 && status < 300) return OK;
  if (status >= 500) return "5xx";
  return status;
}

describe("authorization matrix: the table", () => {
  const routes = declared();
  const key = (r: AnyRoute) => `${r.method} ${r.url}`;

  it("has exactly one row per declared route, with the route's Cedar action", () => {
    const rows = new Map(MATRIX.map((r) => [r.route, r]));
    expect(rows.size, "duplicate rows").toBe(MATRIX.length);
    const missing = routes.filter((r) => !rows.has(key(r))).map(key);
    expect(missing, "routes without a row in the authorization matrix").toEqual([]);
    const stale = MATRIX.filter((r) => !routes.some((d) => key(d) === r.route)).map((r) => r.route);
    expect(stale, "rows naming no route").toEqual([]);
    for (const d of routes) {
      expect(rows.get(key(d))!.action, `${key(d)} action`).toBe(d.auth === "token" ? d.action : null);
    }
  });

  it("gives every role at least one case and every applicable scope an expectation", () => {
    for (const row of MATRIX) {
      for (const role of ROLES) {
        const scopes = scopesFor(row, role);
        expect(scopes.length, `${row.route} ${role}`).toBeGreaterThan(0);
        const e = row.expect[role];
        if (typeof e === "object")
          expect(Object.keys(e).sort(), `${row.route} ${role}`).toEqual([...scopes].sort());
      }
    }
    console.log(
      `authorization matrix: ${MATRIX.length} routes, ${CASES.length} role × scope cases (+ ${MATRIX.length} anonymous)`,
    );
  });
});

interface OpenApiDoc {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>>;
}

const essence = (type: string) => type.split(";")[0]!.trim().toLowerCase();

/** The response a route's OpenAPI entry declares for a status (exact, else its class, e.g. 4XX). */
function declaredResponse(doc: OpenApiDoc, route: string, status: number) {
  const [method, url] = route.split(" ") as [string, string];
  const op = doc.paths[url.replace(/:([A-Za-z]+)/g, "{$1}")]?.[method.toLowerCase()];
  return op?.responses[String(status)] ?? op?.responses[`${String(status)[0]}XX`];
}

/** The status is declared, and the content type served is one the document declares for it. */
function expectDocumented(doc: OpenApiDoc, route: string, r: Reply): void {
  const declared = declaredResponse(doc, route, r.status);
  expect(declared, `${route} → ${r.status} is not in the OpenAPI document`).toBeDefined();
  if (r.raw.length === 0) return;
  const types = Object.keys(declared?.content ?? {}).map(essence);
  expect(types, `${route} → ${r.status} served as ${String(r.headers["content-type"])}`).toContain(
    essence(String(r.headers["content-type"])),
  );
}

describe.runIf(HAVE_AUDIO_TOOLS).each(BACKENDS)("authorization matrix ($name)", (backend) => {
  let w: World;
  let doc: OpenApiDoc;
  beforeAll(async () => {
    w = await makeWorld(backend, {
      reconstructable: true,
      recordings: true,
      extraPurposes: {
        [DRILL_PURPOSE]: {
          description: "publishing drill",
          derivations: ["quality"],
          reconstructable: false,
        },
      },
    });
    doc = (await call(w.app, { method: "GET", url: "/openapi.json" })).json() as OpenApiDoc;
  });
  afterAll(async () => {
    await w.close();
  });

  it("serves exactly the declared routes (OpenAPI document of the running server)", async () => {
    const doc = (await call(w.app, { method: "GET", url: "/openapi.json" })).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    const served = Object.entries(doc.paths)
      .flatMap(([p, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.replace(/\{([A-Za-z]+)\}/g, ":$1")}`),
      )
      .sort();
    expect(served).toEqual(MATRIX.map((r) => r.route).sort());
  });

  it("declares JSON as JSON and audio or bytes as binary, never the other way round", () => {
    for (const [path, ops] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(ops))
        for (const [status, resp] of Object.entries(op.responses))
          for (const [type, media] of Object.entries(resp.content ?? {})) {
            const schema = (media as { schema: { type?: string; format?: string } }).schema;
            const where = `${method} ${path} ${status} ${type}`;
            if (essence(type) === "application/json") expect(schema.format, where).toBeUndefined();
            else expect(schema.type, where).toBe("string");
          }
  });

  it.each(MATRIX.map((r) => [r.route, r] as const))("anonymous %s", async (_name, row) => {
    const req = await row.request(w, "operator", scopesFor(row, "operator")[0]!);
    const r = await call(w.app, { ...req, token: undefined });
    expectDocumented(doc, row.route, r);
    if (row.action === null) expect(classOf(r.status), r.text).toBe(OK);
    else {
      expect(r.status, r.text).toBe(401);
      expect(r.headers["www-authenticate"]).toBe('Bearer realm="voxvault"');
    }
  });

  it.each(CASES.map((c) => [`${c.row.route} as ${c.role} (${c.scope}) → ${c.outcome}`, c] as const))(
    "%s",
    async (_name, c) => {
      const req = await c.row.request(w, c.role, c.scope);
      const r = await call(w.app, req);
      expect(classOf(r.status), `${r.status} ${r.text.slice(0, 300)}`).toBe(c.outcome);
      expectDocumented(doc, c.row.route, r);
      if (c.outcome === "5xx") expect(codeOf(r)).toBe("INTERNAL");
      if (c.outcome === 404) expect(["NOT_FOUND", "SUBJECT_NOT_FOUND"]).toContain(codeOf(r));
      if (c.outcome === 403) expect(["FORBIDDEN", "CONSENT_REQUIRED"]).toContain(codeOf(r));
    },
  );
});
