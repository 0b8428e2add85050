/**
 * Root-key provider on a PKCS#11 token (an HSM; SoftHSM2 in tests).
 *
 * A root generation is two halves, and every point key needs both:
 *   - a GGM puncturable PRF F_g (src/keys/pprf.ts), which is what a shred punctures, and
 *   - K_g, a 32-byte HMAC key generated inside the token, sensitive and never extractable.
 *   pointKey(g, x) = HMAC-SHA256(F_g(x), "voxvault/hsm-point/v1" ‖ HMAC_{K_g}(vaultId ‖ g ‖ x))
 * The second HMAC runs in the token at every root unwrap, so a copy of everything outside the
 * token — the state file, the metadata, backups, even a memory image of the vault — opens
 * nothing once access to the token is gone. Destroying a generation destroys K_g in the token.
 *
 * The PRF state cannot live in the token (a token cannot puncture a GGM tree, and the state grows
 * with each shred). It is kept in a state file sealed with AES-256-GCM under a token key S that is
 * replaced at every change: the new state is sealed under a fresh S', written, and S destroyed.
 * A backup of an older state file is then ciphertext under a key that no longer exists, so a
 * puncture holds against backups of the state file as it does against backups of the metadata.
 *
 * Changes run inside the vault's write transaction (one writer across processes and hosts), and
 * each re-reads the file first, as the key-file provider does.
 *
 * Several hosts reaching one token (a network HSM) share the K_g; each keeps its own state file,
 * sealed under its own S (label `<keyLabel>/state/<host id>`), and receives each new generation's
 * PRF state sealed to its X25519 host key (`distribution`, as key files do), so nothing is copied
 * between hosts and a host that loses access to the token opens nothing.
 */
import { randomBytes } from "node:crypto";
import { encodeFields, fromBase64, toBase64, utf8Bytes, wipe } from "../../crypto/bytes.js";
import { hmacSha256 } from "../../crypto/kdf.js";
import { unwrapKey, wrapKey } from "../../crypto/keywrap.js";
import { VaultError } from "../../errors.js";
import { newId } from "../../ids.js";
import { PuncturableKey } from "../pprf.js";
import { CHECK_POINT } from "../points.js";
import { checkHostKey, generateHostKey, sealToHost, type HostKeyPair } from "../../crypto/host-seal.js";
import type { GenerationDistribution, LogPosition, RootKeyProvider } from "../provider.js";
import { openWithHostKeys, rotateHostKeys, settleHostKeys, type HostKeys } from "../host-keys.js";
import { parseStateContent, readStateFile, writeStateFile, type StateContent } from "./state-file.js";
import { Token, type KeyHandle, type TokenSelector } from "./token.js";

export interface Pkcs11ProviderOptions {
  readonly vaultId: string;
  /** Path of the PKCS#11 module (e.g. /usr/lib/softhsm/libsofthsm2.so). */
  readonly module: string;
  readonly token: TokenSelector;
  /** Prefix of the labels of this vault's keys on the token. */
  readonly keyLabel: string;
  readonly pin: string;
  /** Where the sealed PRF state lives (this host). */
  readonly stateFile: string;
}

export interface Pkcs11CreateOptions extends Pkcs11ProviderOptions {
  /** Generations to create (a new vault: [1]). */
  readonly generations: readonly number[];
  /** A host moving its root here (`keys migrate --to hsm`) keeps its id and log position. */
  readonly hostId?: string | undefined;
  readonly applied?: LogPosition | undefined;
  /** A host joining a vault whose keys the token already holds (`host join`). */
  readonly joining?: boolean | undefined;
}

interface Generation {
  readonly prf: PuncturableKey;
  readonly keyId: Uint8Array;
  readonly handle: KeyHandle;
  readonly createdAt: string;
}

interface State {
  hostId: string;
  host: HostKeys;
  applied: LogPosition;
  generations: Map<number, Generation>;
  /** The token key the file on disk is sealed under. */
  sealKeyId: Uint8Array;
}

