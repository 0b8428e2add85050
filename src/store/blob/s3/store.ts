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
import { bucketPosture } from "./posture.js";
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
import {
  OBJECT_NAME_RE,
  type BlobStore,
  type ObjectInfo,
  type OpenedObject,
  type PostureProblem,
} from "../types.js";
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

/**
 * Cuts a stream into parts of exactly `size` bytes (the last may be shorter). Chunks are kept as
 * they come and copied into one buffer only when a part is full, so a small object costs its own
 * size, not a whole part.
 */
async function* parts(
  source: AsyncIterable<Uint8Array>,
  size: number,
): AsyncGenerator<Buffer, void, undefined> {
  let held: Uint8Array[] = [];
  let filled = 0;
  for await (const chunk of source) {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(size - filled, chunk.length - off);
      held.push(chunk.subarray(off, off + n));
      filled += n;
      off += n;
      if (filled === size) {
        const part = Buffer.concat(held, size);
        held = [];
        filled = 0;
        yield part;
      }
    }
  }
  if (filled > 0) yield Buffer.concat(held, filled);
}

/** The object that marks a bucket and prefix as one vault's (never a blob id, so never listed). */
export const CLAIM_KEY = "voxvault-vault.json";

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

  async posture(): Promise<PostureProblem[]> {
    return (await bucketPosture(this.#client, this.#bucket)).map(({ refuses: _refuses, ...p }) => p);
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
      let pending: Buffer | undefined = first.done ? Buffer.alloc(0) : first.value;
      const second = first.done ? undefined : await it.next();
      if (!second || second.done) {
        const body = pending;
        pending = undefined;
        await this.#conditional(name, body.length, () =>
          this.#client.send(new PutObjectCommand({ Bucket, Key, Body: body, IfNoneMatch: "*" })),
        );
        return { size: body.length };
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
      // one part in flight while the next one fills; nothing else is held
      const firstBody = pending;
      pending = second.value;
      await upload(firstBody);
      for (;;) {
        const body = pending;
        pending = undefined;
        await upload(body);
        const next = await it.next();
        if (next.done) break;
        pending = next.value;
      }
      if (!this.#conditionalMultipart && (await this.stat(name)))
        throw new VaultError("STORE_IO", "object already exists; refusing to overwrite");
      const id = uploadId;
      await this.#conditional(name, size, () =>
        this.#client.send(
          new CompleteMultipartUploadCommand({
            Bucket,
            Key,
            UploadId: id,
            MultipartUpload: { Parts: done },
            ...(this.#conditionalMultipart ? { IfNoneMatch: "*" } : {}),
          }),
        ),
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

  /**
   * A conditional create. When the SDK had to retry it (a reply lost on the way back) and the
   * retry finds the name taken, the first attempt may have written it: an object of exactly our
   * size under our random name is ours, anything else is a refusal.
   */
  async #conditional(name: string, size: number, send: () => Promise<unknown>): Promise<void> {
    try {
      await send();
    } catch (e) {
      const attempts = (e as { $metadata?: { attempts?: number } }).$metadata?.attempts ?? 1;
      if (isPreconditionFailed(e) && attempts > 1 && (await this.stat(name))?.size === size) return;
      throw e;
    }
  }

  /**
   * Marks the bucket and prefix as this vault's (at init, a conditional create) or checks the mark
   * (at open): two vaults on one bucket and prefix would each take the other's objects for
   * orphans and sweep them.
   */
  async bind(vaultId: string, mode: "create" | "open"): Promise<void> {
    const Key = this.#prefix + CLAIM_KEY;
    const Bucket = this.#bucket;
    const claimed = await this.#client
      .send(new GetObjectCommand({ Bucket, Key }))
      .then(async (r) => (JSON.parse(await r.Body!.transformToString()) as { vaultId?: unknown }).vaultId)
      .catch((e: unknown) => {
        if (isNotFound(e)) return undefined;
        throw translateS3Error(e, "claim");
      });
    const where = `s3://${Bucket}/${this.#prefix}`;
    if (mode === "open") {
      if (claimed === vaultId) return;
      throw new VaultError(
        "CONFIG_INVALID",
        claimed === undefined
          ? `${where} holds no voxvault claim: is this the vault's bucket and prefix?`
          : `${where} belongs to another vault (${JSON.stringify(claimed)})`,
      );
    }
    if (claimed !== undefined)
      throw new VaultError(
        "CONFIG_INVALID",
        `${where} already belongs to vault ${JSON.stringify(claimed)}; use another prefix`,
      );
    try {
      await this.#client.send(
        new PutObjectCommand({ Bucket, Key, Body: JSON.stringify({ vaultId }), IfNoneMatch: "*" }),
      );
    } catch (e) {
      if (isPreconditionFailed(e))
        throw new VaultError("CONFIG_INVALID", `${where} was claimed by another vault meanwhile`, {
          cause: e,
        });
      throw translateS3Error(e, "claim");
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
          const want = end - offset + 1;
          if (r.ContentLength !== undefined && r.ContentLength !== want) {
            (r.Body as { destroy?: () => void } | undefined)?.destroy?.(); // the service ignored Range
            throw new VaultError("STORE_INTEGRITY", `read: asked for ${want} bytes, got ${r.ContentLength}`);
          }
          const bytes = await r.Body!.transformToByteArray();
          if (bytes.length !== want)
            throw new VaultError("STORE_INTEGRITY", `read: asked for ${want} bytes, got ${bytes.length}`);
          return bytes;
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
    const Bucket = this.#bucket;
    const existed = (await this.stat(name)) !== undefined;
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket, Key }));
      let keyMarker: string | undefined;
      let versionMarker: string | undefined;
      for (;;) {
        const page = await this.#client.send(
          new ListObjectVersionsCommand({
            Bucket,
            Prefix: Key,
            KeyMarker: keyMarker,
            VersionIdMarker: versionMarker,
          }),
        );
        // every version of exactly this key, the pre-versioning "null" one and delete markers too
        const ids = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]
          .filter((v) => v.Key === Key && v.VersionId)
          .map((v) => ({ Key, VersionId: v.VersionId! }));
        if (ids.length > 0) {
          const r = await this.#client.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: ids } }));
          if (r.Errors?.length)
            throw new VaultError(
              "STORE_IO",
              `delete: ${r.Errors.length} version(s) of the object could not be deleted (${r.Errors[0]!.Code ?? "error"})`,
            );
        }
        if (!page.IsTruncated) break;
        keyMarker = page.NextKeyMarker;
        versionMarker = page.NextVersionIdMarker;
      }
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

  async *heads(limit: number): AsyncGenerator<{ key: string; head: Uint8Array }, void, undefined> {
    let token: string | undefined;
    let seen = 0;
    do {
      let r;
      try {
        r = await this.#client.send(
          new ListObjectsV2Command({ Bucket: this.#bucket, ContinuationToken: token }),
        );
      } catch (e) {
        throw translateS3Error(e, "list");
      }
      for (const o of r.Contents ?? []) {
        if (seen++ >= limit || !o.Key) return;
        if (!o.Size) continue;
        try {
          const got = await this.#client.send(
            new GetObjectCommand({ Bucket: this.#bucket, Key: o.Key, Range: "bytes=0-15" }),
          );
          const bytes = await got.Body!.transformToByteArray();
          yield { key: o.Key, head: bytes.subarray(0, 16) };
        } catch (e) {
          if (isNotFound(e)) continue; // deleted meanwhile
          throw translateS3Error(e, "read");
        }
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
          // only this vault's uploads: blob ids under its prefix (other applications may share a bucket)
          if (!u.Key.startsWith(this.#prefix) || !OBJECT_NAME_RE.test(u.Key.slice(this.#prefix.length)))
            continue;
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
