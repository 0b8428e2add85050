/** vault.json `blobStore` for S3 (schema only: no SDK here, so every vault can parse it cheaply). */
import { z } from "zod";

/** S3's minimum part size (all parts but the last). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;

export const S3ConfigSchema = z.strictObject({
  driver: z.literal("s3"),
  /** S3 bucket naming rules (3–63 lowercase letters, digits, dots, hyphens). */
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/),
  region: z.string().regex(/^[a-z0-9-]{1,32}$/),
  /** For S3-compatible services (Ceph RGW, MinIO, R2); absent for AWS. */
  endpoint: z.url().optional(),
  /** Path-style addressing (RGW and MinIO without wildcard DNS). */
  forcePathStyle: z.boolean().optional(),
  /** A fixed key prefix (one vault per prefix); never per tenant or subject. */
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,32}\/$/)
    .optional(),
  partSizeMiB: z
    .number()
    .int()
    .min(MIN_PART_SIZE / (1024 * 1024))
    .max(512)
    .optional(),
  /** false for services that ignore If-None-Match on CompleteMultipartUpload (Ceph RGW < Squid). */
  conditionalMultipart: z.boolean().optional(),
});
export type S3Config = z.infer<typeof S3ConfigSchema>;
