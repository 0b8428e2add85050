/**
 * The services of an open vault, composed over its components (the other half of the composition
 * root, with compose.ts). Nothing above the services receives the components themselves.
 */
import { listEvents, type EventQuery, type RecordedEvent } from "../audit/record.js";
import { createLogService } from "../audit/log-service.js";
import { VaultError } from "../errors.js";
import { createBlobService } from "../vault/blobs.js";
import type { VaultConfig } from "./config.js";
import type { VaultDeps } from "../vault/deps.js";
import { createHealthService } from "../vault/health.js";
import { createKeyService, type KeyService } from "../vault/keys.js";
import { createShredService } from "../vault/shred.js";
import { createSubjectService } from "../vault/subjects.js";
import { createSweepService } from "../vault/sweep.js";
import { resolveAbstraction, type EmbedderConfig } from "../ingest/config.js";
import type { EmbedderPort } from "../ingest/embedder-port.js";
import { lazyIngestService } from "../ingest/lazy.js";
import type { IngestDeps, IngestInput } from "../ingest/service.js";
import { createRetentionService } from "../vault/retention.js";
import type { Actor } from "../audit/events.js";
import { resolveAccess, type ResolvedAccess } from "../access/config.js";
import { createApplicationService, type ApplicationService } from "../access/applications.js";
import { createBreakglassService, type BreakglassService } from "../access/breakglass.js";
import { createConsentService, type ConsentService } from "../access/consent.js";
import { createTokenService, type TokenService } from "../access/tokens.js";
import type { RateLimitService } from "../access/rate-limits.js";
import { createUploadService } from "../ingest/uploads.js";
import { createImportService } from "../ingest/import/service.js";
import { createJobQueue, DEFAULT_QUEUE_OPTIONS, type QueueOptions } from "../ingest/jobs.js";
import {
  drainQueue,
  startWorker,
  type DrainReport,
  type IngestWorker,
  type WorkerOptions,
} from "../ingest/worker.js";
import { createServingService, type ServingService } from "../access/serving.js";
import { hasActiveConsent } from "../access/consent.js";
import { createConsentTextService, type ConsentTextService } from "../access/consent-texts.js";
import { createPasskeyService, type PasskeyService } from "../access/passkeys.js";
import { recordEvent } from "../audit/record.js";
import type { AccessEvent } from "../audit/events-access.js";
import { createTlsKeyService } from "../vault/tls-key.js";
import { DEFAULT_DECODE_LIMITS } from "../audio/pcm/limits.js";
import { createHostService } from "../vault/hosts.js";
import { createSealingService } from "../vault/sealing.js";
import { createRootMigrationService } from "../vault/root-migration.js";
import type { SyncReport } from "../vault/root-sync.js";
import { createRotationService, type RootRotation, type RotationProgress } from "../vault/rotation.js";

export interface VaultInit extends VaultDeps {
  readonly config: VaultConfig;
  readonly dataDir: string;
  readonly decoder?: IngestDeps["decoder"] | undefined;
  /** Builds the configured speaker embedder on first use (src/embed). */
  readonly embedderFactory?: ((config: EmbedderConfig) => Promise<EmbedderPort | undefined>) | undefined;
}

/** State shared by every actor-bound view of one open vault. */
export interface SharedState {
  embedder: Promise<EmbedderPort | undefined> | undefined;
  tokenUse: Map<string, number>;
  closed: boolean;
  syncTimer: NodeJS.Timeout | undefined;
  /** Ingest workers running in this process (woken when an upload here is queued; stopped at close). */
  workers: Set<IngestWorker>;
  /** Rate-limit buckets, in the metadata store; one service per process for its memory of refusals. */
  rateLimits: RateLimitService;
}

/** A worker's settings: how many jobs at once, how it polls, and its queue's lease and retries. */
export type IngestWorkerOptions = WorkerOptions & Partial<QueueOptions>;

export interface VaultJobs {
  /** Starts ingest workers in this process; they run until stopped or the vault closes. */
  startWorker(options?: IngestWorkerOptions): IngestWorker;
  /** Works until the queue is empty (jobs other processes hold included), then reports. */
  drain(options?: IngestWorkerOptions): Promise<DrainReport>;
  /** Uploads queued or being ingested. */
  pending(): Promise<number>;
}