const POINT_LABEL = utf8Bytes("voxvault/hsm-point/v1");
const CHECK_LABEL = utf8Bytes("voxvault/generation-check/v1");

function wrapAad(vaultId: string, g: number, point: number, aad: Uint8Array): Uint8Array {
  return encodeFields(["voxvault/root-wrap/v2", vaultId, String(g), String(point), aad]);
}

function distributionAad(vaultId: string, g: number, context: Uint8Array): Uint8Array {
  return encodeFields(["voxvault/hsm-generation/v1", vaultId, String(g), context]);
}

function wipeState(s: State | undefined): void {
  if (!s) return;
  wipe(s.host.pair.privateKey);
  for (const p of s.host.pending) wipe(p.privateKey);
  for (const g of s.generations.values()) g.prf.wipe();
  s.generations.clear();
}

export class Pkcs11KeyProvider implements RootKeyProvider {
  readonly kind = "pkcs11";
  readonly location: string;
  /** New generations reach other hosts of the token sealed to their host keys (their K_g is shared). */
  readonly distribution: GenerationDistribution = {
    hostPublicKey: () => Promise.resolve(this.#live().host.pair.publicKey.slice()),
    rotateHostKey: () => this.#rotateHostKey(),
    settleHostKey: (listed) => this.#settleHostKey(listed),
    seal: (g, recipient, context) => this.#sealGeneration(g, recipient, context),
    accept: (g, sealed, context, through, check) =>
      this.#acceptGeneration(g, sealed, context, through, check),
  };
  readonly #o: Pkcs11ProviderOptions;
  readonly #token: Token;
  #state: State | undefined;

  private constructor(o: Pkcs11ProviderOptions, token: Token) {
    this.#o = o;
    this.#token = token;
    this.location = `PKCS#11 ${token.description} (keys "${o.keyLabel}/…"), state ${o.stateFile}`;
  }

  static async create(o: Pkcs11CreateOptions): Promise<Pkcs11KeyProvider> {
    const p = new Pkcs11KeyProvider(o, await Token.open(o));
    try {
      if (
        !o.joining &&
        (p.#token.find(p.#legacySealLabel()).length > 0 || p.#token.find(p.#genLabel(1)).length > 0)
      )
        throw new VaultError("VAULT_EXISTS", `the token already holds keys labelled "${o.keyLabel}/…"`);
      const now = new Date().toISOString();
      const generations = new Map<number, Generation>();
      for (const g of o.generations) generations.set(g, p.#newGeneration(g, now));
      p.#state = {
        hostId: o.hostId ?? newId("hst"),
        host: { pair: generateHostKey(), pending: [] },
        applied: o.applied ? { ...o.applied } : { log: "", seq: 0 },
        generations,
        sealKeyId: new Uint8Array(),
      };
      await p.#persist(true);
      return p;
    } catch (e) {
      await p.close();
      throw e;
    }
  }

  static async open(o: Pkcs11ProviderOptions): Promise<Pkcs11KeyProvider> {
    const p = new Pkcs11KeyProvider(o, await Token.open(o));
    try {
      await p.#reload();
      return p;
    } catch (e) {
      await p.close();
      throw e;
    }
  }

  /** The sealing key's label before several hosts (one host, one label). */
  #legacySealLabel(): string {
    return `${this.#o.keyLabel}/state`;
  }

  #sealLabel(hostId: string): string {
    return `${this.#o.keyLabel}/state/${hostId}`;
  }

