/**
 * The composition root's factories: the only place that builds root-key providers, blob stores
 * and metadata drivers, each chosen by vault.json (test/architecture checks that nothing else
 * constructs them). The services over them are composed by the Vault (vault.ts); entry points
 * (server, CLI, library users) receive services, never these components.
 */
import path from "node:path";
import { VaultError } from "../errors.js";
import { FileKeyProvider } from "../keys/file-provider.js";
import { MigratingKeyProvider } from "../keys/migrating-provider.js";
import { resolvePin } from "../keys/pkcs11/pin.js";
import { Pkcs11KeyProvider } from "../keys/pkcs11/provider.js";
import { LEGACY_KEY_FILE_FORMAT, readKeyFile } from "../keys/key-file.js";
import type { NewQuorum, ParsedShare } from "../keys/quorum.js";
import { openBlobStore } from "../store/blob/drivers.js";
import type { BlobStore } from "../store/blob/types.js";
import { connectMetadata, migrate, type DialectDriver, type MetadataConfig } from "../store/meta/index.js";
import { checkStillLegacy, readLegacyVersions } from "../vault/key-upgrade.js";
import { LAYOUT, type Pkcs11Config, type VaultConfig } from "./config.js";

/** Where the metadata lives: the embedded SQLite file, or PostgreSQL (URL from the environment). */
export function metadataConfig(
  config: VaultConfig,
  dataDir: string,
  pgUrl: string | undefined,
): MetadataConfig {
  if (config.metadata.driver === "sqlite")
    return { driver: "sqlite", file: path.join(dataDir, LAYOUT.sqlite) };
  if (!pgUrl) {
    throw new VaultError(
      "CONFIG_INVALID",
      "this vault keeps metadata in PostgreSQL: set VOXVAULT_PG_URL or pass --pg-url",
    );
  }
  return { driver: "postgres", url: pgUrl, schema: config.metadata.schema };
}

export function connectMetadataFor(metaConfig: MetadataConfig): DialectDriver {
  return connectMetadata(metaConfig);
}

/** The vault's blob store, by `blobStore.driver` (an injected store for `external`). */
export function blobStoreFor(
  config: VaultConfig,
  dataDir: string,
  injected: BlobStore | undefined,
  env: NodeJS.ProcessEnv,
): Promise<BlobStore> {
  return openBlobStore(config.blobStore, { localDir: path.join(dataDir, LAYOUT.blobs), injected, env });
}

export interface NewRootOptions {
  readonly kind: VaultConfig["keyProvider"]["kind"];
  /** The key file; for an HSM root, its sealed state file. */
  readonly keyFile: string;
  readonly vaultId: string;
  readonly passphrase: string | undefined;
  readonly scryptLogN?: number | undefined;
  /** For `quorum`: the new quorum whose shares the caller hands out. */
  readonly quorum?: NewQuorum | undefined;
  /** Root generations to create: [1] for a new vault, none for a host that joins one. */
  readonly generations: readonly number[];
  /** For `pkcs11`: another host joining a vault whose keys the token already holds. */
  readonly joining?: boolean | undefined;
  /** For `pkcs11`: the token and its PIN (already read from its source). */
  readonly hsm?: (Omit<Pkcs11Config, "kind" | "pin" | "file"> & { readonly pin: string }) | undefined;
}

/** A root provider, with the key file's extras when it is one (legacy upgrade, host keys). */
export type OpenedRoot = FileKeyProvider | Pkcs11KeyProvider | MigratingKeyProvider;

/**
 * A new root-key provider, by `keyProvider.kind`: a key file (`local`; `passphrase` seals it with
 * scrypt) or a PKCS#11 token (`pkcs11`). A KMS provider (docs/architecture.md §Other providers)
 * adds a case here.
 */
export function createRootProvider(options: NewRootOptions): Promise<OpenedRoot> {
  switch (options.kind) {
    case "local":
    case "passphrase":
    case "quorum":
      if ((options.kind === "quorum") !== (options.quorum !== undefined))
        throw new VaultError("USAGE", "a quorum-sealed key file needs its officers and threshold");
      return FileKeyProvider.create({
        file: options.keyFile,
        vaultId: options.vaultId,
        passphrase: options.passphrase,
        quorum: options.quorum,
        scryptLogN: options.scryptLogN,
        generations: [...options.generations],
      });
    case "pkcs11": {
      if (!options.hsm) throw new VaultError("CONFIG_INVALID", "a pkcs11 root needs its token settings");
      return Pkcs11KeyProvider.create({
        vaultId: options.vaultId,
        ...options.hsm,
        stateFile: options.keyFile,
        generations: [...options.generations],
        joining: options.joining,
      });
    }
  }
}

/**
 * Opens this host's root-key provider. A format-1 key file (before root generations) is
 * rewritten first as a format-2 file holding a fresh generation 1 and the old root versions, for
 * the upgrade that follows at open (src/vault/key-upgrade.ts), unless the vault was already
 * upgraded elsewhere.
 */
export async function openRootProvider(
  config: VaultConfig,
  keyFile: string,
  unlock: { readonly passphrase?: string | undefined; readonly shares?: readonly ParsedShare[] | undefined },
  metaConfig: MetadataConfig,
  env: NodeJS.ProcessEnv,
): Promise<OpenedRoot> {
  const kp = config.keyProvider;
  if (kp.kind === "pkcs11") {
    const hsm = await Pkcs11KeyProvider.open({
      vaultId: config.vaultId,
      module: kp.module,
      token: kp.token,
      keyLabel: kp.keyLabel,
      pin: await resolvePin(kp.pin, env),
      stateFile: keyFile,
    });
    if (!kp.migratingFrom) return hsm;
    try {
      const file = await FileKeyProvider.open({
        file: kp.migratingFrom.file,
        vaultId: config.vaultId,
        passphrase: unlock.passphrase,
        shares: unlock.shares,
      });
      return new MigratingKeyProvider(file, hsm);
    } catch (e) {
      await hsm.close();
      throw e;
    }
  }
  const { passphrase, shares } = unlock;
  const file = await readKeyFile(keyFile);
  if (file.format !== LEGACY_KEY_FILE_FORMAT) {
    return FileKeyProvider.open({ file: keyFile, vaultId: config.vaultId, passphrase, shares });
  }
  if (file.vaultId !== config.vaultId) {
    throw new VaultError("ROOT_KEY_MISMATCH", `root key file ${keyFile} belongs to another vault`);
  }
  const versions = await readLegacyVersions(file, passphrase);
  const driver = connectMetadata(metaConfig);
  try {
    await migrate(driver);
    // Under the vault's write lock: two processes (or hosts) opening a format-1 vault at once
    // must not each write their own generation 1; the second one finds the converted file.
    return await driver.write(async (trx) => {
      const now = await readKeyFile(keyFile);
      if (now.format !== LEGACY_KEY_FILE_FORMAT) {
        return FileKeyProvider.open({ file: keyFile, vaultId: config.vaultId, passphrase });
      }
      await checkStillLegacy(trx);
      return FileKeyProvider.create({
        file: keyFile,
        vaultId: config.vaultId,
        passphrase,
        generations: [1],
        legacy: versions,
        replacing: { kdf: file.kind === "passphrase" ? file.kdf : undefined },
      });
    });
  } finally {
    await driver.close();
  }
}