/** Events an entry point records itself: what it decided about access. */
export type EntryPointEvent = Extract<
  AccessEvent,
  { type: "access.granted" | "access.denied" | "policy.loaded" }
>;

export type VaultKeys = KeyService & {
  /** Root rotation with post-compromise security (src/vault/rotation.ts); resumes an interrupted one. */
  rotateRoot(onProgress?: (p: RotationProgress) => void): Promise<RootRotation>;
  /** Shreds (again) subjects whose slot a sync found punctured while they were still listed. */
  finishErasures(subjectIds: readonly string[]): Promise<void>;
};

export interface VaultAudit {
  list(query?: EventQuery): Promise<RecordedEvent[]>;
  /**
   * Records what an entry point decided about access (granted reads, denials, the policy set it
   * loaded), several events in one transaction (the API's group commit, src/server/read-events.ts).
   */
  recordAccess(events: readonly { readonly actor: Actor; readonly event: EntryPointEvent }[]): Promise<void>;
}

export interface VaultAccess {
  readonly config: ResolvedAccess;
  readonly tokens: TokenService;
  readonly applications: ApplicationService;
  readonly consents: ConsentService;
  /** Each purpose's consent text, versioned and hashed (src/access/consent-texts.ts). */
  readonly consentTexts: ConsentTextService;
  /** Contractors' passkeys (WebAuthn), src/access/passkeys.ts. */
  readonly passkeys: PasskeyService;
  readonly breakglass: BreakglassService;
  /** Serving derivations and datasets under the serving rules (src/access/serving.ts). */
  readonly serving: ServingService;
  /** Request rate limits shared by every server of the vault (src/access/rate-limits.ts). */
  readonly rateLimits: RateLimitService;
  /** Whether a subject has active consent for a purpose (the authorization context). */
  consentActive(subjectId: string, purpose: string): Promise<boolean>;
  /** The tenant of a consumer application ("" for none or unknown). */
  applicationTenant(application: string | null): Promise<string>;
}

/**
 * Every service of an open vault, over one set of components, as one actor. The Vault (vault.ts)
 * is these services and nothing else; an actor-bound view composes them again over the same
 * components and shared state.
 */
