/**
 * Blob stores hold ciphertext only, under random object names. The interface is small and
 * streaming so that an S3 implementation fits the same shape (multipart put, ranged get).
 */
import type { RandomAccessSource } from "../../format/index.js";

export interface ObjectInfo {
  readonly name: string;
  readonly size: number;
  readonly modifiedAt: Date;
}

export interface OpenedObject extends RandomAccessSource {
  close(): Promise<void>;
}

export interface BlobStore {
  readonly kind: string;
  /**
   * Stores an object atomically: it becomes visible only once complete and durable. Refuses to
   * overwrite an existing name (STORE_IO). On failure nothing remains visible.
   */
  put(name: string, data: AsyncIterable<Uint8Array>): Promise<{ size: number }>;
  /** Streams the whole object; BLOB_NOT_FOUND if absent. */
  get(name: string): AsyncIterable<Uint8Array>;
  /** Opens the object for ranged reads; BLOB_NOT_FOUND if absent. */
  open(name: string): Promise<OpenedObject>;
  stat(name: string): Promise<ObjectInfo | undefined>;
  /** Removes an object; true if it existed. */
  delete(name: string): Promise<boolean>;
  list(): AsyncIterable<ObjectInfo>;
  /** Removes abandoned partial writes older than the given age; returns how many. */
  sweepIncomplete(olderThanMs: number): Promise<number>;
  /**
   * For stores that others could share (a bucket): marks the store as this vault's at init
   * ("create": refused if another vault's mark is there) and checks the mark at every open.
   * A store inside the vault's own data directory needs none.
   */
  bind?(vaultId: string, mode: "create" | "open"): Promise<void>;
  /** For stores others can reach (a bucket): how it looks from outside (`voxvault doctor`). */
  posture?(): Promise<PostureProblem[]>;
  /**
   * For stores others can write (a bucket): the first 16 bytes of up to `limit` objects of the
   * whole bucket, whatever their key (`voxvault doctor` looks for plaintext audio by magic number).
   */
  heads?(limit: number): AsyncIterable<{ readonly key: string; readonly head: Uint8Array }>;
}

/** A weakness of a store's surroundings, as `voxvault doctor` reports it. */
export interface PostureProblem {
  readonly rule: string;
  readonly severity: "critical" | "high" | "medium" | "low";
  /** The Prowler check it corresponds to. */
  readonly prowler?: string | undefined;
  readonly what: string;
  readonly why: string;
  readonly fix: string;
}

/** Object names are blob ids: lowercase, no separators, so they can never address a path. */
export const OBJECT_NAME_RE = /^[a-z]{3}_[0-9a-z]{26}$/;
