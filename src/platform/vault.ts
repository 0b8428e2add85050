/** The vault handle: services over one set of components. Created by initVault / openVault. */
import { createRateLimitService } from "../access/rate-limits.js";
import type { Actor } from "../audit/events.js";
import { VaultError } from "../errors.js";
import type { VaultConfig } from "./config.js";
import {
  composeServices,
  type SharedState,
  type VaultAccess,
  type VaultAudit,
  type VaultInit,
  type VaultKeys,
  type VaultServices,
} from "./services.js";

export type { EntryPointEvent, VaultInit } from "./services.js";

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
  readonly subjects: VaultServices["subjects"];
  readonly blobs: VaultServices["blobs"];
  readonly shredding: VaultServices["shredding"];
  readonly keys: VaultKeys;
  /** Hosts of the vault and their root material (src/vault/hosts.ts). */
  readonly hosts: VaultServices["hosts"];
  readonly maintenance: VaultServices["maintenance"];
  readonly retention: VaultServices["retention"];
  readonly abstraction: VaultServices["abstraction"];
  readonly recordings: VaultServices["recordings"];
  /** Resumable uploads: the last byte queues the upload for an ingest worker. */
  readonly uploads: VaultServices["uploads"];
  /** Ingest workers and the queue they take uploads from (src/ingest/jobs.ts). */
  readonly jobs: VaultServices["jobs"];
  /** Bringing an existing archive in (`voxvault import`, src/ingest/import). */
  readonly imports: VaultServices["imports"];
  readonly audit: VaultAudit;
  /** The HTTPS server's private key, kept as a vault secret. */
  readonly tlsKey: VaultServices["tlsKey"];
  /** How the root is sealed; resharing it among officers; seal and unseal events. */
  readonly sealing: VaultServices["sealing"];
  /** `keys migrate --to hsm`: the vault's part of moving the root into a token. */
  readonly rootMigration: VaultServices["rootMigration"];
  /** Readiness (the metadata database answers), for health probes. */
  readonly health: VaultServices["health"];
  /** The transparency log over the audit events (docs/tlog.md): checkpoints, proofs, verification. */
  readonly log: VaultServices["log"];
  /** Access control for the HTTP API: tokens, applications, consent, break-glass. */
  readonly access: VaultAccess;
  readonly #init: VaultInit;
  readonly #shared: SharedState;

  constructor(init: VaultInit, shared?: SharedState) {
    this.#init = init;
    INTERNALS.set(this, init);
    this.#shared = shared ?? {
      embedder: undefined,
      tokenUse: new Map(),
      closed: false,
      syncTimer: undefined,
      workers: new Set(),
      rateLimits: createRateLimitService(init),
    };
    this.id = init.vaultId;
    this.config = init.config;
    this.dataDir = init.dataDir;
    const services = composeServices(init, this.#shared);
    this.subjects = services.subjects;
    this.blobs = services.blobs;
    this.shredding = services.shredding;
    this.maintenance = services.maintenance;
    this.retention = services.retention;
    this.log = services.log;
    this.keys = services.keys;
    this.hosts = services.hosts;
    this.abstraction = services.abstraction;
    this.recordings = services.recordings;
    this.uploads = services.uploads;
    this.jobs = services.jobs;
    this.imports = services.imports;
    this.access = services.access;
    this.audit = services.audit;
    this.tlsKey = services.tlsKey;
    this.sealing = services.sealing;
    this.rootMigration = services.rootMigration;
    this.health = services.health;
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
    // Workers finish the jobs in hand (a job cut short would wait for its lease to lapse).
    await Promise.all([...this.#shared.workers].map((w) => w.stop()));
    if (this.#shared.syncTimer) clearInterval(this.#shared.syncTimer);
    this.#init.tree.close();
    await this.#init.meta.close();
    await this.#init.provider.close();
  }

  assertOpen(): void {
    if (this.#shared.closed) throw new VaultError("VAULT_CLOSED", "vault is closed");
  }
}
