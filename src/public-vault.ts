/**
 * initVault / openVault as the public entry offers them: the speaker embedder the vault's
 * configuration names is built by default, so a library ingest yields the same derivations
 * (protected speaker templates included) as the CLI and the server, which open vaults through
 * here too. The core functions in vault/lifecycle.ts leave the factory to the caller, which keeps
 * them free of model files.
 */
import type { EmbedderConfig } from "./ingest/config.js";
import type { EmbedderPort } from "./ingest/embedder-port.js";
import {
  initVault as initCore,
  openVault as openCore,
  type InitOptions,
  type OpenOptions,
} from "./platform/lifecycle.js";
import type { Vault } from "./platform/vault.js";

/** Loaded when the first recording needs it, not when a vault is opened (CLI start-up). */
const defaultEmbedderFactory = async (config: EmbedderConfig): Promise<EmbedderPort | undefined> =>
  (await import("./embed-factory.js")).defaultEmbedderFactory(config);

export function initVault(options: InitOptions): Promise<Vault> {
  return initCore({ ...options, embedderFactory: options.embedderFactory ?? defaultEmbedderFactory });
}

export function openVault(options: OpenOptions): Promise<Vault> {
  return openCore({ ...options, embedderFactory: options.embedderFactory ?? defaultEmbedderFactory });
}
