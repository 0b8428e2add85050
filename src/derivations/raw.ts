/** `raw`: the normalised audio itself (16 kHz mono 16-bit WAV), kept only under a retention rule. */
import { defineKind, type Recipe } from "./types.js";

export const RAW_SAMPLE_RATE = 16000;

export function rawRecipe(): Recipe<"raw"> {
  return {
    name: "raw",
    version: 1,
    params: {
      format: "wav",
      encoding: "pcm_s16le",
      sampleRate: RAW_SAMPLE_RATE,
      channels: 1,
      normalisation: "downmix + resample",
    },
  };
}

/** A streaming WAV header for 16-bit mono PCM whose length is unknown (data size 0xFFFFFFFF). */
export function streamingWavHeader(sampleRate: number): Uint8Array {
  const b = new Uint8Array(44);
  const v = new DataView(b.buffer);
  const ascii = (o: number, s: string) => {
    for (let i = 0; i < s.length; i++) b[o + i] = s.charCodeAt(i);
  };
  ascii(0, "RIFF");
  v.setUint32(4, 0xffffffff, true);
  ascii(8, "WAVEfmt ");
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true);
  v.setUint16(22, 1, true);
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  ascii(36, "data");
  v.setUint32(40, 0xffffffff, true);
  return b;
}

export function floatToS16(chunk: Float32Array): Uint8Array {
  const out = new Uint8Array(chunk.length * 2);
  const v = new DataView(out.buffer);
  for (let i = 0; i < chunk.length; i++) {
    const x = Math.max(-1, Math.min(1, chunk[i]!));
    v.setInt16(i * 2, Math.round(x * 32767), true);
  }
  return out;
}

export const raw = defineKind({
  name: "raw",
  reconstructable: true,
  contentType: "audio/wav",
  description: "the recording, normalised to 16 kHz mono 16-bit WAV",
  production: { kind: "stream" },
});
