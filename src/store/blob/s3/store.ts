/**
 * S3 blob store (AWS S3, Ceph RGW, MinIO, R2; docs/operations.md §S3). Objects are ciphertext
 * under random names (blob ids: no tenant, subject or kind in a key), below an optional fixed
 * prefix.
 *
 * - put streams in bounded memory: one part buffered at a time (partSize, default 8 MiB). An
 *   object smaller than a part is one PutObject; a larger one a multipart upload, aborted on any
 *   failure. Both are conditional creates (`If-None-Match: *`): an existing name is never
 *   overwritten.
 * - open gives ranged reads (GET with Range), so a segment of a 2 GB blob costs one request.
 * - Retries: the SDK's standard mode (exponential backoff with jitter, `maxAttempts`); parts are
 *   buffers, so a retried request resends the same bytes.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
} from "@aws-sdk/client-s3";
import { VaultError } from "../../../errors.js";
import { watchSource } from "../source.js";
import { OBJECT_NAME_RE, type BlobStore, type ObjectInfo, type OpenedObject } from "../types.js";
import { MIN_PART_SIZE } from "./config.js";
import { isNotFound, isPreconditionFailed, translateS3Error } from "./errors.js";

export interface S3BlobStoreOptions {
  readonly bucket: string;
  /** A fixed prefix for every key (e.g. "voxvault/"); never per tenant or subject. */
  readonly prefix?: string | undefined;
  readonly client: S3Client;
  /** Bytes per multipart part (≥ 5 MiB, S3's minimum for all parts but the last). */
  readonly partSize?: number | undefined;
  /**
   * Whether the service honours `If-None-Match: *` on CompleteMultipartUpload (AWS, MinIO, R2
   * do; Ceph RGW before Squid ignores it). Without it a HEAD before completing guards the name
   * (names are 130-bit random ids, so a collision means a bug, not a race).
   */
  readonly conditionalMultipart?: boolean | undefined;
}

export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
/** S3's limit on parts per upload. */
const MAX_PARTS = 10_000;

