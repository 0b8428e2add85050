/**
 * Reading private files (key files, passphrase files) safely, with no dependency heavier than
 * node:fs, so that the CLI can use it before it loads anything else.
 */
import { constants, promises as fs } from "node:fs";
import { VaultError } from "../errors.js";
import { GROUP_OTHER_BITS } from "./atomic.js";

/** Write bits for group and others: a directory with them lets others swap the key file. */
const GROUP_OTHER_WRITE = 0o022;

const mode = (m: number) => (m & 0o777).toString(8);

/** Refuses a key directory that group or others can write (they could replace the key file). */
export async function checkKeyDir(dir: string): Promise<void> {
  let st;
  try {
    st = await fs.stat(dir);
  } catch (e) {
    throw new VaultError("ROOT_KEY_MISSING", `key directory ${dir} is not accessible`, { cause: e });
  }
  if ((st.mode & GROUP_OTHER_WRITE) !== 0) {
    throw new VaultError(
      "INSECURE_CONFIG",
      `key directory ${dir} is writable by group or others (mode ${mode(st.mode)}); chmod 700 it`,
    );
  }
  if (typeof process.getuid === "function" && st.uid !== process.getuid() && st.uid !== 0) {
    throw new VaultError("INSECURE_CONFIG", `key directory ${dir} is owned by another user`);
  }
}

/**
 * Reads a private file (key file, passphrase file) through one descriptor: no symlink at the
 * path, a regular file, owned by this user, no access for group or others.
 */
export async function readPrivateFile(file: string, what: string, maxBytes: number): Promise<Buffer> {
  let h: fs.FileHandle;
  try {
    h = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ENOENT") throw new VaultError("ROOT_KEY_MISSING", `${what} not found: ${file}`);
    if (code === "ELOOP") throw new VaultError("INSECURE_CONFIG", `${what} ${file} is a symbolic link`);
    throw new VaultError("ROOT_KEY_MISSING", `cannot read ${what} ${file}`, { cause: e });
  }
  try {
    const st = await h.stat();
    if (!st.isFile()) throw new VaultError("INSECURE_CONFIG", `${what} ${file} is not a regular file`);
    if ((st.mode & GROUP_OTHER_BITS) !== 0) {
      throw new VaultError(
        "INSECURE_CONFIG",
        `${what} ${file} is accessible to group or others (mode ${mode(st.mode)}); chmod 600 it`,
      );
    }
    if (typeof process.getuid === "function" && st.uid !== process.getuid()) {
      throw new VaultError("INSECURE_CONFIG", `${what} ${file} is owned by another user`);
    }
    if (st.size > maxBytes) throw new VaultError("ROOT_KEY_INVALID", `${what} ${file} is too large`);
    return await h.readFile();
  } finally {
    await h.close();
  }
}
