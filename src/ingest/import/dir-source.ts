/**
 * A local directory as an import source. Only regular files under the root are objects: symbolic
 * links are not followed (an archive must not reach outside itself), and keys are POSIX paths.
 */
import { createReadStream, promises as fs } from "node:fs";
import path from "node:path";
import { VaultError } from "../../errors.js";
import type { ImportSource, SourceObject } from "./source.js";

export async function openDirSource(root: string): Promise<ImportSource> {
  const base = path.resolve(root);
  const st = await fs.stat(base).catch(() => undefined);
  if (!st?.isDirectory()) throw new VaultError("FILE_UNREADABLE", `${root}: not a directory`);

  function resolve(key: string): string {
    const p = path.resolve(base, ...key.split("/"));
    if (!p.startsWith(base + path.sep))
      throw new VaultError("INVALID_ARGUMENT", `key ${key} leaves the source`);
    return p;
  }

  async function* walk(dir: string, prefix: string): AsyncGenerator<SourceObject> {
    const entries = (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    for (const e of entries) {
      const key = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.isDirectory()) yield* walk(path.join(dir, e.name), key);
      else if (e.isFile()) yield { key, size: (await fs.stat(path.join(dir, e.name))).size };
    }
  }

  return {
    description: { kind: "dir", location: base },
    list: () => walk(base, ""),
    async stat(key) {
      const s = await fs.lstat(resolve(key)).catch(() => undefined);
      return s?.isFile() ? { key, size: s.size } : undefined;
    },
    read: (key) => createReadStream(resolve(key)) as AsyncIterable<Uint8Array>,
    async delete(key) {
      try {
        await fs.unlink(resolve(key));
      } catch (e) {
        // Already gone (an earlier attempt crashed before recording it): as S3's delete, not an error.
        if ((e as { code?: string }).code === "ENOENT") return { versions: 0, versioned: false };
        throw e;
      }
      return { versions: 1, versioned: false };
    },
    close: () => Promise.resolve(),
  };
}
