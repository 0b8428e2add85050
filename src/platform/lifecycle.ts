/**
 * Creating and opening a vault. Both fail closed: an existing vault is never overwritten, a
 * root key inside the data directory or a data directory others can read is refused, and a vault
 * whose root key is missing, foreign or wrong does not open.
 */
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "kysely";
import { keyDirAnchor } from "../audit/anchor.js";
import type { Actor } from "../audit/events.js";
import { attachLog, openLog } from "../audit/open.js";
import { readLogState } from "../audit/log-state.js";
import { logContextOf } from "../audit/session.js";
import {
  finishRestore,
  prepareRestore,
  restoreMarker,
  rootAheadOfCopy,
  type RestoreReport,
} from "../vault/restore.js";
import { recordEvent } from "../audit/record.js";
import { randomBytes, toBase64, toHex, wipe } from "../crypto/bytes.js";
import { ed25519PrivateKey, ed25519RawPublicKey } from "../crypto/ed25519.js";
import { VaultError } from "../errors.js";
import { GROUP_OTHER_BITS } from "../fsutil/atomic.js";
import { newId } from "../ids.js";
import { KeyCache } from "../keys/cache.js";
import { FileKeyProvider } from "../keys/file-provider.js";
import { resolvePin } from "../keys/pkcs11/pin.js";
import { defaultHsmStateFile, defaultKeyFile, readKeyFile } from "../keys/key-file.js";
import type { NewQuorum, ParsedShare } from "../keys/quorum.js";
import { hasLegacyKeys, upgradeLegacyKeys } from "../vault/key-upgrade.js";
import { KeyTree } from "../keys/tree.js";
import { blobStoreConfigFor, type BlobStoreConfig } from "../store/blob/drivers.js";
import type { BlobStore } from "../store/blob/types.js";
import {
  blobStoreFor,
  connectMetadataFor,
  createRootProvider,
  metadataConfig,
  openRootProvider,
  type OpenedRoot,
} from "./compose.js";
import {
  createSchema,
  migrate,
  readSchemaVersion,
  SCHEMA_VERSION,
  type DialectDriver,
} from "../store/meta/index.js";
import { CERT_SECRET } from "../vault/certificates.js";
import {
  LAYOUT,
  VAULT_FORMAT,
  VAULT_FORMAT_VERSION,
  configPath,
  readVaultConfig,
  writeVaultConfig,
  type VaultConfig,
} from "./config.js";
import { parseDuration } from "../vault/duration.js";
import { CERT_PUBLIC_KEY_META } from "../vault/shred.js";
import { checkTenant } from "../vault/subjects.js";
import { Vault } from "./vault.js";
import { Pkcs11KeyProvider } from "../keys/pkcs11/provider.js";
import type { LogPosition } from "../keys/provider.js";
import type { Pkcs11Config } from "./config.js";
import { resolveAbstraction, type AbstractionConfig, type EmbedderConfig } from "../ingest/config.js";
import type { EmbedderPort } from "../ingest/embedder-port.js";
import { healFork, PUNCTURE_LOG_META, syncRoot, type SyncReport } from "../vault/root-sync.js";
import { checkHostName, defaultHostName, registerPendingHost } from "../vault/hosts.js";
import { hostKeyFingerprint } from "../crypto/host-seal.js";

/** An HSM root for a new vault: the token, its PIN's source, and optionally the key labels' prefix. */
export type HsmInit = Omit<Pkcs11Config, "kind" | "file" | "keyLabel"> & {
  readonly keyLabel?: string | undefined;
};

