import { downmix, resampleStream, type ResamplerOptions } from "../pcm/resample.js";
import type { AudioInfo, PlanarChunk } from "../pcm/types.js";
import { decodeAudio, type DecodeOptions } from "./decode.js";

export const TARGET_SAMPLE_RATE = 16_000;

export interface Mono16kOptions extends DecodeOptions {
  /** Resampler design overrides (defaults: passband 0.9, stopband 1.0, 100 dB Kaiser). */
  readonly resampler?: ResamplerOptions;
}

export interface Mono16kAudio {
  /** Facts about the source, as its header declared them. */
  readonly info: AudioInfo;
  /** Always 16000. */
  readonly sampleRate: number;
  /** Mono float PCM at 16 kHz, streamed; never written anywhere. */
  readonly pcm: AsyncIterable<Float32Array>;
}

async function* mono(chunks: AsyncIterable<PlanarChunk>): AsyncGenerator<Float32Array, void, undefined> {
  for await (const c of chunks) yield downmix(c);
}

/**
 * The ingest front end: detect → decode (time-bounded) → downmix (channel mean) → resample to
 * 16 kHz, all streaming with bounded memory. Errors surface from `decodeToMono16k` itself
 * (header problems) or while iterating `pcm` (damage, limits, timeouts); either refuses the input.
 */
export async function decodeToMono16k(
  bytes: AsyncIterable<Uint8Array>,
  opts: Mono16kOptions = {},
): Promise<Mono16kAudio> {
  const d = await decodeAudio(bytes, opts);
  return {
    info: d.info,
    sampleRate: TARGET_SAMPLE_RATE,
    pcm: resampleStream(mono(d.chunks), d.info.sampleRate, TARGET_SAMPLE_RATE, opts.resampler),
  };
}
