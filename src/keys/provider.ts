/**
 * Root-key providers: the vault's erasable root of trust (docs/architecture.md §Keys).
 *
 * A provider holds root *generations*. Each generation is a puncturable PRF over 32-bit points
 * (src/keys/pprf.ts): every subject slot, every retention epoch and the vault secrets have a
 * point, and what the metadata store keeps for them is wrapped under that point's key. Erasure
 * punctures the point in every generation, so every copy of the metadata — backups included —
 * loses exactly what was erased and nothing else. A new generation (root rotation) is fresh
 * randomness: nothing held before it opens anything wrapped under it.
 *
 * The provider never hands out root material: it wraps and unwraps. Several hosts of one vault
 * each hold a provider; punctures are deterministic, so each host applies the puncture log of
 * the metadata store itself, and new generations reach other hosts sealed to their host keys
 * (`distribution`). An HSM or KMS provider (docs/architecture.md §Other providers) implements
 * the same calls with the generation's state sealed under a token key.
 */
export interface RootKeyProvider {
  readonly kind: string;
  /** Where the key lives, for messages; never contains key material. */
  readonly location: string;
  /** This host's id in the vault's host list. */
  readonly hostId: string;
  /** Re-reads durable state written by other processes of this host. */
  refresh(): Promise<void>;
  /** Generations present, ascending. */
  generations(): Promise<readonly number[]>;
  /** How far the vault's puncture log was applied to every generation held. */
  applied(): Promise<LogPosition>;
  /** Creates generation `g` from fresh randomness; durable when the promise resolves. */
  createGeneration(g: number): Promise<void>;
  /** Destroys a generation beyond recovery by this provider; durable when the promise resolves. */
  destroyGeneration(g: number): Promise<void>;
  /** Punctures every generation held at each point and records `through`; durable on return. */
  puncture(points: readonly number[], through: LogPosition): Promise<void>;
  isPunctured(g: number, point: number): Promise<boolean>;
  /**
   * A public fingerprint of generation g (16 bytes), so that two generations with the same number
   * (after a restore, or a crash) are never mistaken for each other.
   */
  checkValue(g: number): Promise<Uint8Array>;
  /** Every point punctured in generation g (the gaps of its domain), ascending; at most `limit`. */
  puncturedPoints(g: number, limit: number): Promise<number[]>;
  wrap(g: number, point: number, secret: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  /** KEY_UNAVAILABLE when the generation is missing or the point punctured. */
  unwrap(g: number, point: number, wrapped: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  /** Present where generations can move between hosts (key files); absent for a shared HSM. */
  readonly distribution?: GenerationDistribution | undefined;
  /** Present where the root can be sealed by a quorum of officers (key files). */
  readonly sealing?: RootSealing | undefined;
  close(): Promise<void>;
}

export interface GenerationDistribution {
  hostPublicKey(): Promise<Uint8Array>;
  /**
   * A new host key pair; returns its public key. The previous pair is kept until
   * `settleHostKey` learns which one the vault lists (the rotation's transaction may not commit).
   */
  rotateHostKey(): Promise<Uint8Array>;
  /** Keeps only the pair whose public key the vault lists, wiping the others (forward secrecy). */
  settleHostKey(listed: Uint8Array): Promise<void>;
  /** The generation's current (punctured) state, sealed to another host's public key. */
  seal(g: number, recipient: Uint8Array, context: Uint8Array): Promise<Uint8Array>;
  /** Adds a generation sealed to this host (to any pair it holds); `through` is the log position it reflects. */
  accept(
    g: number,
    sealed: Uint8Array,
    context: Uint8Array,
    through: LogPosition,
    expectedCheck?: Uint8Array,
  ): Promise<void>;
}

export interface RootSealing {
  /** How this host's root is sealed now, and by which quorum (public parts only). */
  describe(): SealDescription;
  /**
   * Seals the root under a new M-of-N quorum (src/keys/quorum.ts) and returns each officer's new
   * share, by name; shares of the previous set (or the passphrase) open nothing written after.
   */
  reshare(threshold: number, officers: readonly string[]): Promise<ReadonlyMap<string, string>>;
}

export interface SealDescription {
  readonly kind: "local" | "passphrase" | "quorum";
  readonly quorum?:
    | {
        readonly threshold: number;
        readonly officers: readonly string[];
        readonly epoch: string;
        readonly createdAt: string;
      }
    | undefined;
}

/** A position in the vault's puncture log: the log's id (new after a restore) and a sequence number. */
export interface LogPosition {
  readonly log: string;
  readonly seq: number;
  /** The log's hash chain at `seq` (hex); absent at the start of a log. */
  readonly chain?: string | undefined;
}