export interface InitOptions extends PipelineOptions {
  readonly dataDir: string;
  /** Abstraction settings written to vault.json (purposes, retention, limits, embedder). */
  readonly abstraction?: AbstractionConfig | undefined;
  /** Root key file; default: $XDG_CONFIG_HOME/voxvault/keys/<vault id>.key.json (outside the data dir). */
  readonly keyFile?: string | undefined;
  /** Seal the root key file under this passphrase (scrypt). */
  readonly passphrase?: string | undefined;
  readonly scryptLogN?: number | undefined;
  /**
   * Seal the root key file under a quorum instead (src/keys/quorum.ts): called with the new
   * vault's id, returns the quorum whose shares the caller has handed out.
   */
  readonly quorum?: ((vaultId: string) => Promise<NewQuorum>) | undefined;
  /**
   * Keep the root in an HSM (PKCS#11) instead of a key file; `keyFile` then names the sealed root
   * state file (default `<vault id>.hsm.json` where the key file would go).
   */
  readonly hsm?: HsmInit | undefined;
  /** Where ciphertext objects go (e.g. `{ driver: "s3", bucket, region }`); default the data directory. */
  readonly storage?: BlobStoreConfig | undefined;
  /** Metadata in PostgreSQL instead of the embedded SQLite file. */
  readonly postgres?: { readonly url: string; readonly schema?: string | undefined } | undefined;
  readonly defaultTenant?: string | undefined;
  /** Delay between a shred request and the shred (cancellable); default "0" (immediate). */
  readonly softDeleteWindow?: string | undefined;
  readonly keyCache?: { readonly maxEntries: number; readonly ttlSeconds: number } | undefined;
  readonly actor?: Actor | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** This host's name in the vault's host list; default the machine's host name. */
  readonly hostName?: string | undefined;
}

/** Options both initVault and openVault accept: the pipeline, and components a library user injects. */
export interface PipelineOptions {
  /**
   * A blob store of the application's own (any implementation of BlobStore). At init the vault
   * records its kind (vault.json `blobStore: {driver: "external"}`); every open must pass a store
   * of that kind. Default: the filesystem under the data directory.
   */
  readonly blobStore?: BlobStore | undefined;
  /** Decoder worker location and ffmpeg fallback (tests point the worker at the built file). */
  readonly decoder?:
    { readonly workerUrl?: URL | undefined; readonly ffmpegFallback?: boolean | undefined } | undefined;
  /** Builds the speaker embedder named by the vault's configuration. */
  readonly embedderFactory?: ((config: EmbedderConfig) => Promise<EmbedderPort | undefined>) | undefined;
}

export interface OpenOptions extends PipelineOptions {
  readonly dataDir: string;
  readonly keyFile?: string | undefined;
  readonly passphrase?: string | undefined;
  /** For a quorum-sealed root key file: at least its threshold of officers' unseal shares. */
  readonly shares?: readonly ParsedShare[] | undefined;
  /** PostgreSQL URL for vaults whose metadata lives there; default env VOXVAULT_PG_URL. */
  readonly postgresUrl?: string | undefined;
  readonly actor?: Actor | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
  readonly now?: (() => Date) | undefined;
}

export function defaultActor(): Actor {
  let user = "unknown";
  try {
    user = String(os.userInfo().uid);
  } catch {
    // no passwd entry (containers): keep "unknown"
  }
  return { type: "cli", id: `uid:${user}` };
}

