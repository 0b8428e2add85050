/**
 * The state of a server on a quorum-sealed vault (docs/operations.md §Quorum unseal): sealed
 * until the shares of a quorum of officers arrive, then open; sealed again at once on request or
 * on an alert. While sealed nothing is open: no vault, no key, no database handle.
 *
 * Shares are checked one by one as they arrive (against the commitments in the key file's
 * public header, re-read at each submission so that a reshare done meanwhile counts), kept in
 * memory only, and wiped once used, refused, or older than `pendingTtlMs` since the first one.
 * Refusals cannot be logged while sealed (the log's keys are under the root): they are counted
 * and the count goes into the `vault.unsealed` event.
 */
import { wipe } from "../crypto/bytes.js";
import { VaultError } from "../errors.js";
import { readKeyFile } from "../keys/key-file.js";
import { checkShare, parseShare, type ParsedShare, type Quorum } from "../keys/quorum.js";
import type { Vault } from "../platform/vault.js";

export interface UnsealGateOptions {
  readonly keyFile: string;
  readonly vaultId: string;
  /** Opens the vault with a quorum of shares (the composition root's openVault). */
  readonly open: (shares: readonly ParsedShare[]) => Promise<Vault>;
  /**
   * Called by `activate()` once the vault is open and its unseal recorded: start serving it.
   * The sealed server calls `activate()` after answering the submission that completed the
   * quorum, so that its own answer is not cut off by the switch.
   */
  readonly onUnsealed: (vault: Vault) => Promise<void>;
  /** Called after the vault was closed by a seal: serve the sealed routes again. */
  readonly onSealed: () => Promise<void>;
  /** Submitted shares are wiped this long after the first one unless a quorum completes. */
  readonly pendingTtlMs?: number | undefined;
  readonly now?: (() => number) | undefined;
}

export interface SealStatus {
  readonly sealed: boolean;
  readonly threshold: number;
  /** Officers whose valid share is waiting (a count: names are not shown to anonymous callers). */
  readonly submitted: number;
}

const DEFAULT_PENDING_TTL_MS = 10 * 60_000;

export class UnsealGate {
  readonly #o: UnsealGateOptions;
  #vault: Vault | undefined;
  /** Whether onUnsealed ran for #vault (the full API is being served). */
  #active = false;
  #pending = new Map<string, ParsedShare>();
  #firstAt = 0;
  #refused = 0;
  #sealedSince: Date;
  /** One change at a time: submissions and seals are serialised. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: UnsealGateOptions) {
    this.#o = options;
    this.#sealedSince = new Date(this.#now());
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  get vault(): Vault | undefined {
    return this.#vault;
  }

  async #quorum(): Promise<Quorum> {
    const file = await readKeyFile(this.#o.keyFile);
    if (file.vaultId !== this.#o.vaultId)
      throw new VaultError("ROOT_KEY_MISMATCH", `root key file ${this.#o.keyFile} belongs to another vault`);
    if (file.format !== "voxvault-root-key/2" || file.kind !== "quorum")
      throw new VaultError("CONFIG_INVALID", "this host's root key file is not sealed by a quorum");
    return file.quorum;
  }

  #dropPending(): void {
    for (const s of this.#pending.values()) wipe(s.y);
    this.#pending.clear();
    this.#firstAt = 0;
  }

  #expire(): void {
    const ttl = this.#o.pendingTtlMs ?? DEFAULT_PENDING_TTL_MS;
    if (this.#pending.size > 0 && this.#now() - this.#firstAt > ttl) this.#dropPending();
  }

  async status(): Promise<SealStatus> {
    if (this.#vault) {
      const q = this.#vault.sealing.describe().quorum;
      return { sealed: false, threshold: q?.threshold ?? 0, submitted: 0 };
    }
    this.#expire();
    const q = await this.#quorum();
    return { sealed: true, threshold: q.threshold, submitted: this.#pending.size };
  }

  /**
   * Takes one officer's share. UNSEAL_SHARE_INVALID for a share that is not a current one;
   * once a quorum is in, opens the vault (the returned status says sealed: false).
   */
  submit(text: string): Promise<SealStatus> {
    return this.#serial(async () => {
      if (this.#vault) return this.status();
      this.#expire();
      const quorum = await this.#quorum();
      let share: ParsedShare;
      try {
        share = parseShare(text);
        checkShare(quorum, this.#o.vaultId, share);
      } catch (e) {
        this.#refused++;
        throw e;
      }
      // A share of an older set waiting here is dropped: only the current set counts.
      for (const [name, s] of this.#pending)
        if (s.epoch !== quorum.epoch) {
          wipe(s.y);
          this.#pending.delete(name);
        }
      const before = this.#pending.get(share.officer);
      if (before) wipe(before.y);
      if (this.#pending.size === 0) this.#firstAt = this.#now();
      this.#pending.set(share.officer, share);
      if (this.#pending.size < quorum.threshold)
        return { sealed: true, threshold: quorum.threshold, submitted: this.#pending.size };
      const shares = [...this.#pending.values()];
      let vault: Vault;
      try {
        vault = await this.#o.open(shares);
      } finally {
        this.#dropPending();
      }
      try {
        await vault.sealing.recordUnsealed({
          officers: shares.map((s) => s.officer),
          refusedShares: this.#refused,
          sealedSince: this.#sealedSince,
        });
      } catch (e) {
        await vault.close().catch(() => undefined);
        throw e;
      }
      this.#vault = vault;
      this.#active = false;
      this.#refused = 0;
      return { sealed: false, threshold: quorum.threshold, submitted: 0 };
    });
  }

  /**
   * Starts serving the opened vault (once; later calls do nothing). If that fails, the vault is
   * closed again and the gate is sealed: the error is returned for the caller to report.
   */
  activate(): Promise<unknown> {
    return this.#serial(async () => {
      const vault = this.#vault;
      if (!vault || this.#active) return undefined;
      try {
        await this.#o.onUnsealed(vault);
        this.#active = true;
        return undefined;
      } catch (e) {
        this.#vault = undefined;
        this.#sealedSince = new Date(this.#now());
        await vault.close().catch(() => undefined);
        await this.#o.onSealed().catch(() => undefined);
        return e;
      }
    });
  }

  /**
   * Seals at once: the event is recorded while the log is still open, then the vault is closed
   * and its keys wiped. If the event cannot be written (database away), the server seals all
   * the same: failing closed matters more than the record, which `onError` reports.
   */
  seal(reason: "operator" | "alert", alert?: string, onError?: (e: unknown) => void): Promise<void> {
    return this.#serial(async () => {
      const vault = this.#vault;
      if (!vault) return;
      try {
        await vault.sealing.recordSealed(reason, alert);
      } catch (e) {
        onError?.(e);
      }
      const wasActive = this.#active;
      this.#vault = undefined;
      this.#active = false;
      this.#sealedSince = new Date(this.#now());
      try {
        if (wasActive) await this.#o.onSealed();
      } finally {
        await vault.close();
      }
    });
  }
}
