/**
 * Read events (`access.granted`): one per principal, action and resource per window (60 s by
 * default): a dashboard polling a record is one access a minute in the log, not hundreds, which
 * keeps the log readable and the per-read cost off the hot path. Within the window the later
 * reads are covered by the first one's event; after it, the next read records again.
 *
 * Group commit: a read that needs an event waits until it is committed before it is answered, as
 * with any other event, but reads that arrive together share one write transaction (one fsync,
 * one log append) instead of queueing one each behind the database's single writer.
 * The window is kept per process (like the rate limits).
 */
import type { Actor } from "../audit/events.js";
import type { EntryPointEvent, Vault } from "../platform/vault.js";

interface Pending {
  readonly actor: Actor;
  readonly event: EntryPointEvent;
  readonly key: string;
  readonly done: (error?: unknown) => void;
}

export interface ReadEventOptions {
  /** How long one event covers repeated reads of the same resource by the same principal. */
  readonly windowMs?: number;
  readonly now?: () => number;
  /** Most principal/resource pairs remembered (least recently recorded forgotten first). */
  readonly maxKeys?: number;
}

/** Largest number of events in one transaction (bounds the transaction's size and time). */
const MAX_BATCH = 256;

export type ReadEventRecorder = (vault: Vault, event: EntryPointEvent) => Promise<void>;

export function createReadEventRecorder(options: ReadEventOptions = {}): ReadEventRecorder {
  const windowMs = options.windowMs ?? 60_000;
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 100_000;
  /** key → time its event was committed (insertion order = recording order). */
  const recent = new Map<string, number>();
  let queue: Pending[] = [];
  let running = false;

  const remember = (key: string): void => {
    recent.delete(key);
    recent.set(key, now());
    if (recent.size > maxKeys) {
      for (const k of recent.keys()) {
        recent.delete(k);
        if (recent.size <= maxKeys) break;
      }
    }
  };

  async function drain(vault: Vault): Promise<void> {
    running = true;
    try {
      while (queue.length > 0) {
        const batch = queue.slice(0, MAX_BATCH);
        queue = queue.slice(batch.length);
        try {
          await vault.audit.recordAccess(batch);
          for (const p of batch) {
            remember(p.key);
            p.done();
          }
        } catch (e) {
          // The whole batch rolled back: every read in it fails, none is answered unrecorded.
          for (const p of batch) p.done(e);
        }
      }
    } finally {
      running = false;
    }
  }

  return (vault, event) => {
    const key = `${JSON.stringify(vault.actor)}\n${JSON.stringify(event)}`;
    const at = recent.get(key);
    if (at !== undefined && now() - at < windowMs) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = (error?: unknown): void => {
        if (error === undefined) resolve();
        else reject(error instanceof Error ? error : new Error("recording a read event failed"));
      };
      queue.push({ actor: vault.actor, event, key, done });
      if (!running) void drain(vault);
    });
  };
}
