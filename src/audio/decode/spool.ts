import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { wipe } from "../../crypto/bytes.js";
import { VaultError } from "../../errors.js";
import type { Spool } from "../pcm/mp4.js";

/**
 * A ciphertext spool for media that must be read out of order (an MP4 whose index comes after
 * its media). Bytes go to an unlinked temporary file in 64 KiB blocks, each sealed with
 * AES-256-GCM under a random key that exists only in this process's memory; the block index is
 * the nonce, so no nonce repeats under a key, and every tag is checked before a byte is used.
 * Once the process ends (or close() runs) the file is gone and the key with it: what reached the
 * disk was never plaintext and can never be decrypted.
 */

const BLOCK = 64 * 1024;
const TAG = 16;

function nonce(index: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeUIntBE(index, 6, 6);
  return n;
}

export interface CipherSpoolOptions {
  /** Directory for the temporary file (default: the OS temp directory). */
  readonly dir?: string | undefined;
}

export async function createCipherSpool(opts: CipherSpoolOptions = {}): Promise<Spool> {
  const dir = await fs.mkdtemp(join(opts.dir ?? tmpdir(), "voxvault-spool-"));
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(join(dir, "media"), "wx+", 0o600);
    await fs.unlink(join(dir, "media"));
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
  return new CipherSpool(handle);
}

class CipherSpool implements Spool {
  readonly #fh: fs.FileHandle;
  #key: Buffer = randomBytes(32);
  /** The last, partial block: plaintext in memory until it fills. */
  #tail = Buffer.alloc(BLOCK);
  #tailLen = 0;
  #sealedBlocks = 0;
  #cached: { index: number; plain: Buffer } | null = null;
  #closed = false;

  constructor(fh: fs.FileHandle) {
    this.#fh = fh;
  }

  get size(): number {
    return this.#sealedBlocks * BLOCK + this.#tailLen;
  }

  async #sealTail(): Promise<void> {
    const index = this.#sealedBlocks;
    const c = createCipheriv("aes-256-gcm", this.#key, nonce(index));
    const body = Buffer.concat([c.update(this.#tail.subarray(0, BLOCK)), c.final(), c.getAuthTag()]);
    await this.#fh.write(body, 0, body.length, index * (BLOCK + TAG));
    this.#sealedBlocks++;
    this.#tailLen = 0;
  }

  async append(bytes: Uint8Array): Promise<void> {
    if (this.#closed) throw new VaultError("INTERNAL", "spool is closed");
    let off = 0;
    while (off < bytes.length) {
      const take = Math.min(BLOCK - this.#tailLen, bytes.length - off);
      this.#tail.set(bytes.subarray(off, off + take), this.#tailLen);
      this.#tailLen += take;
      off += take;
      if (this.#tailLen === BLOCK) await this.#sealTail();
    }
  }

  async #block(index: number): Promise<Buffer> {
    if (index === this.#sealedBlocks) return this.#tail.subarray(0, this.#tailLen);
    if (this.#cached?.index === index) return this.#cached.plain;
    const sealed = Buffer.alloc(BLOCK + TAG);
    const { bytesRead } = await this.#fh.read(sealed, 0, sealed.length, index * (BLOCK + TAG));
    if (bytesRead !== sealed.length) throw new VaultError("STORE_IO", "spool block is missing");
    const d = createDecipheriv("aes-256-gcm", this.#key, nonce(index));
    d.setAuthTag(sealed.subarray(BLOCK));
    let plain: Buffer;
    try {
      plain = Buffer.concat([d.update(sealed.subarray(0, BLOCK)), d.final()]);
    } catch (e) {
      throw new VaultError("STORE_INTEGRITY", "spool block failed its authentication tag", { cause: e });
    }
    if (this.#cached) wipe(this.#cached.plain);
    this.#cached = { index, plain };
    return plain;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (this.#closed) throw new VaultError("INTERNAL", "spool is closed");
    if (offset < 0 || length < 0 || offset + length > this.size) {
      throw new VaultError("INTERNAL", "spool read past its end");
    }
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const at = offset + done;
      const index = Math.floor(at / BLOCK);
      const block = await this.#block(index);
      const from = at - index * BLOCK;
      const take = Math.min(length - done, block.length - from);
      out.set(block.subarray(from, from + take), done);
      done += take;
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    wipe(this.#key, this.#tail, this.#cached?.plain);
    this.#cached = null;
    await this.#fh.close();
  }
}
