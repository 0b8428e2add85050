/**
 * Root-key provider backed by a key file: plain ("local") or sealed under a passphrase with
 * scrypt (RFC 7914). Version changes rewrite the file atomically and overwrite the replaced copy.
 */
import { scrypt as scryptCb } from "node:crypto";
import { fromBase64, randomBytes, toBase64, utf8Bytes, wipe, encodeFields } from "../crypto/bytes.js";
import { unwrapKey, wrapKey } from "../crypto/keywrap.js";
import { VaultError } from "../errors.js";
import {
  KEY_FILE_FORMAT,
  VersionsSchema,
  readKeyFile,
  writeKeyFile,
  type KeyFile,
  type KeyVersionRecord,
  type ScryptParams,
} from "./key-file.js";
import type { RootKeyProvider } from "./provider.js";

export interface FileProviderOptions {
  readonly file: string;
  readonly vaultId: string;
  /** Present for a passphrase-sealed key file. */
  readonly passphrase?: string | undefined;
  /** scrypt cost for new sealed files (log2 N); default 17. Tests may use 14. */
  readonly scryptLogN?: number | undefined;
}

const DEFAULT_LOG_N = 17;

function scrypt(passphrase: string, params: ScryptParams): Promise<Uint8Array> {
  const N = 2 ** params.logN;
  return new Promise((resolve, reject) => {
    scryptCb(
      passphrase.normalize("NFKC"),
      fromBase64(params.salt),
      32,
      { N, r: params.r, p: params.p, maxmem: 256 * N * params.r + (1 << 20) },
      (err, key) => {
        if (err) reject(err);
        else resolve(new Uint8Array(key));
      },
    );
  });
}

function sealAad(file: { vaultId: string; kdf: ScryptParams }): Uint8Array {
  return encodeFields([KEY_FILE_FORMAT, file.vaultId, "passphrase", JSON.stringify(file.kdf)]);
}

function wrapAad(vaultId: string, version: number, aad: Uint8Array): Uint8Array {
  return encodeFields(["voxvault/root-wrap/v1", vaultId, String(version), aad]);
}

export class FileKeyProvider implements RootKeyProvider {
  readonly kind: "local" | "passphrase";
  readonly location: string;
  readonly #file: string;
  readonly #vaultId: string;
  #keys = new Map<number, Uint8Array>();
  #records: KeyVersionRecord[] = [];
  /** For sealed files: the scrypt-derived key and its parameters, kept to re-seal without re-deriving. */
  #seal: { key: Uint8Array; kdf: ScryptParams } | undefined;
  #closed = false;

  private constructor(file: string, vaultId: string, kind: "local" | "passphrase") {
    this.#file = file;
    this.#vaultId = vaultId;
    this.kind = kind;
    this.location = file;
  }

  /** Creates a new key file holding root key version 1. Refuses to overwrite an existing file. */
  static async create(options: FileProviderOptions): Promise<FileKeyProvider> {
    const kind = options.passphrase === undefined ? "local" : "passphrase";
    const p = new FileKeyProvider(options.file, options.vaultId, kind);
    if (options.passphrase !== undefined) {
      if (options.passphrase.length < 12) {
        throw new VaultError("INSECURE_CONFIG", "the passphrase must be at least 12 characters");
      }
      const kdf: ScryptParams = {
        name: "scrypt",
        logN: options.scryptLogN ?? DEFAULT_LOG_N,
        r: 8,
        p: 1,
        salt: toBase64(randomBytes(16)),
      };
      p.#seal = { key: await scrypt(options.passphrase, kdf), kdf };
    }
    p.#records = [{ version: 1, key: "", createdAt: new Date().toISOString() }];
    p.#keys.set(1, randomBytes(32));
    await p.#persist(true);
    return p;
  }

  static async open(options: FileProviderOptions): Promise<FileKeyProvider> {
    const content = await readKeyFile(options.file);
    if (content.vaultId !== options.vaultId) {
      throw new VaultError("ROOT_KEY_MISMATCH", `root key file ${options.file} belongs to another vault`);
    }
    const p = new FileKeyProvider(options.file, options.vaultId, content.kind);
    if (content.kind === "passphrase") {
      if (options.passphrase === undefined) {
        throw new VaultError("ROOT_KEY_MISSING", "this vault's root key is sealed: a passphrase is required");
      }
      p.#seal = { key: await scrypt(options.passphrase, content.kdf), kdf: content.kdf };
    } else if (options.passphrase !== undefined) {
      throw new VaultError("CONFIG_INVALID", "a passphrase was given but the root key file is not sealed");
    }
    p.#load(content);
    return p;
  }

