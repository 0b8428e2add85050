/**
 * Blob-store drivers, keyed by vault.json `blobStore.driver`. Each driver is a folder with the
 * same files (store.ts, errors.ts, driver.ts: config schema and factory); adding one is that
 * folder and one entry in the schema and the switch below.
 *
 * `external` is a store a library user passes to initVault/openVault (`blobStore` option). The
 * vault records its kind and refuses to open with a store of another kind, or with none.
 */
import { z } from "zod";
import { VaultError } from "../../errors.js";
import { FsConfigSchema, openFsStore } from "./fs/driver.js";
import type { BlobStore } from "./types.js";

const ExternalConfigSchema = z.strictObject({
  driver: z.literal("external"),
  /** The injected store's `kind`. */
  kind: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/),
});

export const BlobStoreConfigSchema = z.discriminatedUnion("driver", [FsConfigSchema, ExternalConfigSchema]);
export type BlobStoreConfig = z.infer<typeof BlobStoreConfigSchema>;

export interface BlobStoreContext {
  /** Where a local driver keeps objects (inside the data directory). */
  readonly localDir: string;
  /** A store the library user passed in. */
  readonly injected?: BlobStore | undefined;
}

/** The vault.json entry for a new vault: the injected store's kind, or the filesystem. */
export function blobStoreConfigFor(injected: BlobStore | undefined): BlobStoreConfig {
  return injected ? { driver: "external", kind: injected.kind } : { driver: "fs" };
}

export async function openBlobStore(config: BlobStoreConfig, ctx: BlobStoreContext): Promise<BlobStore> {
  switch (config.driver) {
    case "fs":
      if (ctx.injected)
        throw new VaultError(
          "CONFIG_INVALID",
          "this vault keeps its blobs on the filesystem; do not pass a store",
        );
      return openFsStore(config, ctx);
    case "external":
      if (!ctx.injected)
        throw new VaultError(
          "CONFIG_INVALID",
          `this vault's blobs live in a store of kind ${config.kind} that the application passes in (blobStore option)`,
        );
      if (ctx.injected.kind !== config.kind)
        throw new VaultError(
          "CONFIG_INVALID",
          `this vault's blobs live in a store of kind ${config.kind}, not ${ctx.injected.kind}`,
        );
      return ctx.injected;
  }
}
