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
  closed: boolean;
  syncTimer: NodeJS.Timeout | undefined;
}

/** How often an open vault applies punctures and generations other hosts recorded. */
export const ROOT_SYNC_INTERVAL_MS = 10_000;

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
  readonly audit: { list(query?: EventQuery): Promise<RecordedEvent[]> };
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
  };
  readonly #init: VaultInit;
  readonly #shared: SharedState;

  constructor(init: VaultInit, shared?: SharedState) {
    this.#init = init;
    this.#shared = shared ?? {
      embedder: undefined,
      tokenUse: new Map(),
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
    this.access = {
      config: accessConfig,
      tokens: createTokenService({
        ...init,
        access: accessConfig,
        purposes: purposeNames,
        lastUse: state.tokenUse,
      }),
      applications: createApplicationService({ ...init, purposes }),
      consents: createConsentService({ ...init, purposes }),
      breakglass: createBreakglassService({
        ...init,
        access: accessConfig,
        retention: abstraction.retention,
      }),
    };
    this.audit = { list: (q) => listEvents(init.meta.db, q) };
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

  /** The metadata transaction runner, for services composed outside the vault (the HTTP API). */
  get internals(): Pick<VaultInit, "meta" | "store" | "tree" | "vaultId" | "now" | "actor"> {
    return this.#init;
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
