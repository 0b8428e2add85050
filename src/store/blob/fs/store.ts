/**
 * Filesystem blob store. Layout under its root:
 *   objects/<2 chars>/<name>   complete objects, mode 0600
 *   incoming/<random>.part     writes in progress (swept when abandoned)
 * A put writes to incoming/, fsyncs, then link()s into objects/ (link fails if the name exists,
 * so nothing is ever overwritten), unlinks the part file and fsyncs both directories.
 */
import { randomBytes } from "node:crypto";
import { constants, createReadStream, promises as fs } from "node:fs";
import path from "node:path";
import { VaultError } from "../../../errors.js";
import { fsyncDir } from "../../../fsutil/atomic.js";
import { watchSource } from "../source.js";
import { OBJECT_NAME_RE, type BlobStore, type ObjectInfo, type OpenedObject } from "../types.js";
import { translateFsError } from "./errors.js";

export interface FsBlobStoreOptions {
  readonly root: string;
}

export class FsBlobStore implements BlobStore {
  readonly kind = "fs";
  readonly #objects: string;
  readonly #incoming: string;

  private constructor(root: string) {
    this.#objects = path.join(root, "objects");
    this.#incoming = path.join(root, "incoming");
  }

  static async open(options: FsBlobStoreOptions): Promise<FsBlobStore> {
    const s = new FsBlobStore(options.root);
    await fs.mkdir(s.#objects, { recursive: true, mode: 0o700 });
    await fs.mkdir(s.#incoming, { recursive: true, mode: 0o700 });
    return s;
  }

  #path(name: string): string {
    if (!OBJECT_NAME_RE.test(name)) throw new VaultError("INVALID_ARGUMENT", "malformed object name");
    const shard = name.slice(4, 6);
    return path.join(this.#objects, shard, name);
  }

  async put(name: string, data: AsyncIterable<Uint8Array>): Promise<{ size: number }> {
    const final = this.#path(name);
    const part = path.join(this.#incoming, `${randomBytes(12).toString("hex")}.part`);
    let size = 0;
    let handle: fs.FileHandle | undefined;
    const watched = watchSource(data);
    try {
      handle = await fs.open(part, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      for await (const chunk of watched.source) {
        let off = 0;
        while (off < chunk.length) {
          const { bytesWritten } = await handle.write(chunk, off, chunk.length - off);
          off += bytesWritten;
        }
        size += chunk.length;
      }
      await handle.sync();
      await handle.close();
      handle = undefined;
      await fs.mkdir(path.dirname(final), { recursive: true, mode: 0o700 });
      await fs.link(part, final);
      await fs.unlink(part);
      await fsyncDir(path.dirname(final));
      await fsyncDir(this.#incoming);
      return { size };
    } catch (e) {
      await handle?.close().catch(() => undefined);
      await fs.rm(part, { force: true }).catch(() => undefined);
      if (watched.failed()) throw e;
      if ((e as { code?: unknown }).code === "EEXIST") {
        throw new VaultError("STORE_IO", "object already exists; refusing to overwrite", { cause: e });
      }
      throw translateFsError(e, "put");
    }
  }

  async *get(name: string): AsyncGenerator<Uint8Array, void, undefined> {
    const p = this.#path(name);
    const stream = createReadStream(p, { highWaterMark: 1 << 16 });
    try {
      for await (const chunk of stream) yield chunk as Buffer;
    } catch (e) {
      throw translateFsError(e, "get");
    } finally {
      stream.destroy();
    }
  }

  async open(name: string): Promise<OpenedObject> {
    let h: fs.FileHandle;
    try {
      h = await fs.open(this.#path(name), constants.O_RDONLY);
    } catch (e) {
      throw translateFsError(e, "open");
    }
    const { size } = await h.stat();
    return {
      size,
      async read(offset: number, length: number): Promise<Uint8Array> {
        const buf = Buffer.allocUnsafe(length);
        let got = 0;
        while (got < length) {
          const { bytesRead } = await h.read(buf, got, length - got, offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return buf.subarray(0, got);
      },
      close: () => h.close(),
    };
  }

  async stat(name: string): Promise<ObjectInfo | undefined> {
    try {
      const st = await fs.stat(this.#path(name));
      return { name, size: st.size, modifiedAt: st.mtime };
    } catch (e) {
      if ((e as { code?: unknown }).code === "ENOENT") return undefined;
      throw translateFsError(e, "stat");
    }
  }

  async delete(name: string): Promise<boolean> {
    try {
      await fs.unlink(this.#path(name));
      return true;
    } catch (e) {
      if ((e as { code?: unknown }).code === "ENOENT") return false;
      throw translateFsError(e, "delete");
    }
  }

  async *list(): AsyncGenerator<ObjectInfo, void, undefined> {
    for (const shard of (await fs.readdir(this.#objects)).sort()) {
      const dir = path.join(this.#objects, shard);
      for (const name of (await fs.readdir(dir)).sort()) {
        if (!OBJECT_NAME_RE.test(name)) continue;
        const st = await fs.stat(path.join(dir, name)).catch(() => undefined);
        if (st) yield { name, size: st.size, modifiedAt: st.mtime };
      }
    }
  }

  async sweepIncomplete(olderThanMs: number): Promise<number> {
    let removed = 0;
    const cutoff = Date.now() - olderThanMs;
    for (const f of await fs.readdir(this.#incoming)) {
      const p = path.join(this.#incoming, f);
      const st = await fs.stat(p).catch(() => undefined);
      if (st && st.mtimeMs < cutoff) {
        await fs.rm(p, { force: true });
        removed++;
      }
    }
    return removed;
  }
}
