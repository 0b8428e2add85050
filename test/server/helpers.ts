/**
 * A real vault behind the real server (in-process, `app.inject`): tokens for every role, four
 * subjects with real speech ingested, consent for two of them, and a clock the tests can move.
 */
import { createHash } from "node:crypto";
import { createReadStream, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import type { AccessConfig } from "../../src/access/config.js";
import { RATE_CLASSES } from "../../src/access/http-config.js";
import { DEFAULT_PURPOSES, type IngestLimits, type Purpose } from "../../src/ingest/config.js";
import type { Role } from "../../src/store/meta/schema-access.js";
import { defaultEmbedderFactory } from "../../src/embed-factory.js";
import { PolicyEngine } from "../../src/policy/engine.js";
import { buildServer } from "../../src/server/app.js";
import type { PortalAssets } from "../../src/server/web.js";
import type { Vault } from "../../src/platform/vault.js";
import { speech } from "../support/audio.js";
import { sandbox, type Backend, type Sandbox } from "../support/backends.js";

export type Voice = "slt" | "awb" | "rms" | "kal16";

export const SENTENCE = "The quick brown fox jumps over the lazy dog while the interviewer waits patiently.";
export const CONSENT_TEXT = "consent text v1";
export const CONSENT_TEXT_HASH = createHash("sha256").update(CONSENT_TEXT).digest("hex");
export const PURPOSES = [
  "identity-verification",
  "quality-review",
  "research-aggregates",
  "asr-training",
] as const;

/** Whether the project's speaker embedder exists yet (src/embed-factory.ts); verify-speaker needs it. */

export const speechFile = (voice: Voice = "slt", text = SENTENCE): string => speech(text, voice);
export const speechBytes = (voice: Voice = "slt", text = SENTENCE): Buffer =>
  readFileSync(speechFile(voice, text));

/** The vault's clock: real time plus an offset the test moves forward. */
export class Clock {
  offsetMs = 0;
  readonly now = (): Date => new Date(Date.now() + this.offsetMs);
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export interface Party {
  readonly id: string;
  /** A contractor token bound to this subject. */
  readonly contractor: string;
  /** Derivation ids by name (when a recording was ingested). */
  readonly drv: Readonly<Record<string, string>>;
}

export interface WorldOptions {
  /** Keep raw audio and frames (reconstructable material for break-glass). */
  readonly reconstructable?: boolean;
  /** Ingest one recording for each fixed subject (true) or for the first n of s1..s4. */
  readonly recordings?: boolean | number;
  /** Ingest input limits (vault.json `abstraction.limits`). */
  readonly limits?: IngestLimits;
  /** The `access` section of vault.json (budgets, token lifetimes, break-glass). */
  readonly access?: AccessConfig;
  readonly maxUploadBytes?: number;
  /** The rate limiter's clock, for tests of limits; without it limits are set too high to bite. */
  readonly limiterNow?: () => number;
  /** Builds the speaker embedder; default the project's (the built-in DSP embedder). */
  readonly embedderFactory?: typeof defaultEmbedderFactory;
  /** The vault's soft-delete window (shreds are scheduled); default none (immediate). */
  readonly softDeleteWindow?: string;
  /** The server's public origin (default PUBLIC_URL): passkeys' relying party, enrolment links. */
  readonly publicUrl?: () => string;
  /** The contractor portal's files (default: dist/web, as the server reads them). */
  readonly portal?: PortalAssets;
  /** Purposes beyond the defaults (vault.json `abstraction.purposes`); no consent text is published for them. */
  readonly extraPurposes?: Readonly<Record<string, Purpose>>;
}

export interface World {
  readonly sb: Sandbox;
  readonly vault: Vault;
  readonly engine: PolicyEngine;
  readonly app: FastifyInstance;
  readonly clock: Clock;
  /** API tokens per role; operator2/3 are further distinct operators, consumerB another application. */
  readonly tok: Readonly<Record<Exclude<Role, "contractor">, string>> & {
    readonly operator2: string;
    readonly operator3: string;
    readonly consumerB: string;
  };
  /** s1, s2: consent for every purpose; s3, s4: none. Contractor tokens bound to each. */
  readonly s1: Party;
  readonly s2: Party;
  readonly s3: Party;
  readonly s4: Party;
  /** A fresh subject (and its contractor token), optionally consented to every purpose, with a recording in `voice`. */
  fresh(consented?: boolean, voice?: Voice): Promise<Party>;
  close(): Promise<void>;
}

/** The origin the test servers are configured with (enrolment links). */
export const PUBLIC_URL = "https://vault.example.test";

let engine: Promise<PolicyEngine> | undefined;
export const defaultEngine = (): Promise<PolicyEngine> => (engine ??= PolicyEngine.load());

export async function makeWorld(backend: Backend, options: WorldOptions = {}): Promise<World> {
  const sb = sandbox(backend);
  const keep = { mode: "keep" as const, ttl: "1d" };
  const init = await sb.init({
    abstraction: {
      ...(options.reconstructable ? { retention: { raw: keep, frames: keep } } : {}),
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.extraPurposes ? { purposes: { ...DEFAULT_PURPOSES, ...options.extraPurposes } } : {}),
    },
    embedderFactory: options.embedderFactory ?? defaultEmbedderFactory,
    ...(options.softDeleteWindow ? { softDeleteWindow: options.softDeleteWindow } : {}),
  });
  await init.close();
  // Without a limiter clock of its own, a world's limits are set as high as they go, so tests that
  // are not about rate limits never meet one (the shared limiter runs on the vault's clock).
  const generous = Object.fromEntries(RATE_CLASSES.map((c) => [c, { perMinute: 1_000_000, burst: 100_000 }]));
  const access: AccessConfig = {
    ...options.access,
    ...(options.limiterNow
      ? {}
      : {
          http: { ...options.access?.http, rateLimits: { ...generous, ...options.access?.http?.rateLimits } },
        }),
  };
  if (Object.keys(access).length > 0) {
    const file = path.join(sb.dataDir, "vault.json");
    const config = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...config, access }, null, 2));
  }
  const clock = new Clock();
  const vault = await sb.open({
    now: clock.now,
    embedderFactory: options.embedderFactory ?? defaultEmbedderFactory,
  });
  // As `voxvault serve` does: an ingest worker beside the API takes queued uploads.
  vault.jobs.startWorker({ pollMs: 50 });
  const eng = await defaultEngine();
  const app = await buildServer({
    vault,
    engine: eng,
    ...(options.limiterNow ? { now: options.limiterNow } : {}),
    publicUrl: options.publicUrl ?? (() => PUBLIC_URL),
    // counts instead of sealing: the quorum tests (test/server/unseal.test.ts) seal for real
    seal: () => Promise.resolve(),
    ...(options.maxUploadBytes !== undefined ? { maxUploadBytes: options.maxUploadBytes } : {}),
    ...(options.portal ? { portal: options.portal } : {}),
  });
  const tokens = vault.access.tokens;
  const mk = async (role: Role, extra: { label?: string; application?: string; subjectId?: string } = {}) =>
    (
      await tokens.create({
        role,
        ...extra,
        ...(role === "consumer" ? { purposes: [...PURPOSES] } : {}),
      })
    ).token;
  await vault.access.applications.register("app-a", [...PURPOSES]);
  await vault.access.applications.register("app-b", [...PURPOSES]);
  for (const p of PURPOSES) await vault.access.consentTexts.publish(p, { en: CONSENT_TEXT });
  const tok = {
    operator: await mk("operator", { label: "op-1" }),
    operator2: await mk("operator", { label: "op-2" }),
    operator3: await mk("operator", { label: "op-3" }),
    consumer: await mk("consumer", { application: "app-a" }),
    consumerB: await mk("consumer", { application: "app-b" }),
    auditor: await mk("auditor"),
    admin: await mk("admin", { label: "admin-1" }),
  };
  let n = 0;
  async function party(consented: boolean, voice?: Voice): Promise<Party> {
    const s = await vault.subjects.add({ ref: `contractor-${++n}-${Math.random()}` });
    if (consented) for (const p of PURPOSES) await vault.access.consents.grant(s.id, p, CONSENT_TEXT_HASH);
    const drv: Record<string, string> = {};
    if (voice) {
      const r = await vault.recordings.ingest({
        subjectId: s.id,
        source: createReadStream(speechFile(voice)) as AsyncIterable<Uint8Array>,
      });
      for (const d of r.derivations) drv[d.name] = d.id;
    }
    return { id: s.id, contractor: await mk("contractor", { subjectId: s.id }), drv };
  }
  const rec = options.recordings === true ? 4 : options.recordings || 0;
  const s1 = await party(true, rec >= 1 ? "slt" : undefined);
  const s2 = await party(true, rec >= 2 ? "awb" : undefined);
  const s3 = await party(false, rec >= 3 ? "rms" : undefined);
  const s4 = await party(false, rec >= 4 ? "kal16" : undefined);
  return {
    sb,
    vault,
    engine: eng,
    app,
    clock,
    tok,
    s1,
    s2,
    s3,
    s4,
    fresh: (consented = false, voice?: Voice) => party(consented, voice),
    async close() {
      await app.close();
      await vault.close();
      await sb.cleanup();
    },
  };
}

