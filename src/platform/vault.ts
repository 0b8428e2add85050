/** The vault handle: services over one set of dependencies. Created by initVault / openVault. */
import { listEvents, type EventQuery, type RecordedEvent } from "../audit/record.js";
import { createLogService, type LogService } from "../audit/log-service.js";
import { VaultError } from "../errors.js";
import { createBlobService, type BlobService } from "../vault/blobs.js";
import type { VaultConfig } from "./config.js";
import type { VaultDeps } from "../vault/deps.js";
import { createHealthService, type HealthService } from "../vault/health.js";
import { createKeyService, type KeyService } from "../vault/keys.js";
import { createShredService, type ShredService } from "../vault/shred.js";
import { createSubjectService, type SubjectService } from "../vault/subjects.js";
import { createSweepService, type SweepService } from "../vault/sweep.js";
import { resolveAbstraction, type EmbedderConfig, type ResolvedAbstraction } from "../ingest/config.js";
import type { EmbedderPort } from "../ingest/embedder-port.js";
import { lazyIngestService } from "../ingest/lazy.js";
import type { IngestDeps, IngestService } from "../ingest/service.js";
import { createRetentionService, type RetentionService } from "../vault/retention.js";
import type { Actor } from "../audit/events.js";
import { resolveAccess, type ResolvedAccess } from "../access/config.js";
import { createApplicationService, type ApplicationService } from "../access/applications.js";
import { createBreakglassService, type BreakglassService } from "../access/breakglass.js";
import { createConsentService, type ConsentService } from "../access/consent.js";
import { createTokenService, type TokenService } from "../access/tokens.js";
import { createUploadService, type UploadService } from "../ingest/uploads.js";
import { createServingService, type ServingService } from "../access/serving.js";
import { hasActiveConsent } from "../access/consent.js";
import { recordEvent } from "../audit/record.js";
import type { AccessEvent } from "../audit/events-access.js";
import { createTlsKeyService, type TlsKeyService } from "../vault/tls-key.js";
import { DEFAULT_DECODE_LIMITS } from "../audio/pcm/limits.js";
import { createHostService, type HostService } from "../vault/hosts.js";
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
interface SharedState {
  embedder: Promise<EmbedderPort | undefined> | undefined;
  tokenUse: Map<string, number>;
  budgetStrikes: Map<string, number[]>;
  closed: boolean;
  syncTimer: NodeJS.Timeout | undefined;
}

/** Events an entry point records itself: what it decided about access. */
export type EntryPointEvent = Extract<
  AccessEvent,
  { type: "access.granted" | "access.denied" | "policy.loaded" }
>;

/** How often an open vault applies punctures and generations other hosts recorded. */
export const ROOT_SYNC_INTERVAL_MS = 10_000;

const INTERNALS = new WeakMap<Vault, VaultInit>();

/**
 * The dependencies behind an open vault, for tests and benchmarks that inspect the stores the way
 * an attacker holding a copy would. Not exported from the package entry (src/index.ts), and
 * test/architecture forbids it anywhere in src/ outside the composition root.
 */
export function internalsOf(vault: Vault): VaultInit {
  return INTERNALS.get(vault)!;
}

export class Vault {
  readonly id: string;
  readonly config: VaultConfig;
  readonly dataDir: string;
  readonly subjects: SubjectService;
  readonly blobs: BlobService;
  readonly shredding: ShredService;
  readonly keys: KeyService & {
    /** Root rotation with post-compromise security (src/vault/rotation.ts); resumes an interrupted one. */
    rotateRoot(onProgress?: (p: RotationProgress) => void): Promise<RootRotation>;
    /** Shreds (again) subjects whose slot a sync found punctured while they were still listed. */
    finishErasures(subjectIds: readonly string[]): Promise<void>;
  };
  /** Hosts of the vault and their root material (src/vault/hosts.ts). */
  readonly hosts: HostService;
  readonly maintenance: SweepService;
  readonly retention: RetentionService;
  readonly abstraction: ResolvedAbstraction;
  readonly recordings: IngestService;
  /** Resumable uploads that end in an ingest. */
  readonly uploads: UploadService;
  readonly audit: {
    list(query?: EventQuery): Promise<RecordedEvent[]>;
    /**
     * Records what an entry point decided about access (granted reads, denials, the policy set it
     * loaded), several events in one transaction (the API's group commit, src/server/read-events.ts).
     */
    recordAccess(
      events: readonly { readonly actor: Actor; readonly event: EntryPointEvent }[],
    ): Promise<void>;
  };
  /** The HTTPS server's private key, kept as a vault secret. */
  readonly tlsKey: TlsKeyService;
  /** Readiness (the metadata database answers), for health probes. */
  readonly health: HealthService;
  /** The transparency log over the audit events (docs/tlog.md): checkpoints, proofs, verification. */
  readonly log: LogService;
  /** Access control for the HTTP API: tokens, applications, consent, break-glass. */
  readonly access: {
    readonly config: ResolvedAccess;
    readonly tokens: TokenService;
    readonly applications: ApplicationService;
    readonly consents: ConsentService;
    readonly breakglass: BreakglassService;
    /** Serving derivations and datasets under the serving rules (src/access/serving.ts). */
    readonly serving: ServingService;
    /** Whether a subject has active consent for a purpose (the authorization context). */
    consentActive(subjectId: string, purpose: string): Promise<boolean>;
    /** The tenant of a consumer application ("" for none or unknown). */
    applicationTenant(application: string | null): Promise<string>;
  };
  readonly #init: VaultInit;
  readonly #shared: SharedState;

