import { BoxReader, child, childBoxes, type Box } from "./mp4-boxes.js";

/**
 * Gapless playback data of an MP4 audio track: where the presentation starts past the encoder's
 * priming and how long it runs before the padding, in seconds of media time. From the edit list
 * (ISO/IEC 14496-12 §8.6.6: one media edit's media_time and segment_duration) or, without one,
 * from iTunes' `iTunSMPB` tag (priming, padding and length in samples at the codec's core rate).
 *
 * Only encoder priming and padding are ever trimmed: a window that would cut more than
 * MAX_TRIM_SEC at either end (an edit list that cuts the content itself, or one that lies) is
 * ignored and the whole media decoded, so an edit list can never hide speech from the analysis.
 * Malformed gapless data is ignored the same way: it is presentation metadata, and decoding all
 * of the media loses nothing.
 */
export interface GaplessWindow {
  readonly startSec: number;
  /** Absent when only the start is known (a fragmented file, or no length given). */
  readonly durationSec?: number;
}

/** Encoder priming and padding stay far below this (AAC: 2,112 samples, 48 ms at 44.1 kHz). */
export const MAX_TRIM_SEC = 1;

export interface GaplessInputs {
  readonly trak: readonly Box[];
  /** The track's media timescale (mdhd) and the movie's (mvhd), ticks per second. */
  readonly mediaTimescale: number;
  readonly movieTimescale: number | undefined;
  /** The media's length from its sample table (stts), or undefined (fragmented). */
  readonly mediaSec: number | undefined;
  /** moov's children, for udta/meta/ilst. */
  readonly moov: readonly Box[];
  /** The codec's own rate (AAC: the AudioSpecificConfig's, before SBR). */
  readonly coreRate: number;
}

export function gaplessWindow(g: GaplessInputs): GaplessWindow | undefined {
  let w: GaplessWindow | undefined;
  try {
    w = fromEditList(g) ?? fromSmpb(g);
  } catch {
    return undefined;
  }
  if (!w || !(w.startSec >= 0 && w.startSec <= MAX_TRIM_SEC)) return undefined;
  if (w.durationSec === undefined) return w;
  const padding = g.mediaSec === undefined ? Infinity : g.mediaSec - w.startSec - w.durationSec;
  // the end is trimmed only where the media's own length shows that the cut is padding
  if (!(w.durationSec > 0 && padding >= -0.001 && padding <= MAX_TRIM_SEC)) return { startSec: w.startSec };
  return w;
}

function fromEditList(g: GaplessInputs): GaplessWindow | undefined {
  const edts = child(g.trak, "edts");
  const elst = edts && child(childBoxes(edts.body), "elst");
  if (!elst) return undefined;
  const r = new BoxReader(elst.body, "elst");
  const { version } = r.fullBox(1);
  const count = r.u32();
  r.entries(count, version === 1 ? 20 : 12);
  const media: { duration: number; time: number }[] = [];
  for (let i = 0; i < count && media.length < 2; i++) {
    const duration = version === 1 ? r.u64() : r.u32();
    const rawTime = version === 1 ? r.i64() : r.u32() | 0;
    r.skip(4); // media_rate_integer, media_rate_fraction
    if (rawTime === -1) continue; // an empty edit: a pause before the media, not a trim
    if (rawTime < 0) return undefined;
    media.push({ duration, time: rawTime });
  }
  // several media edits cut or repeat the media: that is editing, not gapless data
  if (media.length !== 1) return undefined;
  const e = media[0]!;
  const startSec = e.time / g.mediaTimescale;
  let durationSec = g.mediaSec === undefined ? undefined : g.mediaSec - startSec;
  if (e.duration > 0 && g.movieTimescale) {
    // ffmpeg writes the edit's duration in whole movie ticks, floored: allow one tick
    const edit = (e.duration + 1) / g.movieTimescale;
    durationSec = Math.min(durationSec ?? Infinity, edit);
    if (durationSec === Infinity) durationSec = undefined;
  }
  return durationSec === undefined ? { startSec } : { startSec, durationSec };
}

/** iTunSMPB: " 00000000 PPPPPPPP QQQQQQQQ LLLLLLLLLLLLLLLL ..." (hex: priming, padding, length). */
function fromSmpb(g: GaplessInputs): GaplessWindow | undefined {
  const udta = child(g.moov, "udta");
  const meta = udta && child(childBoxes(udta.body), "meta");
  if (!meta || meta.body.length < 4) return undefined;
  const ilst = child(childBoxes(meta.body.subarray(4)), "ilst"); // meta is a full box
  if (!ilst) return undefined;
  for (const item of childBoxes(ilst.body)) {
    if (item.type !== "----") continue;
    const parts = childBoxes(item.body);
    const name = child(parts, "name");
    const data = child(parts, "data");
    if (!name || !data || name.body.length < 4 || data.body.length < 8) continue;
    if (new TextDecoder().decode(name.body.subarray(4)) !== "iTunSMPB") continue;
    const text = new TextDecoder().decode(data.body.subarray(8)).trim();
    const f = text.split(/\s+/);
    if (f.length < 4 || !f.slice(0, 4).every((x) => /^[0-9A-Fa-f]{1,16}$/.test(x))) return undefined;
    const priming = parseInt(f[1]!, 16);
    const total = parseInt(f[3]!, 16);
    const startSec = priming / g.coreRate;
    return total > 0 ? { startSec, durationSec: total / g.coreRate } : { startSec };
  }
  return undefined;
}
