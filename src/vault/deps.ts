import type { Actor } from "../audit/events.js";
import type { KeyTree } from "../keys/tree.js";
import type { RootKeyProvider } from "../keys/provider.js";
import type { BlobStore } from "../store/blob/types.js";
import type { DialectDriver } from "../store/meta/index.js";

/**
 * The settings services read. vault.json as a whole (src/platform/config.ts) is the composition
 * root's business; a service sees only these fields.
 */
export interface ServiceSettings {
  readonly defaultTenant: string;
  readonly shred: { readonly softDeleteWindow: string };
}

/**
 * What services may use, built by the composition root (src/platform/compose.ts). Each service
 * factory takes only the fields it needs. Nothing above the services (server, CLI, library users)
 * holds these: they call services.
 */
export interface VaultDeps {
  readonly vaultId: string;
  readonly config: ServiceSettings;
  readonly meta: DialectDriver;
  readonly store: BlobStore;
  readonly provider: RootKeyProvider;
  readonly tree: KeyTree;
  readonly actor: Actor;
  readonly now: () => Date;
}
