/**
 * Test-only WAV reader/writer (PCM 16/24/32-bit and IEEE float 32). Not the production parser.
 */
import { readFileSync, writeFileSync } from "node:fs";

export interface Wav {
  readonly sampleRate: number;
  /** Planar channels in [-1, 1]. */
  readonly channels: Float32Array[];
}

export function readWav(path: string): Wav {
  const b = readFileSync(path);
  if (b.toString("ascii", 0, 4) !== "RIFF" || b.toString("ascii", 8, 12) !== "WAVE") {
    throw new Error(`${path}: not RIFF/WAVE`);
  }
  let off = 12;
  let format = 0;
  let numCh = 0;
  let rate = 0;
  let bits = 0;
  let data: Buffer | null = null;
  while (off + 8 <= b.length) {
    const id = b.toString("ascii", off, off + 4);
    let size = b.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === "data" && (size === 0xffffffff || body + size > b.length)) size = b.length - body;
    if (id === "fmt ") {
      format = b.readUInt16LE(body);
      numCh = b.readUInt16LE(body + 2);
      rate = b.readUInt32LE(body + 4);
      bits = b.readUInt16LE(body + 14);
      if (format === 0xfffe) format = b.readUInt16LE(body + 24);
    } else if (id === "data") {
      data = b.subarray(body, body + size);
    }
    off = body + size + (size & 1);
  }
  if (data === null || numCh === 0) throw new Error(`${path}: no fmt/data`);
  const bytes = bits / 8;
  const frames = Math.floor(data.length / (bytes * numCh));
  const channels = Array.from({ length: numCh }, () => new Float32Array(frames));
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < numCh; c++) {
      const p = (i * numCh + c) * bytes;
      let v: number;
      if (format === 3 && bits === 32) v = data.readFloatLE(p);
      else if (format === 1 && bits === 16) v = data.readInt16LE(p) / 32768;
      else if (format === 1 && bits === 24) v = data.readIntLE(p, 3) / 8388608;
      else if (format === 1 && bits === 32) v = data.readInt32LE(p) / 2147483648;
      else throw new Error(`${path}: unsupported format ${format}/${bits}`);
      channels[c]![i] = v;
    }
  }
  return { sampleRate: rate, channels };
}

/** Writes IEEE float 32 (default) or 16-bit PCM. */
export function writeWav(path: string, wav: Wav, bits: 16 | 32 = 32): void {
  const numCh = wav.channels.length;
  const frames = wav.channels[0]?.length ?? 0;
  const bytes = bits / 8;
  const dataLen = frames * numCh * bytes;
  const b = Buffer.alloc(44 + dataLen);
  b.write("RIFF", 0, "ascii");
  b.writeUInt32LE(36 + dataLen, 4);
  b.write("WAVE", 8, "ascii");
  b.write("fmt ", 12, "ascii");
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(bits === 32 ? 3 : 1, 20);
  b.writeUInt16LE(numCh, 22);
  b.writeUInt32LE(wav.sampleRate, 24);
  b.writeUInt32LE(wav.sampleRate * numCh * bytes, 28);
  b.writeUInt16LE(numCh * bytes, 32);
  b.writeUInt16LE(bits, 34);
  b.write("data", 36, "ascii");
  b.writeUInt32LE(dataLen, 40);
  let p = 44;
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < numCh; c++) {
      const v = wav.channels[c]![i]!;
      if (bits === 32) b.writeFloatLE(v, p);
      else b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v * 32768))), p);
      p += bytes;
    }
  }
  writeFileSync(path, b);
}