export function composeServices(init: VaultInit, state: SharedState) {
  const subjects = createSubjectService(init);
  const blobs = createBlobService(init);
  const shredding = createShredService(init);
  const keyService = createKeyService(init);
  const maintenance = createSweepService(init, shredding);
  const retention = createRetentionService(init);
  const log = createLogService(init);
  const rotation = createRotationService({
    ...init,
    keys: keyService,
    rotateLogKey: () => log.rotateKey(),
    sweepRetention: () => retention.sweep(),
  });
  const finishErasures = async (ids: readonly string[]) => {
    for (const id of ids) {
      await shredding.request(id, { immediate: true }).catch((e: unknown) => {
        if (!(e instanceof VaultError && e.code === "SUBJECT_SHREDDED")) throw e;
      });
    }
  };
  // A sync may find erasures to finish, and a received generation replaces the host key: the
  // second sync drops the old one (forward secrecy for sealed copies left in backups).
  const afterSync = async (r: SyncReport | undefined): Promise<SyncReport | undefined> => {
    if (!r) return r;
    if (r.generationsReceived.length > 0) await keyService.sync();
    if (r.erasedSubjects.length > 0) await finishErasures(r.erasedSubjects);
    return r;
  };
  const keys: VaultKeys = {
    ...keyService,
    rotateRoot: (onProgress) => rotation.rotateRoot(onProgress),
    finishErasures,
    sync: async () => (await afterSync(await keyService.sync()))!,
    syncIfNeeded: async () => afterSync(await keyService.syncIfNeeded()),
  };
  const hosts = createHostService(init);
  const abstraction = resolveAbstraction(init.config.abstraction);
  const factory = init.embedderFactory;
  const recordings = lazyIngestService({
    ...init,
    abstraction,
    decoder: init.decoder ?? {},
    embedder: () => (state.embedder ??= factory ? factory(abstraction.embedder) : Promise.resolve(undefined)),
  });
  const baseQueue = createJobQueue(init, DEFAULT_QUEUE_OPTIONS);
  const uploadService = createUploadService({
    ...init,
    ingest: recordings,
    queue: baseQueue,
    maxBytes: abstraction.limits.maxInputBytes ?? DEFAULT_DECODE_LIMITS.maxInputBytes,
    notify: () => {
      for (const w of state.workers) w.wake();
    },
  });
  const { ingestJob, ...uploads } = uploadService;
  const workerDeps = (o: IngestWorkerOptions) => {
    const q: QueueOptions = {
      leaseMs: o.leaseMs ?? DEFAULT_QUEUE_OPTIONS.leaseMs,
      maxAttempts: o.maxAttempts ?? DEFAULT_QUEUE_OPTIONS.maxAttempts,
      backoffBaseMs: o.backoffBaseMs ?? DEFAULT_QUEUE_OPTIONS.backoffBaseMs,
      backoffMaxMs: o.backoffMaxMs ?? DEFAULT_QUEUE_OPTIONS.backoffMaxMs,
    };
    return { queue: createJobQueue(init, q), ingestJob, leaseMs: q.leaseMs };
  };
  const jobs: VaultJobs = {
    startWorker(o = {}) {
      if (state.closed) throw new VaultError("VAULT_CLOSED", "vault is closed");
      const w = startWorker(workerDeps(o), o);
      state.workers.add(w);
      const stop = w.stop.bind(w);
      return {
        owner: w.owner,
        wake: () => {
          w.wake();
        },
        stop: async () => {
          await stop();
          state.workers.delete(w);
        },
      };
    },
    drain: (o = {}) => drainQueue(workerDeps(o), o),
    pending: () => baseQueue.pending(),
  };
  const imports = createImportService({ ...init, subjects, uploads: uploadService });
  // The public ingest takes no staging: only the upload service commits a job's recording.
  const publicRecordings = { ...recordings, ingest: (input: IngestInput) => recordings.ingest(input) };
  const accessConfig = resolveAccess(init.config.access);
  const purposeNames = () => Object.keys(abstraction.purposes);
  const purposes = () => abstraction.purposes;
  const tokens = createTokenService({
    ...init,
    access: accessConfig,
    purposes: purposeNames,
    lastUse: state.tokenUse,
  });
  const breakglass = createBreakglassService({
    ...init,
    access: accessConfig,
    retention: abstraction.retention,
  });
  const db = init.meta.db;
  const serving = createServingService({
    ...init,
    access: accessConfig,
    breakglass,
    tokens,
    purposes,
  });
  const access: VaultAccess = {
    config: accessConfig,
    tokens,
    applications: createApplicationService({ ...init, purposes }),
    consents: createConsentService({ ...init, purposes }),
    consentTexts: createConsentTextService({ ...init, purposes }),
    passkeys: createPasskeyService({ ...init, tokens }),
    breakglass,
    serving,
    rateLimits: state.rateLimits,
    consentActive: (subjectId, purpose) => hasActiveConsent(db, subjectId, purpose),
    applicationTenant: (application) => serving.applicationTenant(application),
  };
  const audit: VaultAudit = {
    list: (q) => listEvents(db, q),
    recordAccess: async (events) => {
      if (events.length === 0) return;
      await init.meta.write(async (trx) => {
        for (const e of events) await recordEvent(trx, e.actor, e.event);
      });
    },
  };
  const tlsKey = createTlsKeyService(init);
  const sealing = createSealingService(init);
  const rootMigration = createRootMigrationService(init, keys);
  const health = createHealthService(init, () => state.closed);
  return {
    subjects,
    blobs,
    shredding,
    keys,
    hosts,
    maintenance,
    retention,
    abstraction,
    recordings: publicRecordings,
    uploads,
    jobs,
    imports,
    audit,
    tlsKey,
    sealing,
    rootMigration,
    health,
    log,
    access,
  };
}

export type VaultServices = ReturnType<typeof composeServices>;