  constructor(init: VaultInit, shared?: SharedState) {
    this.#init = init;
    INTERNALS.set(this, init);
    this.#shared = shared ?? {
      embedder: undefined,
      tokenUse: new Map(),
      budgetStrikes: new Map(),
      closed: false,
      syncTimer: undefined,
    };
    this.id = init.vaultId;
    this.config = init.config;
    this.dataDir = init.dataDir;
    this.subjects = createSubjectService(init);
    this.blobs = createBlobService(init);
    this.shredding = createShredService(init);
    const keys = createKeyService(init);
    this.maintenance = createSweepService(init, this.shredding);
    this.retention = createRetentionService(init);
    this.log = createLogService(init);
    const rotation = createRotationService({
      ...init,
      keys,
      rotateLogKey: () => this.log.rotateKey(),
      sweepRetention: () => this.retention.sweep(),
    });
    const shredding = this.shredding;
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
      if (r.generationsReceived.length > 0) await keys.sync();
      if (r.erasedSubjects.length > 0) await finishErasures(r.erasedSubjects);
      return r;
    };
    this.keys = {
      ...keys,
      rotateRoot: (onProgress) => rotation.rotateRoot(onProgress),
      finishErasures,
      sync: async () => (await afterSync(await keys.sync()))!,
      syncIfNeeded: async () => afterSync(await keys.syncIfNeeded()),
    };
    this.hosts = createHostService(init);
    this.abstraction = resolveAbstraction(init.config.abstraction);
    const factory = init.embedderFactory;
    const abstraction = this.abstraction;
    const state = this.#shared;
    this.recordings = lazyIngestService({
      ...init,
      abstraction,
      decoder: init.decoder ?? {},
      embedder: () =>
        (state.embedder ??= factory ? factory(abstraction.embedder) : Promise.resolve(undefined)),
    });
    this.uploads = createUploadService({
      ...init,
      ingest: this.recordings,
      maxBytes: abstraction.limits.maxInputBytes ?? DEFAULT_DECODE_LIMITS.maxInputBytes,
    });
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
    this.access = {
      config: accessConfig,
      tokens,
      applications: createApplicationService({ ...init, purposes }),
      consents: createConsentService({ ...init, purposes }),
      breakglass,
      serving: createServingService({
        ...init,
        access: accessConfig,
        breakglass,
        tokens,
        purposes,
        strikes: state.budgetStrikes,
      }),
      consentActive: (subjectId, purpose) => hasActiveConsent(db, subjectId, purpose),
      async applicationTenant(application) {
        if (application === null) return "";
        const row = await db
          .selectFrom("applications")
          .select("tenant")
          .where("name", "=", application)
          .executeTakeFirst();
        return row?.tenant ?? "";
      },
    };
    this.audit = {
      list: (q) => listEvents(db, q),
      recordAccess: async (events) => {
        if (events.length === 0) return;
        await init.meta.write(async (trx) => {
          for (const e of events) await recordEvent(trx, e.actor, e.event);
        });
      },
    };
    this.tlsKey = createTlsKeyService(init);
    this.health = createHealthService(init, () => state.closed);
    if (!shared) this.#startRootSync();
  }

  /** Applies other hosts' punctures and generations while the vault is open (unref'd: never keeps a process alive). */
  #startRootSync(): void {
    const timer = setInterval(() => {
      this.keys.syncIfNeeded().catch(() => undefined); // a busy or unreachable store: next tick
    }, ROOT_SYNC_INTERVAL_MS);
    timer.unref();
    this.#shared.syncTimer = timer;
  }

  get metadataDialect(): "sqlite" | "postgres" {
    return this.#init.meta.dialect;
  }

  /** The actor whose name every event recorded through this view carries. */
  get actor(): Actor {
    return this.#init.actor;
  }

  /** A view of the same open vault whose services record events as `actor` (one per API request). */
  withActor(actor: Actor): Vault {
    return new Vault({ ...this.#init, actor }, this.#shared);
  }

  /** The vault's clock (tests and tools inject one at open). */
  now(): Date {
    return this.#init.now();
  }

  async close(): Promise<void> {
    if (this.#shared.closed) return;
    this.#shared.closed = true;
    if (this.#shared.syncTimer) clearInterval(this.#shared.syncTimer);
    this.#init.tree.close();
    await this.#init.meta.close();
    await this.#init.provider.close();
  }

  assertOpen(): void {
    if (this.#shared.closed) throw new VaultError("VAULT_CLOSED", "vault is closed");
  }
}
