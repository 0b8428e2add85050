import { ByteReader } from "./byte-reader.js";
import { guardDuration } from "./guard.js";
import { checkInfo, resolveLimits } from "./limits.js";
import type { DecodeLimits, DecodedAudio } from "./types.js";
import { readWavHeader, wavChunks } from "./wav.js";

/** Browser-side WAV decode with the same limits and errors as the Node entry's WAV path. */
export async function decodeWav(
  source: AsyncIterable<Uint8Array>,
  limits?: Partial<DecodeLimits>,
): Promise<DecodedAudio> {
  const l = resolveLimits(limits);
  const r = new ByteReader(source, l.maxInputBytes);
  try {
    const h = await readWavHeader(r);
    checkInfo(h.info, l);
    const chunks = guardDuration(wavChunks(r, h), h.info, l);
    return { info: h.info, chunks };
  } catch (e) {
    await r.close();
    throw e;
  }
}
