/**
 * Derivation recipes (name + version + parameters, recorded with every result) and the payloads
 * of the non-reconstructable ones. Payloads are canonical JSON (RFC 8785) so equal results have
 * equal bytes. Nothing here keeps frame-level data except the `frames` derivation itself.
 */
import type { AudioInfo } from "../audio/decode/index.js";
import type { FeatureFrames, FeatureReport, LoudnessResult } from "../audio/features/index.js";
import { canonicalJson, type CanonicalValue } from "../crypto/jcs.js";
import type { DerivationName } from "./config.js";

export interface Recipe {
  readonly name: DerivationName;
  readonly version: number;
  readonly params: Readonly<Record<string, CanonicalValue>>;
}

/** Rounds for storage: metrics carry no meaning beyond these decimals, and JCS needs integers. */
function milli(x: number | null | undefined): number | null {
  return x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 1000);
}

export function qualityRecipe(): Recipe {
  return {
    name: "quality",
    version: 1,
    params: {
      loudness: "ITU-R BS.1770-4 integrated, EBU R128 gating",
      truePeak: "BS.1770-4 Annex 2, 4x oversampling",
      snr: "noise-floor estimate from VAD pauses",
      vad: "energy + spectral, hangover",
      units: "values are integers in thousandths (milli-units)",
    },
  };
}

export function qualityPayload(info: AudioInfo, report: FeatureReport, loudness: LoudnessResult): Uint8Array {
  const q = report.quality;
  const payload = {
    format: {
      container: info.container,
      codec: info.codec,
      sampleRate: info.sampleRate,
      channels: info.channels,
      bitsPerSample: info.bitsPerSample ?? null,
    },
    durationMilliSec: milli(report.durationSec),
    speechMilliSec: milli(report.vad.speechSec),
    speechRatioMilli: milli(report.vad.speechRatio),
    snrMilliDb: milli(q.snrDb),
    clippingRatioMilli: milli(q.clippingRatio),
    rmsMilliDbfs: milli(q.rmsDbfs),
    peakMilliDbfs: milli(q.peakDbfs),
    dcOffsetMilli: milli(q.dcOffset),
    integratedMilliLufs: milli(loudness.integratedLufs),
    loudnessRangeMilliLu: milli(loudness.loudnessRangeLu),
    truePeakMilliDbtp: milli(loudness.truePeakDbtp),
  };
  return new TextEncoder().encode(canonicalJson(payload));
}

export function voiceStatsRecipe(): Recipe {
  return {
    name: "voice-stats",
    version: 2,
    params: {
      f0: "YIN (de Cheveigne & Kawahara 2002) at 8 kHz, lag refined at 16 kHz; percentiles over voiced frames",
      rate: "syllable nuclei from intensity peaks (de Jong & Wempe 2009)",
      units: "values are integers in thousandths (milli-units)",
    },
  };
}

export function voiceStatsPayload(report: FeatureReport): Uint8Array {
  const v = report.voice;
  const f0 = v.f0Hz;
  const payload = {
    f0MilliHz: f0
      ? { p5: milli(f0.p5), p25: milli(f0.p25), p50: milli(f0.p50), p75: milli(f0.p75), p95: milli(f0.p95) }
      : null,
    voicedRatioMilli: milli(v.voicedRatio),
    speechRateMilliSps: milli(v.speechRateSps),
    articulationRateMilliSps: milli(v.articulationRateSps),
  };
  return new TextEncoder().encode(canonicalJson(payload));
}

export function framesRecipe(report: FeatureReport, fbank: Readonly<Record<string, CanonicalValue>>): Recipe {
  return {
    name: "frames",
    version: 1,
    params: {
      type: "kaldi-fbank",
      layout: "row-major float32 little-endian, frames x bins",
      numMelBins: report.frames.numMelBins,
      frames: report.frames.count,
      frameLengthMilliSec: Math.round(report.frames.frameLengthSec * 1000),
      frameShiftMilliSec: Math.round(report.frames.frameShiftSec * 1000),
      ...fbank,
    },
  };
}

export function rawRecipe(): Recipe {
  return {
    name: "raw",
    version: 1,
    params: {
      format: "wav",
      encoding: "pcm_s16le",
      sampleRate: 16000,
      channels: 1,
      normalisation: "downmix + resample",
    },
  };
}

export function templateRecipe(params: {
  embedderId: string;
  application: string;
  templateKeyVersion: number;
  scheme: string;
}): Recipe {
  return { name: "speaker-template", version: 1, params };
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

export function framesToBytes(f: FeatureFrames): Uint8Array {
  const out = new Uint8Array(f.numFrames * f.numMelBins * 4);
  const v = new DataView(out.buffer);
  for (let i = 0; i < f.numFrames * f.numMelBins; i++) v.setFloat32(i * 4, f.fbank[i]!, true);
  return out;
}
