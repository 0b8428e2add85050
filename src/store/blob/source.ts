/**
 * Errors of a put's data source (a client that hung up, a failing encoder) are not the store's:
 * stores pass them through as they are and never report them as STORE_IO. This wraps a source so
 * a store can tell the two apart after the fact.
 */
export function watchSource(data: AsyncIterable<Uint8Array>): {
  readonly source: AsyncGenerator<Uint8Array, void, undefined>;
  failed(): boolean;
} {
  let failed = false;
  async function* source(): AsyncGenerator<Uint8Array, void, undefined> {
    try {
      yield* data;
    } catch (e) {
      failed = true;
      throw e;
    }
  }
  return { source: source(), failed: () => failed };
}
