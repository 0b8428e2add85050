/**
 * initVault / openVault as the public entry offers them: the speaker embedder the vault's
 * configuration names is built by default, so a library ingest yields the same derivations
 * (protected speaker templates included) as the CLI and the server, which open vaults through
 * here too. The core functions in vault/lifecycle.ts leave the factory to the caller, which keeps
 * them free of model files.
 */
import { defaultEmbedderFactory } from "./embed-factory.js";
import {
  initVault as initCore,
  openVault as openCore,
  type InitOptions,
  type OpenOptions,
} from "./vault/lifecycle.js";
import type { Vault } from "./vault/vault.js";

export function initVault(options: InitOptions): Promise<Vault> {
  return initCore({ ...options, embedderFactory: options.embedderFactory ?? defaultEmbedderFactory });
}

export function openVault(options: OpenOptions): Promise<Vault> {
  return openCore({ ...options, embedderFactory: options.embedderFactory ?? defaultEmbedderFactory });
}