  #load(content: KeyFile): void {
    let records: KeyVersionRecord[];
    if (content.kind === "local") {
      records = content.versions;
    } else {
      if (!this.#seal || content.kdf.salt !== this.#seal.kdf.salt) {
        throw new VaultError(
          "ROOT_KEY_INVALID",
          "the key file was re-sealed by another process; reopen the vault",
        );
      }
      let plain: Uint8Array;
      try {
        plain = unwrapKey(this.#seal.key, fromBase64(content.sealed), sealAad(content));
      } catch {
        throw new VaultError("ROOT_KEY_INVALID", "wrong passphrase, or the sealed key file was altered");
      }
      const parsed = VersionsSchema.safeParse(JSON.parse(new TextDecoder().decode(plain)));
      wipe(plain);
      if (!parsed.success) throw new VaultError("ROOT_KEY_INVALID", "sealed key file content is malformed");
      records = parsed.data;
    }
    const keys = new Map<number, Uint8Array>();
    for (const r of records) {
      const k = fromBase64(r.key);
      if (k.length !== 32) throw new VaultError("ROOT_KEY_INVALID", "root key versions must be 32 bytes");
      keys.set(r.version, k);
    }
    for (const k of this.#keys.values()) wipe(k);
    this.#keys = keys;
    this.#records = records.map((r) => ({ version: r.version, key: "", createdAt: r.createdAt }));
  }

  async #reload(): Promise<void> {
    this.#load(await readKeyFile(this.#file));
  }

  async #persist(create: boolean): Promise<void> {
    const versions: KeyVersionRecord[] = this.#records.map((r) => ({
      version: r.version,
      key: toBase64(this.#keys.get(r.version)!),
      createdAt: r.createdAt,
    }));
    let content: KeyFile;
    if (this.#seal) {
      const head = { vaultId: this.#vaultId, kdf: this.#seal.kdf };
      const plain = utf8Bytes(JSON.stringify(versions));
      const sealed = wrapKey(this.#seal.key, plain, sealAad(head));
      wipe(plain);
      content = {
        format: KEY_FILE_FORMAT,
        vaultId: this.#vaultId,
        kind: "passphrase",
        kdf: this.#seal.kdf,
        sealed: toBase64(sealed),
      };
    } else {
      content = { format: KEY_FILE_FORMAT, vaultId: this.#vaultId, kind: "local", versions };
    }
    await writeKeyFile(this.#file, content, { create });
  }

  #check(): void {
    if (this.#closed) throw new VaultError("VAULT_CLOSED", "key provider closed");
  }

  async versions(): Promise<readonly number[]> {
    this.#check();
    await this.#reload();
    return [...this.#keys.keys()].sort((a, b) => a - b);
  }

  async createVersion(): Promise<number> {
    this.#check();
    await this.#reload();
    const next = Math.max(0, ...this.#keys.keys()) + 1;
    this.#keys.set(next, randomBytes(32));
    this.#records.push({ version: next, key: "", createdAt: new Date().toISOString() });
    await this.#persist(false);
    return next;
  }

  async destroyVersion(version: number): Promise<void> {
    this.#check();
    await this.#reload();
    const k = this.#keys.get(version);
    if (!k) return;
    if (this.#keys.size === 1)
      throw new VaultError("INVALID_ARGUMENT", "refusing to destroy the only root key version");
    this.#keys.delete(version);
    this.#records = this.#records.filter((r) => r.version !== version);
    await this.#persist(false);
    wipe(k);
  }

  async #key(version: number): Promise<Uint8Array> {
    this.#check();
    let k = this.#keys.get(version);
    if (!k) {
      await this.#reload();
      k = this.#keys.get(version);
    }
    if (!k)
      throw new VaultError(
        "KEY_UNAVAILABLE",
        `root key version ${version} is not in ${this.location} (destroyed?)`,
      );
    return k;
  }

  async wrap(version: number, secret: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    return wrapKey(await this.#key(version), secret, wrapAad(this.#vaultId, version, aad));
  }

  async unwrap(version: number, wrapped: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    return unwrapKey(await this.#key(version), wrapped, wrapAad(this.#vaultId, version, aad));
  }

  close(): Promise<void> {
    for (const k of this.#keys.values()) wipe(k);
    this.#keys.clear();
    if (this.#seal) wipe(this.#seal.key);
    this.#closed = true;
    return Promise.resolve();
  }
}
