/** Durable file writes: temp file, fsync, rename, fsync of the directory (POSIX rename is atomic). */
import { randomBytes } from "node:crypto";
import { constants, promises as fs } from "node:fs";
import path from "node:path";
import { VaultError } from "../errors.js";

export async function fsyncDir(dir: string): Promise<void> {
  const h = await fs.open(dir, constants.O_RDONLY);
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/**
 * Replaces `file` with `data` atomically. When `overwriteOld` is set, the replaced file's blocks
 * are overwritten with random bytes after the rename, through a descriptor opened before it.
 * On journaling, copy-on-write and flash storage this is best effort (docs/threat-model.md).
 * A symbolic link at `file` is refused, never followed: overwriting "the old file" through a
 * planted link would destroy whatever it points at.
 */
export async function writeFileAtomic(
  file: string,
  data: Uint8Array,
  options: { mode?: number; overwriteOld?: boolean } = {},
): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  const mode = options.mode ?? 0o600;
  const h = await fs.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await h.writeFile(data);
    await h.sync();
  } finally {
    await h.close();
  }
  let old: fs.FileHandle | undefined;
  try {
    if ((await fs.lstat(file)).isSymbolicLink()) throw symlinkRefused(file);
    if (options.overwriteOld) old = await fs.open(file, constants.O_RDWR | constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== "ENOENT") {
      await fs.rm(tmp, { force: true });
      throw code === "ELOOP" ? symlinkRefused(file) : e;
    }
  }
  try {
    await fs.rename(tmp, file);
    await fsyncDir(dir);
    if (old) {
      const { size } = await old.stat();
      if (size > 0) {
        await old.write(randomBytes(size), 0, size, 0);
        await old.sync();
      }
    }
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  } finally {
    await old?.close();
  }
}

function symlinkRefused(file: string): VaultError {
  return new VaultError("INSECURE_CONFIG", `refusing to replace ${file}: it is a symbolic link`);
}

/** Mode bits that must be clear on secret files and private directories. */
export const GROUP_OTHER_BITS = 0o077;
