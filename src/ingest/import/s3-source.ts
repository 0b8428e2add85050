/**
 * An S3 bucket and prefix (another bucket than the vault's) as an import source. Credentials:
 * VOXVAULT_IMPORT_S3_ACCESS_KEY_ID / VOXVAULT_IMPORT_S3_SECRET_ACCESS_KEY, else the SDK's default
 * chain; TLS is required except on loopback. On a versioned bucket a delete removes every version
 * and delete marker of the key, so no old version keeps the voice.
 */
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
} from "@aws-sdk/client-s3";
import { VaultError } from "../../errors.js";
import { s3Client } from "../../store/blob/s3/driver.js";
import { isNotFound, translateS3Error } from "../../store/blob/s3/errors.js";
import type { ImportSource, SourceObject } from "./source.js";

export interface S3SourceConfig {
  readonly bucket: string;
  readonly prefix: string;
  readonly region: string;
  readonly endpoint?: string | undefined;
  readonly forcePathStyle?: boolean | undefined;
}

/** Parses `s3://bucket/prefix`. */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m) throw new VaultError("USAGE", `${url}: expected s3://bucket/prefix`);
  return { bucket: m[1]!, prefix: m[2] ?? "" };
}

export async function openS3Source(config: S3SourceConfig, env: NodeJS.ProcessEnv): Promise<ImportSource> {
  const client = s3Client(config, env, "VOXVAULT_IMPORT_S3_");
  const { bucket, prefix } = config;
  const full = (key: string) => prefix + key;
  let versioned: boolean | undefined;
  const isVersioned = async () => {
    if (versioned === undefined) {
      const r = await client.send(new GetBucketVersioningCommand({ Bucket: bucket }));
      // Suspended still keeps the versions written while it was enabled.
      versioned = r.Status === "Enabled" || r.Status === "Suspended";
    }
    return versioned;
  };
  try {
    await isVersioned();
  } catch (e) {
    throw translateS3Error(e, `import source s3://${bucket}/${prefix}`);
  }

  return {
    description: { kind: "s3", location: `s3://${bucket}/${prefix}` },
    async *list() {
      let token: string | undefined;
      do {
        const r = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const o of r.Contents ?? []) {
          if (!o.Key || o.Key.endsWith("/")) continue; // "folder" placeholders
          yield { key: o.Key.slice(prefix.length), size: o.Size ?? 0 } satisfies SourceObject;
        }
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
    },
    async stat(key) {
      try {
        const h = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: full(key) }));
        return { key, size: h.ContentLength ?? 0 };
      } catch (e) {
        if (isNotFound(e)) return undefined;
        throw translateS3Error(e, `import source object`);
      }
    },
    read(key) {
      return (async function* () {
        const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: full(key) }));
        if (!r.Body) throw new VaultError("STORE_IO", "import source object without a body");
        yield* r.Body as AsyncIterable<Uint8Array>;
      })();
    },
    async delete(key) {
      if (!(await isVersioned())) {
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: full(key) }));
        return { versions: 1, versioned: false };
      }
      let removed = 0;
      for (;;) {
        const r = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: full(key) }));
        const ids = [...(r.Versions ?? []), ...(r.DeleteMarkers ?? [])]
          .filter((v) => v.Key === full(key) && v.VersionId)
          .map((v) => ({ Key: full(key), VersionId: v.VersionId! }));
        if (ids.length === 0) break;
        const d = await client.send(
          new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: ids, Quiet: true } }),
        );
        if (d.Errors && d.Errors.length > 0)
          throw new VaultError(
            "STORE_IO",
            `could not delete ${d.Errors.length} version(s) of an import source object`,
          );
        removed += ids.length;
      }
      return { versions: removed, versioned: true };
    },
    close: () => {
      client.destroy();
      return Promise.resolve();
    },
  };
}
