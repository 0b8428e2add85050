import { VaultError } from "../../errors.js";
import type { AudioInfo, DecodeLimits, PlanarChunk } from "./types.js";

export interface GuardOptions {
  /** Called once the stream has ended, with the number of frames it held (may throw). */
  readonly onEnd?: (frames: number) => void;
}

/**
 * Enforces the duration limits on a planar stream:
 * - TOO_LONG as soon as the counted duration passes maxDurationSec;
 * - TOO_SHORT if the stream ends before minDurationSec; to make that check happen before the
 *   consumer sees anything, the first minDurationSec of audio is held back (bounded: at most
 *   minDurationSec x maxSampleRate x maxChannels samples) and released once it is reached;
 * - CORRUPT_AUDIO for chunks whose shape contradicts the header.
 */
export async function* guardDuration(
  chunks: AsyncIterable<PlanarChunk>,
  info: AudioInfo,
  limits: DecodeLimits,
  opts: GuardOptions = {},
): AsyncGenerator<PlanarChunk, void, undefined> {
  const maxFrames = Math.floor(limits.maxDurationSec * info.sampleRate);
  const minFrames = Math.ceil(limits.minDurationSec * info.sampleRate);
  let frames = 0;
  let held: PlanarChunk[] | null = [];
  for await (const c of chunks) {
    const n = c[0]?.length ?? 0;
    if (c.length !== info.channels || c.some((ch) => ch.length !== n)) {
      throw new VaultError("CORRUPT_AUDIO", "decoded channel layout changed mid-stream");
    }
    if (n === 0) continue;
    frames += n;
    if (frames > maxFrames) {
      throw new VaultError("TOO_LONG", "audio exceeds the duration limit", {
        details: { maxSec: limits.maxDurationSec },
      });
    }
    if (held) {
      held.push(c);
      if (frames < minFrames) continue;
      const release = held;
      held = null;
      yield* release;
    } else {
      yield c;
    }
  }
  opts.onEnd?.(frames);
  if (frames < minFrames || frames === 0) {
    throw new VaultError("TOO_SHORT", "audio is shorter than the minimum duration", {
      details: { minSec: limits.minDurationSec },
    });
  }
  if (held) yield* held;
}
