/** Builds WAV files in memory for parser tests (well-formed and deliberately broken). */

export interface WavSpec {
  readonly channels?: number;
  readonly rate?: number;
  readonly bits?: number;
  /** 1 PCM, 3 float, 6 A-law, 7 µ-law, 0x11 IMA ADPCM, ... */
  readonly tag?: number;
  readonly extensible?: boolean;
  readonly frames?: number;
  readonly sample?: (frame: number, channel: number) => number;
  /** Raw data bytes instead of generated samples. */
  readonly data?: Uint8Array;
  /** Declared data size (default: actual). */
  readonly dataSize?: number;
  readonly riffSize?: number;
  /** Chunks placed between fmt and data. */
  readonly extra?: readonly Uint8Array[];
  readonly rf64?: boolean;
  readonly omitFmt?: boolean;
  readonly dataBeforeFmt?: boolean;
}

/** ASCII bytes of a FourCC. */
export function fourcc(s: string): number[] {
  return Array.from({ length: s.length }, (_, i) => s.charCodeAt(i));
}

export function riffChunk(id: string, body: Uint8Array, declared = body.length): Uint8Array {
  const out = new Uint8Array(8 + body.length + (body.length & 1));
  out.set(fourcc(id));
  new DataView(out.buffer).setUint32(4, declared, true);
  out.set(body, 8);
  return out;
}

function cat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function encodeSamples(spec: WavSpec): Uint8Array {
  const ch = spec.channels ?? 1;
  const bits = spec.bits ?? 16;
  const tag = spec.tag ?? 1;
  const frames = spec.frames ?? 0;
  const width = bits / 8;
  const out = new Uint8Array(frames * ch * width);
  const dv = new DataView(out.buffer);
  const f = spec.sample ?? (() => 0);
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < ch; c++) {
      const v = f(i, c);
      const o = (i * ch + c) * width;
      if (tag === 3) {
        if (bits === 32) dv.setFloat32(o, v, true);
        else dv.setFloat64(o, v, true);
      } else if (bits === 8) {
        out[o] = Math.max(0, Math.min(255, Math.round(v * 128 + 128)));
      } else if (bits === 16) {
        dv.setInt16(o, Math.max(-32768, Math.min(32767, Math.round(v * 32768))), true);
      } else if (bits === 24) {
        const s = Math.max(-8388608, Math.min(8388607, Math.round(v * 8388608)));
        out[o] = s & 0xff;
        out[o + 1] = (s >> 8) & 0xff;
        out[o + 2] = (s >> 16) & 0xff;
      } else {
        dv.setInt32(o, Math.max(-2147483648, Math.min(2147483647, Math.round(v * 2147483648))), true);
      }
    }
  }
  return out;
}

export function buildWav(spec: WavSpec): Uint8Array {
  const ch = spec.channels ?? 1;
  const rate = spec.rate ?? 16000;
  const bits = spec.bits ?? 16;
  const tag = spec.tag ?? 1;
  const fmt = new Uint8Array(spec.extensible ? 40 : 16);
  const dv = new DataView(fmt.buffer);
  dv.setUint16(0, spec.extensible ? 0xfffe : tag, true);
  dv.setUint16(2, ch, true);
  dv.setUint32(4, rate, true);
  dv.setUint32(8, (rate * ch * bits) / 8, true);
  dv.setUint16(12, (ch * bits) / 8, true);
  dv.setUint16(14, bits, true);
  if (spec.extensible) {
    dv.setUint16(16, 22, true);
    dv.setUint16(18, bits, true);
    dv.setUint32(20, 0, true);
    dv.setUint16(24, tag, true);
    fmt.set([0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71], 26);
  }
  const data = spec.data ?? encodeSamples(spec);
  const parts: Uint8Array[] = [];
  let dataDeclared = spec.dataSize ?? data.length;
  if (spec.rf64) {
    const ds64 = new Uint8Array(28);
    const d = new DataView(ds64.buffer);
    d.setUint32(8, dataDeclared % 2 ** 32, true);
    d.setUint32(12, Math.floor(dataDeclared / 2 ** 32), true);
    parts.push(riffChunk("ds64", ds64));
    dataDeclared = 0xffffffff;
  }
  const fmtChunk = riffChunk("fmt ", fmt);
  const dataChunk = riffChunk("data", data, dataDeclared);
  if (spec.dataBeforeFmt) parts.push(dataChunk, fmtChunk);
  else {
    if (!spec.omitFmt) parts.push(fmtChunk);
    parts.push(...(spec.extra ?? []), dataChunk);
  }
  const body = cat(parts);
  const head = new Uint8Array(12);
  head.set(fourcc(spec.rf64 ? "RF64" : "RIFF"));
  new DataView(head.buffer).setUint32(4, spec.rf64 ? 0xffffffff : (spec.riffSize ?? 4 + body.length), true);
  head.set(fourcc("WAVE"), 8);
  return cat([head, body]);
}

export const tone =
  (freq: number, rate: number, amp = 0.5) =>
  (i: number): number =>
    amp * Math.sin((2 * Math.PI * freq * i) / rate);