export interface Call {
  readonly method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  readonly url: string;
  readonly token?: string | undefined;
  readonly json?: unknown;
  readonly body?: Buffer | string | NodeJS.ReadableStream;
  readonly type?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | number | undefined>>;
  readonly text: string;
  readonly raw: Buffer;
  /** The parsed JSON body (callers state its shape). */
  json(): unknown;
}

export async function call(app: FastifyInstance, c: Call): Promise<Reply> {
  const headers: Record<string, string> = { ...(c.headers ?? {}) };
  if (c.token !== undefined) headers.authorization = `Bearer ${c.token}`;
  let payload: Buffer | string | NodeJS.ReadableStream | undefined = c.body;
  if (c.json !== undefined) {
    payload = JSON.stringify(c.json);
    headers["content-type"] ??= "application/json";
  }
  if (c.type !== undefined) headers["content-type"] = c.type;
  const r = await app.inject({
    method: c.method,
    url: c.url,
    headers,
    ...(payload !== undefined ? { payload } : {}),
  });
  return {
    status: r.statusCode,
    headers: r.headers,
    text: r.body,
    raw: r.rawPayload,
    json: () => JSON.parse(r.body) as unknown,
  };
}

/** The error code of a JSON error reply. */
export function codeOf(r: Reply): string {
  try {
    return (r.json() as { error?: { code?: string } }).error?.code ?? "(no code)";
  } catch {
    return "(not JSON)";
  }
}

export async function eventsOf(vault: Vault, type: string): Promise<Record<string, unknown>[]> {
  return (await vault.audit.list({ type, limit: 100_000 })).map(
    (e) => e.event as unknown as Record<string, unknown>,
  );
}

/** A well-formed id that exists nowhere. */
export const absentId = (prefix: string): string => `${prefix}_${"0".repeat(26)}`;