function isInside(dir: string, file: string): boolean {
  const rel = path.relative(dir, file);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

async function realpathOrSelf(p: string): Promise<string> {
  try {
    return await fs.realpath(p);
  } catch {
    const parent = path.dirname(p);
    return parent === p ? p : path.join(await realpathOrSelf(parent), path.basename(p));
  }
}

async function checkKeyOutside(dataDir: string, keyFile: string): Promise<void> {
  if (isInside(await realpathOrSelf(dataDir), await realpathOrSelf(keyFile))) {
    throw new VaultError(
      "INSECURE_CONFIG",
      "the root key file must live outside the data directory (a copy of the data directory must yield nothing)",
    );
  }
}

async function checkDataDir(dataDir: string): Promise<void> {
  let st;
  try {
    st = await fs.stat(dataDir);
  } catch {
    throw new VaultError("VAULT_NOT_FOUND", `no vault at ${dataDir} (run voxvault init)`);
  }
  if (!st.isDirectory()) throw new VaultError("VAULT_NOT_FOUND", `${dataDir} is not a directory`);
  if ((st.mode & GROUP_OTHER_BITS) !== 0) {
    throw new VaultError(
      "INSECURE_CONFIG",
      `data directory ${dataDir} is accessible to group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 700 it`,
    );
  }
  if (typeof process.getuid === "function" && st.uid !== process.getuid()) {
    throw new VaultError("INSECURE_CONFIG", `data directory ${dataDir} is owned by another user`);
  }
}

async function prepareNewDataDir(dataDir: string): Promise<boolean> {
  try {
    const entries = await fs.readdir(dataDir);
    if (entries.includes(LAYOUT.config))
      throw new VaultError("VAULT_EXISTS", `a vault already exists at ${dataDir}`);
    if (entries.length > 0)
      throw new VaultError("VAULT_EXISTS", `${dataDir} is not empty; refusing to initialise a vault there`);
    await fs.chmod(dataDir, 0o700);
    return false;
  } catch (e) {
    if (e instanceof VaultError) throw e;
    if ((e as { code?: unknown }).code !== "ENOENT")
      throw new VaultError("STORE_IO", `cannot use ${dataDir}`, { cause: e });
    await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
    return true;
  }
}

export async function initVault(options: InitOptions): Promise<Vault> {
  const env = options.env ?? process.env;
  const dataDir = path.resolve(options.dataDir);
  const vaultId = newId("vlt");
  if (options.hsm && options.passphrase !== undefined)
    throw new VaultError("USAGE", "an HSM root takes no passphrase (the token's PIN guards it)");
  const keyFile = path.resolve(
    options.keyFile ?? (options.hsm ? defaultHsmStateFile(vaultId, env) : defaultKeyFile(vaultId, env)),
  );
  await checkKeyOutside(dataDir, keyFile);
  const defaultTenant = checkTenant(options.defaultTenant ?? "default");
  const softDeleteWindow = options.softDeleteWindow ?? "0";
  parseDuration(softDeleteWindow);
  const createdDir = await prepareNewDataDir(dataDir);

  const config: VaultConfig = {
    format: VAULT_FORMAT,
    formatVersion: VAULT_FORMAT_VERSION,
    vaultId,
    createdAt: new Date().toISOString(),
    defaultTenant,
    keyProvider: options.hsm
      ? {
          kind: "pkcs11",
          module: options.hsm.module,
          token: options.hsm.token,
          keyLabel: options.hsm.keyLabel ?? `voxvault/${vaultId}`,
          pin: options.hsm.pin,
          ...(options.keyFile === undefined ? {} : { file: keyFile }),
        }
      : {
          kind: options.quorum ? "quorum" : options.passphrase === undefined ? "local" : "passphrase",
          ...(options.keyFile === undefined ? {} : { file: keyFile }),
        },
    metadata: options.postgres
      ? { driver: "postgres", schema: options.postgres.schema ?? `voxvault_${vaultId.slice(4)}` }
      : { driver: "sqlite" },
    blobStore: blobStoreConfigFor(options.storage, options.blobStore),
    shred: { softDeleteWindow },
    keyCache: options.keyCache ?? { maxEntries: 10_000, ttlSeconds: 300 },
    ...(options.abstraction ? { abstraction: options.abstraction } : {}),
  };
  resolveAbstraction(config.abstraction); // refuse an inconsistent configuration before creating anything
  const metaConfig = metadataConfig(config, dataDir, options.postgres?.url);

  let provider: OpenedRoot | undefined;
  let driver: DialectDriver | undefined;
  let schemaCreated = false;
  try {
    // first: an unreachable bucket or a refused endpoint fails before anything is created
    const store = await blobStoreFor(config, dataDir, options.blobStore, env);
    const kp = config.keyProvider;
    const quorum = options.quorum ? await options.quorum(vaultId) : undefined;
    provider = await createRootProvider({
      kind: kp.kind,
      keyFile,
      vaultId,
      passphrase: options.passphrase,
      scryptLogN: options.scryptLogN,
      quorum,
      generations: [1],
      hsm:
        kp.kind === "pkcs11"
          ? { module: kp.module, token: kp.token, keyLabel: kp.keyLabel, pin: await resolvePin(kp.pin, env) }
          : undefined,
    });
    if (quorum) wipe(quorum.sealKey); // the provider keeps its own copy
    const root = provider;
    driver = connectMetadataFor(metaConfig);
    await createSchema(driver, metaConfig);
    schemaCreated = true;
    const cache = new KeyCache({
      maxEntries: config.keyCache.maxEntries,
      ttlMs: config.keyCache.ttlSeconds * 1000,
    });
    const tree = new KeyTree(vaultId, root, cache);
    const actor = options.actor ?? defaultActor();
    // Every write goes through the transparency log; its secrets and first checkpoint are made
    // in this first transaction, with the vault.initialized leaf (src/audit/session.ts).
    const meta = attachLog(driver, {
      vaultId,
      tree,
      dataDir,
      keyFile,
      secretTtlMs: config.keyCache.ttlSeconds * 1000,
    });
    // A shared HSM root moves between no hosts: such a host has no host key (an empty one listed).
    const hostPublicKey = root.distribution ? await root.distribution.hostPublicKey() : new Uint8Array();
    await meta.write(async (trx) => {
      const certSeed = randomBytes(32);
      await trx
        .insertInto("vault_meta")
        .values([
          { key: "vault_id", value: vaultId },
          { key: "created_at", value: config.createdAt },
          { key: "next_slot", value: "0" },
          { key: PUNCTURE_LOG_META, value: toBase64(randomBytes(12)) },
          { key: CERT_PUBLIC_KEY_META, value: toBase64(ed25519RawPublicKey(ed25519PrivateKey(certSeed))) },
        ])
        .execute();
      await tree.init(trx, config.createdAt);
      await tree.createSecret(trx, CERT_SECRET, certSeed);
      wipe(certSeed);
      await trx
        .insertInto("key_hosts")
        .values({
          id: provider!.hostId,
          name: checkHostName(options.hostName ?? defaultHostName()),
          public_key: Buffer.from(hostPublicKey),
          status: "approved",
          created_at: config.createdAt,
          approved_at: config.createdAt,
          revoked_at: null,
          applied_seq: 0,
          generations: "[1]",
          last_seen: config.createdAt,
        })
        .execute();
      await recordEvent(trx, actor, {
        type: "vault.initialized",
        vaultId,
        keyProvider: provider!.kind,
        metadata: metaConfig.driver,
        schemaVersion: SCHEMA_VERSION,
        hostId: provider!.hostId,
        hostFingerprint: hostKeyFingerprint(hostPublicKey),
      });
    });
    await store.bind?.(vaultId, "create"); // a shared bucket and prefix belong to one vault
    await writeVaultConfig(dataDir, config); // last: its presence means "a complete vault"
    return new Vault({
      vaultId,
      config,
      dataDir,
      meta,
      store,
      provider: root,
      tree,
      actor,
      now: () => new Date(),
      decoder: options.decoder,
      embedderFactory: options.embedderFactory,
    });
  } catch (e) {
    // Undo a half-made vault so that a retry starts clean; never touch anything we did not create.
    if (driver && schemaCreated && metaConfig.driver === "postgres") {
      await sql`DROP SCHEMA IF EXISTS ${sql.id(metaConfig.schema)} CASCADE`
        .execute(driver.db)
        .catch(() => undefined);
    }
    await driver?.close().catch(() => undefined);
    if (provider) {
      await provider.close();
      await fs.rm(keyFile, { force: true });
      await fs.rm(keyDirAnchor(keyFile, vaultId), { force: true });
    }
    if (createdDir) await fs.rm(dataDir, { recursive: true, force: true });
    else {
      for (const entry of await fs.readdir(dataDir).catch(() => [])) {
        await fs.rm(path.join(dataDir, entry), { recursive: true, force: true });
      }
    }
    throw e;
  }
}

/**
 * Brings this host's root in step with the vault (accepting generations sealed to it, applying
 * punctures) and proves the root opens the vault's keys. A busy vault is retried: a host that
 * cannot sync cannot know whether its root is current.
 */
async function openRoot(deps: Parameters<typeof syncRoot>[0]): Promise<SyncReport> {
  let report: SyncReport;
  for (let attempt = 0; ; attempt++) {
    try {
      report = await deps.meta.write((trx) => syncRoot(deps, trx));
      // a host key replaced after receiving a generation: drop the old one now (forward secrecy)
      if (report.generationsReceived.length > 0) await deps.meta.write((trx) => syncRoot(deps, trx));
      break;
    } catch (e) {
      if (!(e instanceof VaultError && e.code === "VAULT_BUSY") || attempt >= 20) throw e;
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    }
  }
  await deps.tree.verifyRoot(deps.meta.db);
  return report;
}

export async function openVault(options: OpenOptions): Promise<Vault> {
  return (await openInternal(options, false)).vault;
}

/**
 * Restores a backup of the metadata that is older than this host's root and audit log
 * (src/vault/restore.ts): what was erased since the copy stays erased, everything else opens,
 * and the audit log grows a new, explicitly recorded branch. Returns the open vault and a report.
 */
export async function restoreVault(options: OpenOptions): Promise<{ vault: Vault; report: RestoreReport }> {
  const { vault, restore } = await openInternal(options, true);
  try {
    return { vault, report: await restore!() };
  } catch (e) {
    await vault.close();
    throw e;
  }
}

/** The data directory, its vault.json and this host's key file, each checked (open and join). */
/**
 * Where this host's root is and how it is sealed, read without opening anything (a sealed
 * server starts from this: it needs the key file's public quorum, not the vault).
 */
export async function locateRoot(options: {
  dataDir: string;
  keyFile?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}): Promise<{ vaultId: string; keyFile: string; sealedBy: "none" | "passphrase" | "quorum" | "hsm" }> {
  const { config, keyFile } = await locateVault(options);
  if (config.keyProvider.kind === "pkcs11") return { vaultId: config.vaultId, keyFile, sealedBy: "hsm" };
  const file = await readKeyFile(keyFile);
  const sealedBy = file.kind === "local" ? "none" : file.kind;
  return { vaultId: config.vaultId, keyFile, sealedBy };
}

async function locateVault(options: {
  dataDir: string;
  keyFile?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}): Promise<{ env: NodeJS.ProcessEnv; dataDir: string; config: VaultConfig; keyFile: string }> {
  const env = options.env ?? process.env;
  const dataDir = path.resolve(options.dataDir);
  await checkDataDir(dataDir);
  const config = await readVaultConfig(dataDir);
  const keyFile = path.resolve(
    options.keyFile ??
      config.keyProvider.file ??
      (config.keyProvider.kind === "pkcs11"
        ? defaultHsmStateFile(config.vaultId, env)
        : defaultKeyFile(config.vaultId, env)),
  );
  await checkKeyOutside(dataDir, keyFile);
  return { env, dataDir, config, keyFile };
}

async function openInternal(
  options: OpenOptions,
  restoring: boolean,
): Promise<{ vault: Vault; restore: (() => Promise<RestoreReport>) | undefined }> {
  const { env, dataDir, config, keyFile } = await locateVault(options);
  const metaConfig = metadataConfig(config, dataDir, options.postgresUrl ?? env.VOXVAULT_PG_URL);
  if (metaConfig.driver === "sqlite") {
    try {
      await fs.access(metaConfig.file);
    } catch {
      throw new VaultError("VAULT_CORRUPT", `${configPath(dataDir)} exists but ${LAYOUT.sqlite} is missing`);
    }
  }
  const provider = await openRootProvider(
    config,
    keyFile,
    { passphrase: options.passphrase, shares: options.shares },
    metaConfig,
    env,
  );
  let driver: DialectDriver | undefined;
  try {
    driver = connectMetadataFor(metaConfig);
    const version = await readSchemaVersion(driver);
    if (version === undefined)
      throw new VaultError("VAULT_CORRUPT", "the metadata store has no voxvault schema");
    await migrate(driver); // refuses newer schema versions
    const idRow = await driver.db
      .selectFrom("vault_meta")
      .select("value")
      .where("key", "=", "vault_id")
      .executeTakeFirst();
    if (idRow?.value !== config.vaultId) {
      throw new VaultError("VAULT_CORRUPT", "the metadata store belongs to another vault than vault.json");
    }
    const cache = new KeyCache({
      maxEntries: config.keyCache.maxEntries,
      ttlMs: config.keyCache.ttlSeconds * 1000,
    });
    const tree = new KeyTree(config.vaultId, provider, cache);
    const actor = options.actor ?? defaultActor();
    const meta = attachLog(driver, {
      vaultId: config.vaultId,
      tree,
      dataDir,
      keyFile,
      now: options.now,
      secretTtlMs: config.keyCache.ttlSeconds * 1000,
    });
    const now = options.now ?? (() => new Date());
    const rootDeps = { meta, tree, provider, actor, now };
    // Format-1 vaults (before root generations) had key files only.
    if (provider instanceof FileKeyProvider) {
      if (await hasLegacyKeys(driver.db)) {
        await meta.write((trx) =>
          upgradeLegacyKeys({ ...rootDeps, provider, vaultId: config.vaultId }, trx, defaultHostName()),
        );
      }
      if (provider.legacyVersions) await provider.dropLegacy(); // committed (now or by an earlier, interrupted open)
    }
    let lost: { size: number; root: string } | undefined;
    let prepared: Awaited<ReturnType<typeof prepareRestore>> | undefined;
    if (restoring) {
      const anchors = logContextOf(meta).anchors;
      const marked = await restoreMarker(driver.db);
      const ahead = await rootAheadOfCopy(rootDeps, driver.db);
      const state = await readLogState(driver.db);
      const inForce = (await anchors.read()).filter((a) => a.size > (state?.size ?? 0));
      if (!marked && !ahead && inForce.length === 0) {
        throw new VaultError(
          "RESTORE_REFUSED",
          "this metadata is not older than the root or the audit log: open it normally",
        );
      }
      // a rerun after an interrupted restore: the anchors are aside already, the marker remembers the loss
      const aside = await anchors.setAside(now());
      lost =
        marked?.lost ??
        aside.reduce<{ size: number; root: string } | undefined>(
          (m, a) => (m && m.size >= a.size ? m : { size: a.size, root: toHex(a.root) }),
          undefined,
        );
      await openLog(meta);
      prepared = await meta.write((trx) => prepareRestore(rootDeps, trx, lost));
    } else {
      if (await rootAheadOfCopy(rootDeps, driver.db)) {
        // an older copy: before refusing, put what this host erased back into the log, so that
        // no other host serves a subject this one knows to be shredded (no event: the log of
        // such a copy may be behind its anchors; `restore` records it all)
        await meta.write((trx) => healFork(rootDeps, trx));
      }
      await openLog(meta); // refuses a database older than the log's last signed checkpoint
      if (await restoreMarker(driver.db)) {
        throw new VaultError(
          "RESTORE_REQUIRED",
          "the metadata is older than this host's root (a restored backup?): run voxvault restore, which keeps erased subjects erased",
        );
      }
    }
    const synced = await openRoot(rootDeps);
    const store = await blobStoreFor(config, dataDir, options.blobStore, env);
    await store.bind?.(config.vaultId, "open");
    const vault = new Vault({
      vaultId: config.vaultId,
      config,
      dataDir,
      meta,
      store,
      provider,
      tree,
      actor,
      now: options.now ?? (() => new Date()),
      decoder: options.decoder,
      embedderFactory: options.embedderFactory,
    });
    const p = prepared;
    if (!p && synced.erasedSubjects.length > 0) await vault.keys.finishErasures(synced.erasedSubjects);
    return {
      vault,
      restore: p
        ? () =>
            finishRestore(
              vault,
              rootDeps,
              { ...p, pointsRelogged: synced.pointsRelogged, erasedSubjects: synced.erasedSubjects },
              lost,
            )
        : undefined,
    };
  } catch (e) {
    await driver?.close().catch(() => undefined);
    await provider.close();
    throw driver ? driver.translateError(e) : e;
  }
}

export interface JoinOptions {
  readonly dataDir: string;
  /** This host's key file (must not exist yet); default as for openVault. */
  readonly keyFile?: string | undefined;
  /** Seal this host's key file under a passphrase. */
  readonly passphrase?: string | undefined;
  readonly scryptLogN?: number | undefined;
  /** Or under a quorum of officers (the caller hands out the shares). */
  readonly quorum?: NewQuorum | undefined;
  readonly postgresUrl?: string | undefined;
  readonly hostName?: string | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
}

export interface JoinResult {
  readonly hostId: string;
  readonly name: string;
  readonly fingerprint: string;
  readonly keyFile: string;
}

/**
 * Makes this machine a pending host of an existing vault (docs/architecture.md §Several hosts): a
 * new key file with a fresh host key and no root generation, and a pending row in the vault's
 * host list. An approved host checks the fingerprint and runs `host approve`; this host's next
 * open then receives the root generations sealed to it. Nothing is copied between hosts.
 */
export async function joinVault(options: JoinOptions): Promise<JoinResult> {
  const { env, dataDir, config, keyFile } = await locateVault(options);
  const name = checkHostName(options.hostName ?? defaultHostName());
  const metaConfig = metadataConfig(config, dataDir, options.postgresUrl ?? env.VOXVAULT_PG_URL);
  const driver = connectMetadataFor(metaConfig);
  let provider: OpenedRoot | undefined;
  try {
    if ((await readSchemaVersion(driver)) === undefined)
      throw new VaultError("VAULT_CORRUPT", "the metadata store has no voxvault schema");
    await migrate(driver);
    const kp = config.keyProvider;
    provider =
      kp.kind === "pkcs11"
        ? // another host of the same token: its own state file, the token's keys shared
          await createRootProvider({
            kind: "pkcs11",
            keyFile,
            vaultId: config.vaultId,
            passphrase: undefined,
            generations: [],
            joining: true,
            hsm: {
              module: kp.module,
              token: kp.token,
              keyLabel: kp.keyLabel,
              pin: await resolvePin(kp.pin, env),
            },
          })
        : await createRootProvider({
            kind: options.quorum ? "quorum" : options.passphrase === undefined ? "local" : "passphrase",
            keyFile,
            vaultId: config.vaultId,
            passphrase: options.passphrase,
            scryptLogN: options.scryptLogN,
            quorum: options.quorum,
            generations: [],
          });
    if (!provider.distribution)
      throw new VaultError("NOT_IMPLEMENTED_BY_PROVIDER", "this root has no host keys");
    const publicKey = await provider.distribution.hostPublicKey();
    await registerPendingHost(driver, { id: provider.hostId, name, publicKey, at: new Date().toISOString() });
    return { hostId: provider.hostId, name, fingerprint: hostKeyFingerprint(publicKey), keyFile };
  } catch (e) {
    if (provider) await fs.rm(keyFile, { force: true });
    throw driver.translateError(e);
  } finally {
    await provider?.close();
    await driver.close();
  }
}

export interface MigrateToHsmOptions extends OpenOptions {
  /** The token to move the root into (as `init --hsm`); needed to start, not to resume. */
  readonly hsm?: HsmInit | undefined;
  /** Where the token-sealed state goes; default beside where the key file would be. */
  readonly stateFile?: string | undefined;
}

export interface MigrationReport {
  readonly resumed: boolean;
  readonly toGeneration: number;
  /** Key-file generations destroyed: backups made before the migration no longer open. */
  readonly destroyed: readonly number[];
  readonly removedKeyFile: string;
  readonly stateFile: string;
}

/**
 * `voxvault keys migrate --to hsm` (docs/operations.md §Moving the root into an HSM): a root
 * rotation whose new generation is made in the token, then the key file's generations destroyed
 * and the file itself overwritten and removed. Resumable: vault.json records the migration
 * (`keyProvider.migratingFrom`) before anything moves, and each step is skipped once done.
 */
export async function migrateRootToHsm(options: MigrateToHsmOptions): Promise<MigrationReport> {
  const located = await locateVault(options);
  const { dataDir, env } = located;
  let config = located.config;
  const resumed = config.keyProvider.kind === "pkcs11" && config.keyProvider.migratingFrom !== undefined;
  if (config.keyProvider.kind === "pkcs11" && !resumed)
    throw new VaultError("CONFLICT", "the root is already in an HSM");
  if (!resumed) {
    if (!options.hsm)
      throw new VaultError("USAGE", "migrate --to hsm needs the token: --hsm MODULE --hsm-token LABEL");
    const keyFile = located.keyFile;
    const stateFile = path.resolve(options.stateFile ?? defaultHsmStateFile(config.vaultId, env));
    await checkKeyOutside(dataDir, stateFile);
    const before = await openVault(options);
    let hostId: string;
    let applied: LogPosition;
    try {
      const approved = (await before.hosts.list()).filter((h) => h.status === "approved");
      if (approved.length > 1)
        throw new VaultError(
          "NOT_IMPLEMENTED_BY_PROVIDER",
          `the vault has ${approved.length} hosts: an HSM root serves one host for now (revoke the others first)`,
        );
      ({ hostId, applied } = await before.rootMigration.position());
    } finally {
      await before.close();
    }
    const keyLabel = options.hsm.keyLabel ?? `voxvault/${config.vaultId}`;
    const hsm = await Pkcs11KeyProvider.create({
      vaultId: config.vaultId,
      module: options.hsm.module,
      token: options.hsm.token,
      keyLabel,
      pin: await resolvePin(options.hsm.pin, env),
      stateFile,
      generations: [],
      hostId,
      applied,
    });
    await hsm.close();
    config = {
      ...config,
      keyProvider: {
        kind: "pkcs11",
        module: options.hsm.module,
        token: options.hsm.token,
        keyLabel,
        pin: options.hsm.pin,
        ...(options.stateFile === undefined ? {} : { file: stateFile }),
        migratingFrom: { file: keyFile },
      },
    };
    await writeVaultConfig(dataDir, config); // from here on, every open sees both halves
  }
  const kp = config.keyProvider;
  if (kp.kind !== "pkcs11" || !kp.migratingFrom) throw new VaultError("INTERNAL", "migration state lost");
  const oldFile = kp.migratingFrom.file;
  const vault = await openVault({ ...options, keyFile: undefined });
  let report: MigrationReport;
  try {
    const { toGeneration, destroyed } = await vault.rootMigration.finish();
    report = {
      resumed,
      toGeneration,
      destroyed,
      removedKeyFile: oldFile,
      stateFile: path.resolve(kp.file ?? defaultHsmStateFile(config.vaultId, env)),
    };
  } finally {
    await vault.close();
  }
  const { migratingFrom: _done, ...settled } = kp;
  await writeVaultConfig(dataDir, { ...config, keyProvider: settled });
  await shredFile(oldFile);
  return report;
}

/** Overwrites a file with zeros, flushes, and unlinks it (what a copy-on-write disk keeps is out of reach). */
async function shredFile(file: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, "r+");
    const { size } = await handle.stat();
    await handle.write(new Uint8Array(size), 0, size, 0);
    await handle.sync();
  } catch (e) {
    if ((e as { code?: unknown }).code !== "ENOENT") throw e;
    return;
  } finally {
    await handle?.close();
  }
  await fs.unlink(file);
}
