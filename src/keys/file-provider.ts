/**
 * Root-key provider backed by a key file: plain ("local") or sealed under a passphrase with
 * scrypt (RFC 7914). Every change rewrites the file atomically and overwrites the replaced copy.
 *
 * Changes are made only inside a metadata write transaction (the vault's write lock serialises
 * every process of every host), and each one re-reads the file first, so two processes of one
 * host never lose each other's changes.
 */
import { scrypt as scryptCb } from "node:crypto";
import { encodeFields, fromBase64, randomBytes, toBase64, utf8Bytes, wipe } from "../crypto/bytes.js";
import { checkHostKey, generateHostKey, sealToHost, type HostKeyPair } from "../crypto/host-seal.js";
import { unwrapKey, wrapKey } from "../crypto/keywrap.js";
import { VaultError } from "../errors.js";
import { newId } from "../ids.js";
import {
  ContentSchema,
  KEY_FILE_FORMAT,
  readKeyFile,
  writeKeyFile,
  type KeyFile,
  type KeyFileContent,
  type LegacyVersionRecord,
  type ScryptParams,
} from "./key-file.js";
import { PuncturableKey } from "./pprf.js";
import { CHECK_POINT } from "./points.js";
import { hmacSha256 } from "../crypto/kdf.js";
import { openWithHostKeys, rotateHostKeys, settleHostKeys } from "./host-keys.js";
import {
  combineShares,
  describeQuorum,
  newQuorum,
  type NewQuorum,
  type ParsedShare,
  type Quorum,
} from "./quorum.js";
import type { GenerationDistribution, LogPosition, RootKeyProvider, RootSealing } from "./provider.js";

export interface FileProviderOptions {
  readonly file: string;
  readonly vaultId: string;
  /** Present for a passphrase-sealed key file. */
  readonly passphrase?: string | undefined;
  /** scrypt cost for new sealed files (log2 N); default 17. Tests may use 14. */
  readonly scryptLogN?: number | undefined;
  /** For a quorum-sealed key file: at least its threshold of officers' shares. */
  readonly shares?: readonly ParsedShare[] | undefined;
}

export interface CreateOptions extends FileProviderOptions {
  /** Generations to create (a new vault: [1]; a host joining an existing vault: []). */
  readonly generations: readonly number[];
  /** Root key versions of a format-1 file, kept until its vault is upgraded. */
  readonly legacy?: readonly LegacyVersionRecord[] | undefined;
  /** Upgrade only: replace the format-1 file at `file`, sealed with its KDF parameters. */
  readonly replacing?: { readonly kdf?: ScryptParams | undefined } | undefined;
  /** Seal the new file under this quorum (src/keys/quorum.ts); the caller hands out its shares. */
  readonly quorum?: NewQuorum | undefined;
}

const DEFAULT_LOG_N = 17;
export const MIN_PASSPHRASE_LENGTH = 12;

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

export function sealAad(file: { format: string; vaultId: string; kdf: ScryptParams }): Uint8Array {
  return encodeFields([file.format, file.vaultId, "passphrase", JSON.stringify(file.kdf)]);
}

function quorumAad(file: { format: string; vaultId: string; quorum: Quorum }): Uint8Array {
  return encodeFields([file.format, file.vaultId, "quorum", JSON.stringify(file.quorum)]);
}

/** What seals the key file: a passphrase's scrypt key, or a quorum's seal key. */
type Seal =
  | { kind: "passphrase"; key: Uint8Array; kdf: ScryptParams }
  | { kind: "quorum"; key: Uint8Array; quorum: Quorum };

/** HMAC(F(CHECK_POINT), label)[0..16]: reveals nothing of F elsewhere (a PRF output under a PRF). */
export function generationCheck(key: PuncturableKey): Uint8Array {
  const k = key.eval(CHECK_POINT);
  try {
    return hmacSha256(k, utf8Bytes("voxvault/generation-check/v1")).subarray(0, 16);
  } finally {
    wipe(k);
  }
}

function wrapAad(vaultId: string, g: number, point: number, aad: Uint8Array): Uint8Array {
  return encodeFields(["voxvault/root-wrap/v2", vaultId, String(g), String(point), aad]);
}

function distributionAad(vaultId: string, g: number, context: Uint8Array): Uint8Array {
  return encodeFields(["voxvault/root-generation/v2", vaultId, String(g), context]);
}

interface Generation {
  key: PuncturableKey;
  createdAt: string;
}

