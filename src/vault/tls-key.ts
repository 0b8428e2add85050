/**
 * The HTTPS server's private key, kept as a vault secret under the root (so a copy of the data
 * directory yields no TLS key, and a root rotation, which deletes it, forces a new one).
 */
import type { VaultDeps } from "./deps.js";
import { TLS_SECRET } from "./secret-names.js";

export function createTlsKeyService(deps: Pick<VaultDeps, "meta" | "tree">) {
  return {
    /** The current key (PKCS#8 DER; the caller wipes it), or undefined when there is none. */
    async current(): Promise<Uint8Array | undefined> {
      const row = await deps.meta.db
        .selectFrom("vault_secrets")
        .select("version")
        .where("name", "=", TLS_SECRET)
        .where("status", "=", "active")
        .executeTakeFirst();
      if (!row) return undefined;
      return (await deps.tree.secret(deps.meta.db, TLS_SECRET)).value;
    },
    /** Stores a new key as the current one. */
    async replace(keyDer: Uint8Array): Promise<void> {
      await deps.meta.write(async (trx) => {
        await deps.tree.createSecret(trx, TLS_SECRET, keyDer);
      });
    },
  };
}

export type TlsKeyService = ReturnType<typeof createTlsKeyService>;
