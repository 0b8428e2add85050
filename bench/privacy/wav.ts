/** Minimal RIFF/WAVE reader (PCM 8/16/24/32-bit int, 32-bit float) and 16-bit PCM writer. */

import { readFileSync, writeFileSync } from "node:fs";

export interface Audio {
  readonly sampleRate: number;
  /** Mono samples in [-1, 1] (channels averaged). */
  readonly samples: Float32Array;
}

export function parseWav(buf: Uint8Array): Audio {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const tag = (o: number): string => String.fromCharCode(buf[o]!, buf[o + 1]!, buf[o + 2]!, buf[o + 3]!);
  if (buf.length < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") throw new Error("not a RIFF/WAVE file");
  let pos = 12;
  let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
  while (pos + 8 <= buf.length) {
    const id = tag(pos);
    let size = view.getUint32(pos + 4, true);
    const body = pos + 8;
    // Streamed writers (sox to a pipe, lame) may leave 0 or 0xFFFFFFFF as the data size.
    if (id === "data" && (size === 0 || body + size > buf.length)) size = buf.length - body;
    if (id === "fmt ") {
      let format = view.getUint16(body, true);
      if (format === 0xfffe && size >= 40) format = view.getUint16(body + 24, true); // WAVE_FORMAT_EXTENSIBLE
      fmt = {
        format,
        channels: view.getUint16(body + 2, true),
        rate: view.getUint32(body + 4, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === "data") {
      if (!fmt) throw new Error("data chunk before fmt chunk");
      const { format, channels, rate, bits } = fmt;
      const bytes = bits / 8;
      const frames = Math.floor(size / (bytes * channels));
      const out = new Float32Array(frames);
      for (let f = 0; f < frames; f++) {
        let acc = 0;
        for (let c = 0; c < channels; c++) {
          const o = body + (f * channels + c) * bytes;
          let v: number;
          if (format === 3 && bits === 32) v = view.getFloat32(o, true);
          else if (format !== 1) throw new Error(`unsupported WAVE format ${format}`);
          else if (bits === 16) v = view.getInt16(o, true) / 32768;
          else if (bits === 8) v = (buf[o]! - 128) / 128;
          else if (bits === 24) v = ((buf[o]! | (buf[o + 1]! << 8) | (buf[o + 2]! << 16)) << 8) / 2147483648;
          else if (bits === 32) v = view.getInt32(o, true) / 2147483648;
          else throw new Error(`unsupported bit depth ${bits}`);
          acc += v;
        }
        out[f] = acc / channels;
      }
      return { sampleRate: rate, samples: out };
    }
    pos = body + size + (size & 1);
  }
  throw new Error("no data chunk");
}

export function readWav(path: string): Audio {
  return parseWav(readFileSync(path));
}

export function encodeWav16(samples: Float32Array, sampleRate: number): Uint8Array {
  const out = new Uint8Array(44 + samples.length * 2);
  const view = new DataView(out.buffer);
  const put = (o: number, s: string): void => {
    for (let i = 0; i < 4; i++) out[o + i] = s.charCodeAt(i);
  };
  put(0, "RIFF");
  view.setUint32(4, 36 + samples.length * 2, true);
  put(8, "WAVE");
  put(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  put(36, "data");
  view.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) {
    const v = Math.max(-1, Math.min(1, samples[i]!));
    view.setInt16(44 + 2 * i, Math.round(v * 32767), true);
  }
  return out;
}

export function writeWav16(path: string, samples: Float32Array, sampleRate: number): void {
  writeFileSync(path, encodeWav16(samples, sampleRate));
}
