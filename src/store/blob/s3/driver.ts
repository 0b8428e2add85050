/**
 * The S3 driver's factory (loaded only for vaults on S3: the AWS SDK costs ~0.2 s to load).
 * vault.json `"blobStore": { "driver": "s3", "bucket": …, "region": … }`.
 * Credentials never go into vault.json: VOXVAULT_S3_ACCESS_KEY_ID / VOXVAULT_S3_SECRET_ACCESS_KEY,
 * or else the AWS SDK's default chain (AWS_* variables, profile, instance role).
 * Plain-HTTP endpoints are refused except on loopback (encryption in transit).
 */
import { HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { VaultError } from "../../../errors.js";
import type { BlobStore } from "../types.js";
import { isNotFound, translateS3Error } from "./errors.js";
import type { S3Config } from "./config.js";
import { refuseUnsafeBucket } from "./posture.js";
import { S3BlobStore } from "./store.js";

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

function insecure(origin: string): VaultError {
  return new VaultError(
    "INSECURE_CONFIG",
    `S3 endpoint ${origin}: use https (plain http only on loopback); voice ciphertext still deserves TLS`,
  );
}

function checkEndpoint(endpoint: string | undefined): void {
  if (endpoint === undefined) return;
  const u = new URL(endpoint);
  if (u.protocol === "https:" || (u.protocol === "http:" && LOOPBACK.has(u.hostname))) return;
  throw insecure(u.origin);
}

/**
 * An S3 client for `config`, TLS checked on every request. Credentials come from the variables
 * `<credentialsPrefix>ACCESS_KEY_ID` / `…SECRET_ACCESS_KEY`, else the SDK's default chain (an
 * import source has its own prefix: another bucket, often another account).
 */
export function s3Client(
  config: Pick<S3Config, "region" | "endpoint" | "forcePathStyle">,
  env: NodeJS.ProcessEnv,
  credentialsPrefix = "VOXVAULT_S3_",
): S3Client {
  checkEndpoint(config.endpoint);
  const id = env[`${credentialsPrefix}ACCESS_KEY_ID`];
  const secret = env[`${credentialsPrefix}SECRET_ACCESS_KEY`];
  if ((id === undefined) !== (secret === undefined))
    throw new VaultError(
      "CONFIG_INVALID",
      `set both ${credentialsPrefix}ACCESS_KEY_ID and ${credentialsPrefix}SECRET_ACCESS_KEY`,
    );
  const client = new S3Client({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    forcePathStyle: config.forcePathStyle ?? false,
    ...(id && secret ? { credentials: { accessKeyId: id, secretAccessKey: secret } } : {}),
    maxAttempts: 5,
    retryMode: "standard",
    // checksums only where the service requires them (RGW and older MinIO reject the new defaults)
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  // The endpoint can also come from the environment or a profile (AWS_ENDPOINT_URL_S3,
  // endpoint_url): every request is checked as it leaves, not only vault.json.
  client.middlewareStack.add(
    (next) => (args) => {
      const req = args.request as { protocol?: string; hostname?: string };
      if (req.protocol === "http:" && !LOOPBACK.has(req.hostname ?? ""))
        throw insecure(`http://${req.hostname ?? "?"}`);
      return next(args);
    },
    { step: "finalizeRequest", name: "voxvaultRequireTls" },
  );
  return client;
}

/** Opens the store and checks that the bucket answers (a clear error now, not at the first put). */
export async function openS3Store(
  config: S3Config,
  ctx: { readonly env: NodeJS.ProcessEnv },
): Promise<BlobStore> {
  const client = s3Client(config, ctx.env);
  try {
    await client.send(new HeadBucketCommand({ Bucket: config.bucket }));
  } catch (e) {
    client.destroy();
    if (isNotFound(e))
      throw new VaultError("STORE_IO", `bucket ${config.bucket} does not exist (create it first)`, {
        cause: e,
      });
    throw translateS3Error(e, `bucket ${config.bucket}`);
  }
  try {
    await refuseUnsafeBucket(client, config.bucket);
  } catch (e) {
    client.destroy();
    throw e;
  }
  return new S3BlobStore({
    bucket: config.bucket,
    prefix: config.prefix,
    client,
    partSize: config.partSizeMiB === undefined ? undefined : config.partSizeMiB * 1024 * 1024,
    conditionalMultipart: config.conditionalMultipart,
  });
}