  #genLabel(g: number): string {
    return `${this.#o.keyLabel}/g${g}`;
  }

  #newGeneration(g: number, createdAt: string): Generation {
    const keyId = new Uint8Array(randomBytes(16));
    const handle = this.#token.generate("hmac", this.#genLabel(g), keyId);
    return { prf: PuncturableKey.generate(), keyId, handle, createdAt };
  }

  #live(): State {
    if (!this.#state) throw new VaultError("VAULT_CLOSED", "key provider closed");
    return this.#state;
  }

  #sealAad(sealKeyId: Uint8Array): Uint8Array {
    return encodeFields(["voxvault/hsm-state/v1", this.#o.vaultId, toBase64(sealKeyId)]);
  }

  /** The one token key with this label and id; HSM_KEY_MISSING if there is none. */
  #key(label: string, id: Uint8Array, what: string): KeyHandle {
    const [h] = this.#token.find(label, id);
    if (!h)
      throw new VaultError("HSM_KEY_MISSING", `${what} (${label}) is not on ${this.#token.description}`);
    return h;
  }

  /**
   * Re-reads the state file. Another process may replace the file and destroy the key it was
   * sealed under between our read and our decrypt: then the file we read is already stale, and
   * reading it again gets the new one.
   */
  async #reload(): Promise<void> {
    try {
      await this.#readState();
    } catch (e) {
      if (!(e instanceof VaultError && e.code === "HSM_KEY_MISSING")) throw e;
      await this.#readState();
    }
  }

  async #readState(): Promise<void> {
    const file = await readStateFile(this.#o.stateFile);
    if (file.vaultId !== this.#o.vaultId)
      throw new VaultError(
        "ROOT_KEY_MISMATCH",
        `HSM state file ${this.#o.stateFile} belongs to another vault`,
      );
    const sealKeyId = fromBase64(file.sealKey);
    const seal = this.#key(
      file.sealLabel ?? this.#legacySealLabel(),
      sealKeyId,
      "the key sealing the root state",
    );
    const plain = this.#token.decrypt(
      seal,
      fromBase64(file.iv),
      this.#sealAad(sealKeyId),
      fromBase64(file.sealed),
    );
    if (!plain)
      throw new VaultError(
        "ROOT_KEY_INVALID",
        `HSM state file ${this.#o.stateFile} does not open (altered?)`,
      );
    let content: StateContent;
    try {
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder().decode(plain));
      } catch {
        json = undefined;
      }
      content = parseStateContent(json, this.#o.stateFile);
    } finally {
      wipe(plain);
    }
    const generations = new Map<number, Generation>();
    try {
      for (const g of content.generations) {
        const keyId = fromBase64(g.keyId);
        const handle = this.#key(this.#genLabel(g.generation), keyId, `root generation ${g.generation}`);
        generations.set(g.generation, {
          prf: PuncturableKey.parse(fromBase64(g.prf)),
          keyId,
          handle,
          createdAt: g.createdAt,
        });
      }
    } catch (e) {
      for (const g of generations.values()) g.prf.wipe();
      throw e;
    }
    const pairOf = (p: { publicKey: string; privateKey: string }): HostKeyPair => {
      const pair = { publicKey: fromBase64(p.publicKey), privateKey: fromBase64(p.privateKey) };
      checkHostKey(pair);
      return pair;
    };
    // a state from before several hosts gets its host key now (persisted at the next change)
    const host = content.host
      ? { pair: pairOf(content.host.pair), pending: (content.host.pending ?? []).map(pairOf) }
      : { pair: this.#state?.host.pair ?? generateHostKey(), pending: [] };
    const before = this.#state?.hostId;
    if (this.#state && this.#state.host.pair !== host.pair) wipeState(this.#state);
    else if (this.#state) for (const g of this.#state.generations.values()) g.prf.wipe();
    this.#state = { hostId: content.hostId, host, applied: content.applied, generations, sealKeyId };
    if (before !== undefined && before !== content.hostId)
      throw new VaultError(
        "ROOT_KEY_MISMATCH",
        `HSM state file ${this.#o.stateFile} now belongs to another host`,
      );
  }

  /**
   * Seals the state under a fresh token key, writes it, then destroys every other sealing key of
   * this vault (the previous one, and any a crash left behind).
   */
  async #persist(create: boolean): Promise<void> {
    const s = this.#live();
    const pairJson = (p: HostKeyPair) => ({
      publicKey: toBase64(p.publicKey),
      privateKey: toBase64(p.privateKey),
    });
    const content: StateContent = {
      hostId: s.hostId,
      host: {
        pair: pairJson(s.host.pair),
        ...(s.host.pending.length ? { pending: s.host.pending.map(pairJson) } : {}),
      },
      applied: s.applied,
      generations: [...s.generations.entries()]
        .sort(([a], [b]) => a - b)
        .map(([generation, g]) => ({
          generation,
          createdAt: g.createdAt,
          keyId: toBase64(g.keyId),
          prf: toBase64(g.prf.serialize()),
        })),
    };
    const sealKeyId = new Uint8Array(randomBytes(16));
    const label = this.#sealLabel(s.hostId);
    const seal = this.#token.generate("aes", label, sealKeyId);
    const iv = new Uint8Array(randomBytes(12));
    const plain = utf8Bytes(JSON.stringify(content));
    let sealed: Uint8Array;
    try {
      sealed = this.#token.encrypt(seal, iv, this.#sealAad(sealKeyId), plain);
    } finally {
      wipe(plain);
    }
    await writeStateFile(
      this.#o.stateFile,
      {
        format: "voxvault-hsm-state/1",
        vaultId: this.#o.vaultId,
        sealKey: toBase64(sealKeyId),
        sealLabel: label,
        iv: toBase64(iv),
        sealed: toBase64(sealed),
      },
      { create },
    );
    s.sealKeyId = sealKeyId;
    // this host's other sealing keys, and the one-host label's (only ever this host's)
    for (const h of [...this.#token.find(label), ...this.#token.find(this.#legacySealLabel())]) {
      if (!Buffer.from(this.#token.idOf(h)).equals(Buffer.from(sealKeyId))) this.#token.destroy(h);
    }
  }

  get hostId(): string {
    return this.#live().hostId;
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
    // a key of this number left by a crashed attempt is not the vault's: it goes
    for (const h of this.#token.find(this.#genLabel(g))) this.#token.destroy(h);
    s.generations.set(g, this.#newGeneration(g, new Date().toISOString()));
    await this.#persist(false);
  }

  async destroyGeneration(g: number): Promise<void> {
    await this.#reload();
    const s = this.#live();
    const gen = s.generations.get(g);
    if (!gen) return;
    s.generations.delete(g);
    await this.#persist(false);
    gen.prf.wipe();
    // K_g goes from the token: nothing anywhere can compute this generation's point keys again
    for (const h of this.#token.find(this.#genLabel(g))) this.#token.destroy(h);
  }

  async puncture(points: readonly number[], through: LogPosition): Promise<void> {
    await this.#reload();
    const s = this.#live();
    for (const gen of s.generations.values()) for (const x of points) gen.prf.puncture(x);
    if (s.applied.log !== through.log || through.seq >= s.applied.seq) s.applied = { ...through };
    await this.#persist(false);
  }

  async isPunctured(g: number, point: number): Promise<boolean> {
    return (await this.#generation(g)).prf.isPunctured(point);
  }

  async checkValue(g: number): Promise<Uint8Array> {
    const k = await this.#pointKey(g, CHECK_POINT);
    try {
      return hmacSha256(k, CHECK_LABEL).subarray(0, 16);
    } finally {
      wipe(k);
    }
  }

  async puncturedPoints(g: number, limit: number): Promise<number[]> {
    return (await this.#generation(g)).prf.gaps(limit);
  }

  async #generation(g: number): Promise<Generation> {
    let gen = this.#live().generations.get(g);
    if (!gen) {
      await this.#reload();
      gen = this.#live().generations.get(g);
    }
    if (!gen)
      throw new VaultError("KEY_UNAVAILABLE", `root generation ${g} is not in ${this.location} (destroyed?)`);
    return gen;
  }

  async #pointKey(g: number, point: number): Promise<Uint8Array> {
    const gen = await this.#generation(g);
    if (gen.prf.isPunctured(point))
      throw new VaultError("KEY_UNAVAILABLE", `root point ${point} of generation ${g} was destroyed`);
    const tokenHalf = this.#token.hmac(gen.handle, encodeFields([this.#o.vaultId, String(g), String(point)]));
    const prfHalf = gen.prf.eval(point);
    try {
      const msg = new Uint8Array(POINT_LABEL.length + tokenHalf.length);
      msg.set(POINT_LABEL);
      msg.set(tokenHalf, POINT_LABEL.length);
      return hmacSha256(prfHalf, msg);
    } finally {
      wipe(prfHalf);
      wipe(tokenHalf);
    }
  }

  async wrap(g: number, point: number, secret: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const k = await this.#pointKey(g, point);
    try {
      return wrapKey(k, secret, wrapAad(this.#o.vaultId, g, point, aad));
    } finally {
      wipe(k);
    }
  }

  async unwrap(g: number, point: number, wrapped: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
    const k = await this.#pointKey(g, point);
    try {
      return unwrapKey(k, wrapped, wrapAad(this.#o.vaultId, g, point, aad));
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
    // a vault made before several hosts lists no key for its one HSM host: nothing to settle
    if (listed.length === 0) return;
    if (settleHostKeys(s.host, listed, s.hostId, this.location)) await this.#persist(false);
  }

  /** The PRF half and the token key's id; the token key itself stays where it is. */
  async #sealGeneration(g: number, recipient: Uint8Array, context: Uint8Array): Promise<Uint8Array> {
    const gen = await this.#generation(g);
    const prf = gen.prf.serialize();
    const payload = utf8Bytes(JSON.stringify({ keyId: toBase64(gen.keyId), prf: toBase64(prf) }));
    wipe(prf);
    try {
      return sealToHost(recipient, payload, distributionAad(this.#o.vaultId, g, context));
    } finally {
      wipe(payload);
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
    const plain = openWithHostKeys(s.host, sealed, distributionAad(this.#o.vaultId, g, context));
    let parsed: { keyId?: unknown; prf?: unknown };
    try {
      parsed = JSON.parse(new TextDecoder().decode(plain)) as { keyId?: unknown; prf?: unknown };
    } catch {
      parsed = {};
    } finally {
      wipe(plain);
    }
    if (typeof parsed.keyId !== "string" || typeof parsed.prf !== "string")
      throw new VaultError("ROOT_KEY_INVALID", `the generation ${g} sealed to this host is malformed`);
    const keyId = fromBase64(parsed.keyId);
    const handle = this.#key(this.#genLabel(g), keyId, `root generation ${g} (is this the vault's token?)`);
    const gen: Generation = {
      prf: PuncturableKey.parse(fromBase64(parsed.prf)),
      keyId,
      handle,
      createdAt: new Date().toISOString(),
    };
    const had = s.generations.get(g);
    s.generations.set(g, gen);
    const check = await this.checkValue(g);
    if (expectedCheck && !Buffer.from(check).equals(Buffer.from(expectedCheck))) {
      gen.prf.wipe();
      if (had) s.generations.set(g, had);
      else s.generations.delete(g);
      throw new VaultError(
        "ROOT_KEY_MISMATCH",
        `the generation ${g} sealed to this host is not the vault's generation ${g}`,
      );
    }
    had?.prf.wipe();
    // the sealed state reflects punctures through `through`: later ones must be applied to it too
    if (s.applied.log !== through.log || through.seq < s.applied.seq) s.applied = { ...through };
    await this.#persist(false);
  }

  close(): Promise<void> {
    wipeState(this.#state);
    this.#state = undefined;
    this.#token.close();
    return Promise.resolve();
  }
}
