import type { RandomAccessSource } from "../../src/format/index.js";

export const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"));

/** Yields copies of `data` in `size`-byte chunks, one per event-loop turn, like a socket would. */
export async function* chunked(data: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let o = 0; o < data.length; o += size) {
    await Promise.resolve();
    yield data.slice(o, Math.min(data.length, o + size));
  }
}

export function memorySource(data: Uint8Array): RandomAccessSource & { reads: number } {
  const src = {
    size: data.length,
    reads: 0,
    read(offset: number, length: number): Promise<Uint8Array> {
      src.reads++;
      return Promise.resolve(data.slice(offset, offset + length));
    },
  };
  return src;
}

export async function errorCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code ?? `non-vault error: ${String(e)}`;
  }
  return "no error";
}
