/**
 * Anti-rollback anchors (docs/tlog.md §12): small files outside the metadata store that remember
 * the latest signed checkpoint. The database alone cannot say it was restored from an older
 * copy; a file it does not contain can. Two locations, because they fail differently:
 *
 * - next to the root key file (outside the data directory): catches a restored data directory
 *   (SQLite) or a restored PostgreSQL database;
 * - inside the data directory: still catches a restored PostgreSQL database or a replaced
 *   meta.sqlite when the key directory is not writable or not on this host.
 *
 * A file is only ever advanced (read, compare, write atomically). It is written after the
 * checkpoint's transaction commits, so it can lag the database (a crash in between), never lead
 * it. Checks: the metadata's tree must contain the anchored tree (size at least the anchor's,
 * same root at the anchor's size), else LOG_INCONSISTENT.
 */
import { promises as fs } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { fromBase64, toBase64 } from "../crypto/bytes.js";
import { VaultError } from "../errors.js";
import { writeFileAtomic } from "../fsutil/atomic.js";

export const ANCHOR_FORMAT = "voxvault-tlog-anchor/1";

const AnchorSchema = z.strictObject({
  format: z.literal(ANCHOR_FORMAT),
  origin: z.string().min(1),
  size: z.number().int().min(0),
  rootHash: z.string(),
  checkpoint: z.string(),
});

export interface AnchorRecord {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
  /** The signed checkpoint note the anchor was taken from. */
  readonly checkpoint: string;
}

export interface ReadAnchor extends AnchorRecord {
  readonly file: string;
}

/** The anchor file beside the root key file: "<key dir>/<vault id>.tlog-anchor.json". */
export function keyDirAnchor(keyFile: string, vaultId: string): string {
  return path.join(path.dirname(keyFile), `${vaultId}.tlog-anchor.json`);
}

/** The anchor file in the data directory. */
export function dataDirAnchor(dataDir: string): string {
  return path.join(dataDir, "tlog-anchor.json");
}

function damaged(file: string, cause?: unknown): VaultError {
  return new VaultError(
    "LOG_INCONSISTENT",
    `transparency-log anchor ${file} is damaged; compare the log with your witnesses, then remove the file to re-anchor`,
    cause === undefined ? { details: { file } } : { cause, details: { file } },
  );
}

export class Anchors {
  readonly files: readonly string[];

  constructor(files: readonly string[]) {
    this.files = files;
  }

  async #readOne(file: string): Promise<ReadAnchor | undefined> {
    let raw: string;
    try {
      raw = await fs.readFile(file, "utf8");
    } catch (e) {
      if ((e as { code?: unknown }).code === "ENOENT") return undefined;
      throw new VaultError("STORE_IO", `cannot read ${file}`, { cause: e });
    }
    let parsed;
    try {
      parsed = AnchorSchema.parse(JSON.parse(raw));
    } catch (e) {
      throw damaged(file, e);
    }
    let root: Uint8Array;
    try {
      root = fromBase64(parsed.rootHash);
    } catch (e) {
      throw damaged(file, e);
    }
    if (root.length !== 32) throw damaged(file);
    return { file, origin: parsed.origin, size: parsed.size, root, checkpoint: parsed.checkpoint };
  }

  /** Every anchor that exists. */
  async read(): Promise<ReadAnchor[]> {
    const out: ReadAnchor[] = [];
    for (const f of this.files) {
      const a = await this.#readOne(f);
      if (a) out.push(a);
    }
    return out;
  }

  /**
   * Restore only (src/vault/restore.ts): moves every anchor file aside (kept, renamed with the
   * time) so that a restored, older database may grow a new branch of the log. Returns the
   * anchors that were in force.
   */
  async setAside(at: Date): Promise<ReadAnchor[]> {
    const before = await this.read();
    const stamp = at.toISOString().replace(/[:.]/g, "-");
    for (const f of this.files) {
      await fs.rename(f, `${f}.before-restore-${stamp}`).catch((e: unknown) => {
        if ((e as { code?: string }).code !== "ENOENT") throw e;
      });
    }
    return before;
  }

  /** Moves every anchor forward to `record` (never back). */
  async advance(record: AnchorRecord): Promise<void> {
    const body = new TextEncoder().encode(
      JSON.stringify(
        {
          format: ANCHOR_FORMAT,
          origin: record.origin,
          size: record.size,
          rootHash: toBase64(record.root),
          checkpoint: record.checkpoint,
        },
        null,
        2,
      ) + "\n",
    );
    for (const file of this.files) {
      const current = await this.#readOne(file).catch(() => undefined);
      if (current?.origin === record.origin && current.size >= record.size) continue;
      await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      await writeFileAtomic(file, body, { mode: 0o600 });
    }
  }
}
