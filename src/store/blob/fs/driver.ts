/** The filesystem driver: vault.json `"blobStore": { "driver": "fs" }`, objects under <data dir>/blobs. */
import { z } from "zod";
import type { BlobStore } from "../types.js";
import { FsBlobStore } from "./store.js";

export const FsConfigSchema = z.strictObject({ driver: z.literal("fs") });
export type FsConfig = z.infer<typeof FsConfigSchema>;

export function openFsStore(_config: FsConfig, ctx: { readonly localDir: string }): Promise<BlobStore> {
  return FsBlobStore.open({ root: ctx.localDir });
}