/** Accumulates a stream into parts of exactly `size` bytes (the last may be shorter). */
async function* parts(
  source: AsyncIterable<Uint8Array>,
  size: number,
): AsyncGenerator<Buffer, void, undefined> {
  let buf = Buffer.allocUnsafe(size);
  let filled = 0;
  for await (const chunk of source) {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(size - filled, chunk.length - off);
      buf.set(chunk.subarray(off, off + n), filled);
      filled += n;
      off += n;
      if (filled === size) {
        yield buf;
        buf = Buffer.allocUnsafe(size); // the yielded part may still be in flight
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buf.subarray(0, filled);
}

export class S3BlobStore implements BlobStore {
  readonly kind = "s3";
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #client: S3Client;
  readonly #partSize: number;
  readonly #conditionalMultipart: boolean;

  constructor(options: S3BlobStoreOptions) {
    const partSize = options.partSize ?? DEFAULT_PART_SIZE;
    if (!Number.isInteger(partSize) || partSize < MIN_PART_SIZE)
      throw new VaultError("CONFIG_INVALID", `S3 part size must be an integer ≥ ${MIN_PART_SIZE}`);
    this.#bucket = options.bucket;
    this.#prefix = options.prefix ?? "";
    this.#client = options.client;
    this.#partSize = partSize;
    this.#conditionalMultipart = options.conditionalMultipart ?? true;
  }

  #key(name: string): string {
    if (!OBJECT_NAME_RE.test(name)) throw new VaultError("INVALID_ARGUMENT", "malformed object name");
    return this.#prefix + name;
  }

  async put(name: string, data: AsyncIterable<Uint8Array>): Promise<{ size: number }> {
    const Key = this.#key(name);
    const Bucket = this.#bucket;
    const watched = watchSource(data);
    const it = parts(watched.source, this.#partSize);
    let uploadId: string | undefined;
    let size = 0;
    try {
      const first = await it.next();
      const firstPart = first.done ? Buffer.alloc(0) : first.value;
      const second = first.done ? { done: true as const, value: undefined } : await it.next();
      if (second.done) {
        await this.#client.send(new PutObjectCommand({ Bucket, Key, Body: firstPart, IfNoneMatch: "*" }));
        return { size: firstPart.length };
      }
      uploadId = (await this.#client.send(new CreateMultipartUploadCommand({ Bucket, Key }))).UploadId;
      if (!uploadId) throw new VaultError("STORE_IO", "put: S3 returned no upload id");
      const done: CompletedPart[] = [];
      const upload = async (body: Buffer): Promise<void> => {
        const PartNumber = done.length + 1;
        if (PartNumber > MAX_PARTS)
          throw new VaultError("STORE_IO", `put: more than ${MAX_PARTS} parts; raise the part size`);
        const r = await this.#client.send(
          new UploadPartCommand({ Bucket, Key, UploadId: uploadId, PartNumber, Body: body }),
        );
        done.push({ PartNumber, ETag: r.ETag });
        size += body.length;
      };
      await upload(firstPart);
      await upload(second.value);
      for await (const body of it) await upload(body);
      if (!this.#conditionalMultipart && (await this.stat(name)))
        throw new VaultError("STORE_IO", "object already exists; refusing to overwrite");
      await this.#client.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key,
          UploadId: uploadId,
          MultipartUpload: { Parts: done },
          ...(this.#conditionalMultipart ? { IfNoneMatch: "*" } : {}),
        }),
      );
      uploadId = undefined;
      return { size };
    } catch (e) {
      if (uploadId) {
        await this.#client
          .send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId: uploadId }))
          .catch(() => undefined); // sweepIncomplete removes it later
      }
      if (watched.failed()) throw e;
      if (isPreconditionFailed(e))
        throw new VaultError("STORE_IO", "object already exists; refusing to overwrite", { cause: e });
      throw translateS3Error(e, "put");
    }
  }

  async *get(name: string): AsyncGenerator<Uint8Array, void, undefined> {
    let body: AsyncIterable<Uint8Array>;
    try {
      const r = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: this.#key(name) }));
      body = r.Body as AsyncIterable<Uint8Array>;
    } catch (e) {
      throw translateS3Error(e, "get");
    }
    try {
      for await (const chunk of body) yield chunk;
    } catch (e) {
      throw translateS3Error(e, "get");
    } finally {
      (body as { destroy?: () => void }).destroy?.();
    }
  }

  async open(name: string): Promise<OpenedObject> {
    const Key = this.#key(name);
    const info = await this.stat(name);
    if (!info) throw new VaultError("BLOB_NOT_FOUND", "open: no such object");
    const client = this.#client;
    const Bucket = this.#bucket;
    return {
      size: info.size,
      async read(offset: number, length: number): Promise<Uint8Array> {
        if (length <= 0 || offset >= info.size) return new Uint8Array(0);
        const end = Math.min(info.size, offset + length) - 1;
        try {
          const r = await client.send(new GetObjectCommand({ Bucket, Key, Range: `bytes=${offset}-${end}` }));
          return await r.Body!.transformToByteArray();
        } catch (e) {
          throw translateS3Error(e, "read");
        }
      },
      close: () => Promise.resolve(),
    };
  }

  async stat(name: string): Promise<ObjectInfo | undefined> {
    try {
      const r = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#key(name) }),
      );
      return { name, size: r.ContentLength ?? 0, modifiedAt: r.LastModified ?? new Date(0) };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw translateS3Error(e, "stat");
    }
  }

  /**
   * Removes the object and, on a versioned bucket, every version of it and its delete markers:
   * ciphertext of a shredded subject should not linger as an old version.
   */
  async delete(name: string): Promise<boolean> {
    const Key = this.#key(name);
    const existed = (await this.stat(name)) !== undefined;
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key }));
      const versions = await this.#client.send(
        new ListObjectVersionsCommand({ Bucket: this.#bucket, Prefix: Key, MaxKeys: 1000 }),
      );
      const ids = [...(versions.Versions ?? []), ...(versions.DeleteMarkers ?? [])]
        .filter((v) => v.Key === Key && v.VersionId && v.VersionId !== "null")
        .map((v) => ({ Key, VersionId: v.VersionId! }));
      if (ids.length > 0)
        await this.#client.send(new DeleteObjectsCommand({ Bucket: this.#bucket, Delete: { Objects: ids } }));
      return existed;
    } catch (e) {
      throw translateS3Error(e, "delete");
    }
  }

  async *list(): AsyncGenerator<ObjectInfo, void, undefined> {
    let token: string | undefined;
    do {
      let r;
      try {
        r = await this.#client.send(
          new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: this.#prefix, ContinuationToken: token }),
        );
      } catch (e) {
        throw translateS3Error(e, "list");
      }
      for (const o of r.Contents ?? []) {
        const name = (o.Key ?? "").slice(this.#prefix.length);
        if (OBJECT_NAME_RE.test(name))
          yield { name, size: o.Size ?? 0, modifiedAt: o.LastModified ?? new Date(0) };
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  }

  /** Aborts multipart uploads started before the cutoff (their parts are billed and hold ciphertext). */
  async sweepIncomplete(olderThanMs: number): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    try {
      for (;;) {
        const r = await this.#client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.#bucket,
            Prefix: this.#prefix,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        );
        for (const u of r.Uploads ?? []) {
          if (!u.Key || !u.UploadId || (u.Initiated && u.Initiated.getTime() >= cutoff)) continue;
          await this.#client.send(
            new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key: u.Key, UploadId: u.UploadId }),
          );
          removed++;
        }
        if (!r.IsTruncated) break;
        keyMarker = r.NextKeyMarker;
        uploadIdMarker = r.NextUploadIdMarker;
      }
    } catch (e) {
      throw translateS3Error(e, "sweep");
    }
    return removed;
  }
}
