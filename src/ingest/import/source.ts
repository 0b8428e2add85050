/** Where an archive comes from: a local directory or an S3 bucket and prefix (sources/*.ts). */

export interface SourceObject {
  /** The object's key relative to the source (a POSIX path for a directory). */
  readonly key: string;
  readonly size: number;
}

export interface ImportSource {
  /** What to record about the source (never credentials). */
  readonly description: { readonly kind: "dir" | "s3"; readonly location: string };
  /** Every object under the source, in a stable order. */
  list(): AsyncIterable<SourceObject>;
  /** One object's size, or undefined when it does not exist (manifest entries). */
  stat(key: string): Promise<SourceObject | undefined>;
  read(key: string): AsyncIterable<Uint8Array>;
  /**
   * Deletes the object; on a versioned bucket every version and delete marker of the key.
   * Returns how many versions were removed; an object already gone is not an error (0).
   */
  delete(key: string): Promise<{ readonly versions: number; readonly versioned: boolean }>;
  close(): Promise<void>;
}
