import { concatBytes } from "../crypto/bytes.js";

export async function* toAsync<T>(src: AsyncIterable<T> | Iterable<T>): AsyncGenerator<T, void, undefined> {
  yield* src;
}

export async function collect(src: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of src) parts.push(p);
  return concatBytes(...parts);
}
