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
import { S3ConfigSchema } from "./s3/config.js";
import type { BlobStore } from "./types.js";

const ExternalConfigSchema = z.strictObject({
  driver: z.literal("external"),
  /** The injected store's `kind`. */
  kind: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/),
});

export const BlobStoreConfigSchema = z.discriminatedUnion("driver", [
  FsConfigSchema,
  S3ConfigSchema,
  ExternalConfigSchema,
]);
export type BlobStoreConfig = z.infer<typeof BlobStoreConfigSchema>;

export interface BlobStoreContext {
  /** Where a local driver keeps objects (inside the data directory). */
  readonly localDir: string;
  /** A store the library user passed in. */
  readonly injected?: BlobStore | undefined;
  /** Where drivers read credentials (never from vault.json). */
  readonly env: NodeJS.ProcessEnv;
}

/** The vault.json entry for a new vault: a configured driver, the injected store's kind, or the filesystem. */
export function blobStoreConfigFor(
  configured: BlobStoreConfig | undefined,
  injected: BlobStore | undefined,
): BlobStoreConfig {
  if (configured && injected)
    throw new VaultError("CONFIG_INVALID", "give a blob-store configuration or a store, not both");
  if (configured) {
    const parsed = BlobStoreConfigSchema.safeParse(configured);
    if (!parsed.success)
      throw new VaultError(
        "CONFIG_INVALID",
        `blob store: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      );
    return parsed.data;
  }
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
    case "s3":
      if (ctx.injected)
        throw new VaultError("CONFIG_INVALID", "this vault keeps its blobs in S3; do not pass a store");
      return (await import("./s3/driver.js")).openS3Store(config, ctx);
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