interface State {
  host: { id: string; pair: HostKeyPair; pending: HostKeyPair[] };
  applied: LogPosition;
  generations: Map<number, Generation>;
  legacy: LegacyVersionRecord[] | undefined;
}

function wipeState(s: State | undefined): void {
  if (!s) return;
  wipe(s.host.pair.privateKey);
  for (const p of s.host.pending) wipe(p.privateKey);
  for (const g of s.generations.values()) g.key.wipe();
  s.generations.clear();
}

export class FileKeyProvider implements RootKeyProvider {
  #kind: "local" | "passphrase" | "quorum";
  readonly location: string;
  readonly #file: string;
  readonly #vaultId: string;
  #state: State | undefined;
  /** For sealed files: the key and what it came from (the salt is per passphrase). */
  #seal: Seal | undefined;
  #closed = false;
  readonly distribution: GenerationDistribution;
  readonly sealing: RootSealing;

  private constructor(file: string, vaultId: string, kind: "local" | "passphrase" | "quorum") {
    this.#file = file;
    this.#vaultId = vaultId;
    this.#kind = kind;
    this.location = file;
    this.distribution = {
      hostPublicKey: () => Promise.resolve(this.#live().host.pair.publicKey.slice()),
      rotateHostKey: () => this.#rotateHostKey(),
      settleHostKey: (listed) => this.#settleHostKey(listed),
      seal: (g, recipient, context) => this.#sealGeneration(g, recipient, context),
      accept: (g, sealed, context, seq, check) => this.#acceptGeneration(g, sealed, context, seq, check),
    };
    this.sealing = {
      describe: () => {
        this.#live();
        const q = this.quorum;
        return { kind: this.#kind, ...(q ? { quorum: describeQuorum(q) } : {}) };
      },
      reshare: async (threshold, officers) => (await this.reshare(threshold, officers)).shares,
    };
  }

  /** Creates a key file with a fresh host key. Refuses to overwrite an existing file. */
  static async create(options: CreateOptions): Promise<FileKeyProvider> {
    if (options.quorum && options.passphrase !== undefined)
      throw new VaultError("USAGE", "a key file is sealed by a passphrase or by a quorum, not both");
    const kind = options.quorum ? "quorum" : options.passphrase === undefined ? "local" : "passphrase";
    const p = new FileKeyProvider(options.file, options.vaultId, kind);
    if (options.quorum)
      p.#seal = { kind: "quorum", key: options.quorum.sealKey.slice(), quorum: options.quorum.quorum };
    if (options.passphrase !== undefined) {
      if (options.passphrase.length < MIN_PASSPHRASE_LENGTH) {
        throw new VaultError(
          "INSECURE_CONFIG",
          `the passphrase must be at least ${MIN_PASSPHRASE_LENGTH} characters`,
        );
      }
      const kdf: ScryptParams = options.replacing?.kdf ?? {
        name: "scrypt",
        logN: options.scryptLogN ?? DEFAULT_LOG_N,
        r: 8,
        p: 1,
        salt: toBase64(randomBytes(16)),
      };
      p.#seal = { kind: "passphrase", key: await scrypt(options.passphrase, kdf), kdf };
    }
    const now = new Date().toISOString();
    p.#state = {
      host: { id: newId("hst"), pair: generateHostKey(), pending: [] },
      applied: { log: "", seq: 0 },
      generations: new Map(
        options.generations.map((g) => [g, { key: PuncturableKey.generate(), createdAt: now }]),
      ),
      legacy: options.legacy ? [...options.legacy] : undefined,
    };
    await p.#persist(options.replacing === undefined);
    return p;
  }

  static async open(options: FileProviderOptions): Promise<FileKeyProvider> {
    const content = await readKeyFile(options.file);
    if (content.vaultId !== options.vaultId) {
      throw new VaultError("ROOT_KEY_MISMATCH", `root key file ${options.file} belongs to another vault`);
    }
    if (content.format !== KEY_FILE_FORMAT) {
      throw new VaultError("ROOT_KEY_INVALID", `root key file ${options.file} has format ${content.format}`);
    }
    const p = new FileKeyProvider(options.file, options.vaultId, content.kind);
    if (content.kind === "passphrase") {
      if (options.passphrase === undefined) {
        throw new VaultError("ROOT_KEY_MISSING", "this vault's root key is sealed: a passphrase is required");
      }
      p.#seal = { kind: "passphrase", key: await scrypt(options.passphrase, content.kdf), kdf: content.kdf };
    } else if (options.passphrase !== undefined) {
      throw new VaultError(
        "CONFIG_INVALID",
        "a passphrase was given but the root key file is not sealed by one",
      );
    }
    if (content.kind === "quorum") {
      if (!options.shares?.length) {
        throw new VaultError(
          "VAULT_SEALED",
          `this vault's root key is sealed by a quorum: ${content.quorum.threshold} of its ${content.quorum.officers.length} officers' unseal shares are required`,
        );
      }
      const key = combineShares(content.quorum, options.vaultId, options.shares);
      p.#seal = { kind: "quorum", key, quorum: content.quorum };
    } else if (options.shares?.length) {
      throw new VaultError(
        "CONFIG_INVALID",
        "unseal shares were given but the root key file is not sealed by a quorum",
      );
    }
    p.#load(content);
    return p;
  }

  /** The scrypt-derived key of a passphrase, for the legacy reader (same KDF, same file). */
  static deriveSealKey(passphrase: string, kdf: ScryptParams): Promise<Uint8Array> {
    return scrypt(passphrase, kdf);
  }

  get kind(): "local" | "passphrase" | "quorum" {
    return this.#kind;
  }

  /** The quorum sealing the key file, if one does (public: names, threshold, share set). */
  get quorum(): Quorum | undefined {
    return this.#seal?.kind === "quorum" ? this.#seal.quorum : undefined;
  }

  /**
   * Seals the key file under a new quorum (from any kind: plain, passphrase or an older quorum)
   * and returns each officer's new share. The replaced file is overwritten, so the shares of the
   * previous set, or the passphrase, open nothing written from now on; no data is re-encrypted.
   */
  async reshare(threshold: number, officers: readonly string[]): Promise<Omit<NewQuorum, "sealKey">> {
    this.#live();
    const { sealKey, ...made } = newQuorum(this.#vaultId, threshold, officers);
    const before = this.#seal;
    const kindBefore = this.#kind;
    this.#seal = { kind: "quorum", key: sealKey, quorum: made.quorum };
    this.#kind = "quorum";
    try {
      await this.#persist(false);
    } catch (e) {
      wipe(this.#seal.key);
      this.#seal = before;
      this.#kind = kindBefore;
      throw e;
    }
    if (before) wipe(before.key);
    return made;
  }

  get hostId(): string {
    return this.#live().host.id;
  }

  /** Root key versions of a format-1 vault still being upgraded (src/vault/key-upgrade.ts). */
  get legacyVersions(): readonly LegacyVersionRecord[] | undefined {
    return this.#live().legacy;
  }

  #live(): State {
    if (this.#closed || !this.#state) throw new VaultError("VAULT_CLOSED", "key provider closed");
    return this.#state;
  }

  #load(file: KeyFile): void {
    let content: KeyFileContent;
    if (file.kind === "local") {
      if (this.#seal)
        throw new VaultError(
          "ROOT_KEY_INVALID",
          "the key file was unsealed by another process; reopen the vault",
        );
      content = file.content;
    } else {
      const seal = this.#seal;
      let key: Uint8Array;
      let aad: Uint8Array;
      if (file.kind === "passphrase") {
        if (seal?.kind !== "passphrase" || file.kdf.salt !== seal.kdf.salt) {
          throw new VaultError(
            "ROOT_KEY_INVALID",
            "the key file was re-sealed under another passphrase; reopen the vault",
          );
        }
        key = seal.key;
        aad = sealAad(file);
      } else {
        if (seal?.kind !== "quorum" || file.quorum.epoch !== seal.quorum.epoch) {
          throw new VaultError(
            "ROOT_KEY_INVALID",
            "the key file was re-sealed under another quorum's shares; unseal the vault again with them",
          );
        }
        key = seal.key;
        aad = quorumAad(file);
      }
      let plain: Uint8Array;
      try {
        plain = unwrapKey(key, fromBase64(file.sealed), aad);
      } catch {
        throw new VaultError(
          "ROOT_KEY_INVALID",
          file.kind === "passphrase"
            ? "wrong passphrase, or the sealed key file was altered"
            : "the quorum-sealed key file was altered",
        );
      }
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder().decode(plain));
      } catch {
        json = undefined;
      } finally {
        wipe(plain);
      }
      const parsed = ContentSchema.safeParse(json);
      if (!parsed.success) throw new VaultError("ROOT_KEY_INVALID", "sealed key file content is malformed");
      content = parsed.data;
    }
    const pair = {
      publicKey: fromBase64(content.host.publicKey),
      privateKey: fromBase64(content.host.privateKey),
    };
    checkHostKey(pair);
    const pending = (content.host.pending ?? []).map((p) => {
      const kp = { publicKey: fromBase64(p.publicKey), privateKey: fromBase64(p.privateKey) };
      checkHostKey(kp);
      return kp;
    });
    const generations = new Map<number, Generation>();
    for (const g of content.generations) {
      if (generations.has(g.generation))
        throw new VaultError("ROOT_KEY_INVALID", "duplicate root generation");
      generations.set(g.generation, { key: PuncturableKey.parse(fromBase64(g.key)), createdAt: g.createdAt });
    }
    wipeState(this.#state);
    this.#state = {
      host: { id: content.host.id, pair, pending },
      applied: content.applied,
      generations,
      legacy: content.legacy,
    };
  }

  async #reload(): Promise<void> {
    const file = await readKeyFile(this.#file);
    if (file.format !== KEY_FILE_FORMAT || file.vaultId !== this.#vaultId) {
      throw new VaultError("ROOT_KEY_INVALID", `root key file ${this.#file} was replaced`);
    }
    const hostBefore = this.#state?.host.id;
    this.#load(file);
    if (hostBefore !== undefined && hostBefore !== this.#state!.host.id) {
      throw new VaultError("ROOT_KEY_MISMATCH", `root key file ${this.#file} now belongs to another host`);
    }
  }

  async #persist(create: boolean): Promise<void> {
    const s = this.#live();
    const content: KeyFileContent = {
      host: {
        id: s.host.id,
        publicKey: toBase64(s.host.pair.publicKey),
        privateKey: toBase64(s.host.pair.privateKey),
        ...(s.host.pending.length
          ? {
              pending: s.host.pending.map((p) => ({
                publicKey: toBase64(p.publicKey),
                privateKey: toBase64(p.privateKey),
              })),
            }
          : {}),
      },
      applied: s.applied,
      generations: [...s.generations.entries()]
        .sort(([a], [b]) => a - b)
        .map(([generation, g]) => ({ generation, createdAt: g.createdAt, key: toBase64(g.key.serialize()) })),
      ...(s.legacy ? { legacy: s.legacy } : {}),
    };
    let file: KeyFile;
    const seal = this.#seal;
    if (seal?.kind === "passphrase") {
      const head = { format: KEY_FILE_FORMAT, vaultId: this.#vaultId, kdf: seal.kdf } as const;
      const plain = utf8Bytes(JSON.stringify(content));
      const sealed = wrapKey(seal.key, plain, sealAad(head));
      wipe(plain);
      file = { ...head, kind: "passphrase", sealed: toBase64(sealed) };
    } else if (seal?.kind === "quorum") {
      const head = { format: KEY_FILE_FORMAT, vaultId: this.#vaultId, quorum: seal.quorum } as const;
      const plain = utf8Bytes(JSON.stringify(content));
      const sealed = wrapKey(seal.key, plain, quorumAad(head));
      wipe(plain);
      file = { ...head, kind: "quorum", sealed: toBase64(sealed) };
    } else {
      file = { format: KEY_FILE_FORMAT, vaultId: this.#vaultId, kind: "local", content };
    }
    await writeKeyFile(this.#file, file, { create });
  }

  async refresh(): Promise<void> {
    this.#live();
    await this.#reload();
  }

  generations(): Promise<readonly number[]> {
    return Promise.resolve([...this.#live().generations.keys()].sort((a, b) => a - b));
  }

  applied(): Promise<LogPosition> {
    return Promise.resolve({ ...this.#live().applied });
  }

  async createGeneration(g: number): Promise<void> {
    if (!Number.isSafeInteger(g) || g <= 0) throw new VaultError("INVALID_ARGUMENT", "bad root generation");
    await this.#reload();
    const s = this.#live();
    if (s.generations.has(g)) throw new VaultError("INTERNAL", `root generation ${g} already exists`);
    s.generations.set(g, { key: PuncturableKey.generate(), createdAt: new Date().toISOString() });
    await this.#persist(false);
  }

  async destroyGeneration(g: number): Promise<void> {
    await this.#reload();
    const s = this.#live();
    const gen = s.generations.get(g);
    if (!gen) return;
    s.generations.delete(g);
    await this.#persist(false);
    gen.key.wipe();
  }

  async puncture(points: readonly number[], through: LogPosition): Promise<void> {
    await this.#reload();
    const s = this.#live();
    for (const gen of s.generations.values()) for (const x of points) gen.key.puncture(x);
    // a later position (with its chain) replaces ours; another log's position replaces it outright
    if (s.applied.log !== through.log || through.seq >= s.applied.seq) s.applied = { ...through };
    await this.#persist(false);
  }

  async isPunctured(g: number, point: number): Promise<boolean> {
    return (await this.#generation(g)).key.isPunctured(point);
  }

  async checkValue(g: number): Promise<Uint8Array> {
    return generationCheck((await this.#generation(g)).key);
  }

  async puncturedPoints(g: number, limit: number): Promise<number[]> {
    return (await this.#generation(g)).key.gaps(limit);
  }

  /** Finishes a format-1 upgrade: the old root key versions leave the file. */
  async dropLegacy(): Promise<void> {
    await this.#reload();
    const s = this.#live();
    if (!s.legacy) return;
    for (const r of s.legacy) r.key = "";
    s.legacy = undefined;
    await this.#persist(false);
  }

  async #generation(g: number): Promise<Generation> {
    let gen = this.#live().generations.get(g);
    if (!gen) {
      await this.#reload();
      gen = this.#live().generations.get(g);
    }
    if (!gen) {
      throw new VaultError("KEY_UNAVAILABLE", `root generation ${g} is not in ${this.location} (destroyed?)`);
    }
    return gen;
  }

  async #pointKey(g: number, point: number): Promise<Uint8Array> {
    const gen = await this.#generation(g);
    if (gen.key.isPunctured(point)) {
      // another process may have learnt of the puncture first; either way it stays unavailable
      throw new VaultError("KEY_UNAVAILABLE", `root point ${point} of generation ${g} was destroyed`);
    }
    return gen.key.eval(point);
  }

  async wrap(g: number, point: number, secret: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const k = await this.#pointKey(g, point);
    try {
      return wrapKey(k, secret, wrapAad(this.#vaultId, g, point, aad));
    } finally {
      wipe(k);
    }
  }

  async unwrap(g: number, point: number, wrapped: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const k = await this.#pointKey(g, point);
    try {
      return unwrapKey(k, wrapped, wrapAad(this.#vaultId, g, point, aad));
    } finally {
      wipe(k);
    }
  }

  async #rotateHostKey(): Promise<Uint8Array> {
    await this.#reload();
    const pub = rotateHostKeys(this.#live().host);
    await this.#persist(false);
    return pub;
  }

  async #settleHostKey(listed: Uint8Array): Promise<void> {
    await this.#reload();
    const s = this.#live();
    if (settleHostKeys(s.host, listed, s.host.id, this.location)) await this.#persist(false);
  }

  async #sealGeneration(g: number, recipient: Uint8Array, context: Uint8Array): Promise<Uint8Array> {
    const gen = await this.#generation(g);
    const state = gen.key.serialize();
    try {
      return sealToHost(recipient, state, distributionAad(this.#vaultId, g, context));
    } finally {
      wipe(state);
    }
  }

  async #acceptGeneration(
    g: number,
    sealed: Uint8Array,
    context: Uint8Array,
    through: LogPosition,
    expectedCheck?: Uint8Array,
  ): Promise<void> {
    await this.#reload();
    const s = this.#live();
    const plain = openWithHostKeys(s.host, sealed, distributionAad(this.#vaultId, g, context));
    let key: PuncturableKey;
    try {
      key = PuncturableKey.parse(plain);
    } finally {
      wipe(plain);
    }
    if (expectedCheck && !Buffer.from(generationCheck(key)).equals(Buffer.from(expectedCheck))) {
      key.wipe();
      throw new VaultError(
        "ROOT_KEY_MISMATCH",
        `the generation ${g} sealed to this host is not the vault's generation ${g}`,
      );
    }
    const had = s.generations.get(g);
    if (had) {
      if (Buffer.from(generationCheck(had.key)).equals(Buffer.from(generationCheck(key)))) {
        key.wipe();
        return;
      }
      had.key.wipe(); // a stale generation with the same number: the vault's one replaces it
    }
    s.generations.set(g, { key, createdAt: new Date().toISOString() });
    // the sealed state reflects punctures through `through`: later ones must be applied to it too
    if (s.applied.log !== through.log || through.seq < s.applied.seq) s.applied = { ...through };
    await this.#persist(false);
  }

  close(): Promise<void> {
    wipeState(this.#state);
    this.#state = undefined;
    if (this.#seal) wipe(this.#seal.key);
    this.#closed = true;
    return Promise.resolve();
  }
}
