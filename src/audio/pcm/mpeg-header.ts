/** MPEG-1/2/2.5 audio frame headers (layers I-III) and the Xing/Info/VBRI frame-count tags. */

export interface MpegHeader {
  readonly version: 1 | 2 | 25;
  readonly layer: 1 | 2 | 3;
  readonly sampleRate: number;
  readonly channels: 1 | 2;
  readonly frameBytes: number;
  readonly samplesPerFrame: number;
}

// prettier-ignore
const BITRATES: Record<string, readonly number[]> = {
  "1-1": [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  "1-2": [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  "1-3": [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  "2-1": [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  "2-2": [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  "2-3": [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const RATES = { 1: [44100, 48000, 32000], 2: [22050, 24000, 16000], 25: [11025, 12000, 8000] } as const;

/** Parses a frame header at b[off..off+4); null if it is not a valid (non free-format) header. */
export function parseMpegHeader(b: Uint8Array, off = 0): MpegHeader | null {
  if (off + 4 > b.length) return null;
  const b1 = b[off + 1]!;
  const b2 = b[off + 2]!;
  if (b[off] !== 0xff || (b1 & 0xe0) !== 0xe0) return null;
  const v = (b1 >> 3) & 3;
  const l = (b1 >> 1) & 3;
  const bri = b2 >> 4;
  const sri = (b2 >> 2) & 3;
  if (v === 1 || l === 0 || bri === 0 || bri === 15 || sri === 3) return null;
  const version = v === 3 ? 1 : v === 2 ? 2 : 25;
  const layer = (4 - l) as 1 | 2 | 3;
  const kbps = BITRATES[`${version === 1 ? 1 : 2}-${layer}`]![bri]!;
  const sampleRate = RATES[version][sri]!;
  const pad = (b2 >> 1) & 1;
  const channels = b[off + 3]! >> 6 === 3 ? 1 : 2;
  let frameBytes: number;
  let samplesPerFrame: number;
  if (layer === 1) {
    frameBytes = (Math.floor((12 * kbps * 1000) / sampleRate) + pad) * 4;
    samplesPerFrame = 384;
  } else if (layer === 2 || version === 1) {
    frameBytes = Math.floor((144 * kbps * 1000) / sampleRate) + pad;
    samplesPerFrame = 1152;
  } else {
    frameBytes = Math.floor((72 * kbps * 1000) / sampleRate) + pad;
    samplesPerFrame = 576;
  }
  return { version, layer, sampleRate, channels, frameBytes, samplesPerFrame };
}

/** True if a header at off is followed by a consistent header (or by the end of b). */
export function isMpegSync(b: Uint8Array, off = 0, atEnd = false): boolean {
  const h = parseMpegHeader(b, off);
  if (!h) return false;
  const next = off + h.frameBytes;
  if (next + 4 > b.length) return atEnd && next <= b.length;
  const h2 = parseMpegHeader(b, next);
  return h2 !== null && h2.version === h.version && h2.layer === h.layer && h2.sampleRate === h.sampleRate;
}

/** Audio frame count from a Xing/Info or VBRI tag in the first frame, if any. */
export function mpegTagFrames(b: Uint8Array, off: number, h: MpegHeader): number | undefined {
  if (h.layer !== 3) return undefined;
  const side = h.version === 1 ? (h.channels === 1 ? 17 : 32) : h.channels === 1 ? 9 : 17;
  const x = off + 4 + side;
  const tag = ascii(b, x, 4);
  if ((tag === "Xing" || tag === "Info") && x + 12 <= b.length) {
    const flags = u32be(b, x + 4);
    return flags & 1 ? u32be(b, x + 8) : undefined;
  }
  const vb = off + 36;
  if (ascii(b, vb, 4) === "VBRI" && vb + 18 <= b.length) return u32be(b, vb + 14);
  return undefined;
}

function u32be(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

export function ascii(b: Uint8Array, o: number, n: number): string {
  if (o + n > b.length) return "";
  return String.fromCharCode(...b.subarray(o, o + n));
}
