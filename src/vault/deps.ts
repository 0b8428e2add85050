import type { Actor } from "../audit/events.js";
import type { KeyTree } from "../keys/tree.js";
import type { RootKeyProvider } from "../keys/provider.js";
import type { BlobStore } from "../store/blob/types.js";
import type { DialectDriver } from "../store/meta/index.js";
import type { VaultConfig } from "./config.js";

/** What services may use. Each service factory takes only the fields it needs. */
export interface VaultDeps {
  readonly vaultId: string;
  readonly config: VaultConfig;
  readonly meta: DialectDriver;
  readonly store: BlobStore;
  readonly provider: RootKeyProvider;
  readonly tree: KeyTree;
  readonly actor: Actor;
  readonly now: () => Date;
}
