/**
 * Root-key providers. The root key wraps exactly one thing: the top node of the key tree
 * (docs/architecture.md §Keys). Its versions are the vault's erasable anchor: destroying a version
 * is what makes old copies of the metadata undecryptable after a shred.
 *
 * Implementations: local key file, passphrase-sealed key file. PKCS#11 and cloud KMS fit the same
 * shape (a version = a key object / KMS key version; destroy = C_DestroyObject / schedule deletion).
 */
export interface RootKeyProvider {
  readonly kind: string;
  /** Where the key lives, for messages; never contains key material. */
  readonly location: string;
  /** Versions present, ascending. */
  versions(): Promise<readonly number[]>;
  /** Creates a version greater than any existing; durable when the promise resolves. */
  createVersion(): Promise<number>;
  /** Destroys a version beyond recovery by this provider; durable when the promise resolves. */
  destroyVersion(version: number): Promise<void>;
  wrap(version: number, secret: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  unwrap(version: number, wrapped: Uint8Array, aad: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}
