/**
 * The built-in embedder's model file (models/voxvault-dsp-v2.json): a JSON document whose arrays
 * are base64 little-endian float32. Its SHA-256 goes into the embedder id, so templates made with
 * one model version are refused by another (the id is bound into every template's profile).
 *
 * The calibration (default threshold) lives in a separate file that names the model id it was
 * measured for: the threshold is measured on templates whose projections depend on the id, so it
 * cannot be part of the hashed bytes.
 */

import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { VaultError } from "../../errors.js";
import type { TemplateCalibration } from "../types.js";
import { statsDim } from "./stats.js";

export const DSP_MODEL_FORMAT = "voxvault-dsp-embedder/1";
export const DSP_CALIBRATION_FORMAT = "voxvault-embedder-calibration/1";

/** A base64 float32 array with its shape. */
export interface EncodedArray {
  readonly shape: readonly number[];
  readonly f32: string;
}

export interface DspModelFile {
  readonly format: typeof DSP_MODEL_FORMAT;
  /** Model name and version, e.g. "voxvault-dsp-v2". */
  readonly name: string;
  readonly features: {
    readonly numMelBins: number;
    readonly windowType: "hamming";
    readonly sampleScale: number;
    readonly numCeps: number;
    readonly cepstralLifter: number;
    readonly keepFraction: number;
    readonly minFrames: number;
  };
  /** x = (stats − inputMean) / inputScale; z = ‖L x‖; y = ‖W z‖; e = ‖y − outputMean‖. */
  readonly projection: {
    readonly inputMean: EncodedArray;
    readonly inputScale: EncodedArray;
    readonly lda: EncodedArray;
    readonly wccn: EncodedArray;
    readonly outputMean: EncodedArray;
  };
  /** Free-form provenance (corpus, speakers, seeds, hyper-parameters); not interpreted. */
  readonly training: Readonly<Record<string, unknown>>;
}

export interface DspModel {
  readonly id: string;
  readonly file: DspModelFile;
  readonly statsDim: number;
  readonly dim: number;
  readonly inputMean: Float64Array;
  readonly inputScale: Float64Array;
  /** dim × statsDim */
  readonly lda: Float64Array;
  /** dim × dim */
  readonly wccn: Float64Array;
  readonly outputMean: Float64Array;
}

export interface CalibrationFile extends TemplateCalibration {
  readonly format: typeof DSP_CALIBRATION_FORMAT;
  readonly modelId: string;
}

const invalid = (why: string): VaultError => new VaultError("MODEL_INVALID", `dsp embedder model: ${why}`);

function base64ToBytes(s: string): Uint8Array {
  let bin: string;
  try {
    bin = atob(s);
  } catch {
    throw invalid("bad base64");
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function bytesToBase64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** Encodes a float array as base64 little-endian float32 (for the training script). */
export function encodeArray(data: ArrayLike<number>, shape: readonly number[]): EncodedArray {
  const bytes = new Uint8Array(data.length * 4);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i]!, true);
  return { shape: [...shape], f32: bytesToBase64(bytes) };
}

function decodeArray(name: string, a: unknown, shape: readonly number[]): Float64Array {
  if (typeof a !== "object" || a === null) throw invalid(`${name} missing`);
  const { shape: s, f32 } = a as { shape?: unknown; f32?: unknown };
  if (!Array.isArray(s) || s.length !== shape.length || s.some((v, i) => v !== shape[i])) {
    throw invalid(`${name} has shape ${JSON.stringify(s)}, expected ${JSON.stringify(shape)}`);
  }
  if (typeof f32 !== "string") throw invalid(`${name} has no data`);
  const bytes = base64ToBytes(f32);
  const n = shape.reduce((p, v) => p * v, 1);
  if (bytes.length !== 4 * n) throw invalid(`${name} has ${bytes.length} bytes, expected ${4 * n}`);
  const view = new DataView(bytes.buffer);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = view.getFloat32(4 * i, true);
    if (!Number.isFinite(v)) throw invalid(`${name} contains a non-finite value`);
    out[i] = v;
  }
  return out;
}

const int = (v: unknown, lo: number, hi: number): v is number =>
  typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi;

/** The embedder id of a model: its name plus the first 16 hex digits of SHA-256(file bytes). */
export function dspModelId(name: string, bytes: Uint8Array): string {
  return `${name}+sha256:${bytesToHex(sha256(bytes)).slice(0, 16)}`;
}

/** Every field present-or-not and of unknown type: what JSON.parse really returns. */
type Loose<T> = { readonly [K in keyof T]?: unknown };

function parseJson(bytes: Uint8Array, what: string): Readonly<Record<string, unknown>> {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new VaultError("MODEL_INVALID", `${what}: not UTF-8 JSON`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new VaultError("MODEL_INVALID", `${what}: not a JSON object`);
  }
  return v as Readonly<Record<string, unknown>>;
}

const num = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** Parses and validates a model file (MODEL_INVALID on any defect). */
export function parseDspModel(bytes: Uint8Array): DspModel {
  const file = parseJson(bytes, "dsp embedder model") as Loose<DspModelFile>;
  if (file.format !== DSP_MODEL_FORMAT) throw invalid(`format is not ${DSP_MODEL_FORMAT}`);
  const name = file.name;
  if (typeof name !== "string" || !/^[a-z0-9][a-z0-9._-]{0,63}$/.test(name)) throw invalid("bad name");
  if (typeof file.features !== "object" || file.features === null) throw invalid("no features");
  const f = file.features as Loose<DspModelFile["features"]>;
  const { numMelBins, numCeps, sampleScale, cepstralLifter, keepFraction, minFrames } = f;
  if (
    !int(numMelBins, 23, 128) ||
    f.windowType !== "hamming" ||
    !(num(sampleScale) && sampleScale > 0) ||
    !int(numCeps, 3, numMelBins) ||
    !(num(cepstralLifter) && cepstralLifter >= 0) ||
    !(num(keepFraction) && keepFraction > 0 && keepFraction <= 1) ||
    !int(minFrames, 1, 100000)
  ) {
    throw invalid("bad feature settings");
  }
  if (typeof file.projection !== "object" || file.projection === null) throw invalid("no projection");
  const p = file.projection as Loose<DspModelFile["projection"]>;
  const sd = statsDim(numCeps);
  const ldaShape: unknown =
    typeof p.lda === "object" && p.lda !== null ? (p.lda as Loose<EncodedArray>).shape : undefined;
  const dim: unknown = Array.isArray(ldaShape) ? (ldaShape as unknown[])[0] : undefined;
  if (!int(dim, 2, sd)) throw invalid("bad projection size");
  const model: DspModel = {
    id: dspModelId(name, bytes),
    file: file as DspModelFile,
    statsDim: sd,
    dim,
    inputMean: decodeArray("inputMean", p.inputMean, [sd]),
    inputScale: decodeArray("inputScale", p.inputScale, [sd]),
    lda: decodeArray("lda", p.lda, [dim, sd]),
    wccn: decodeArray("wccn", p.wccn, [dim, dim]),
    outputMean: decodeArray("outputMean", p.outputMean, [dim]),
  };
  if (model.inputScale.some((v) => !(v > 0))) throw invalid("inputScale must be positive");
  return model;
}

/**
 * Parses a calibration file; returns null when it was made for another model id (the threshold
 * then does not apply) and throws MODEL_INVALID when it is malformed.
 */
export function parseCalibration(bytes: Uint8Array, modelId: string): TemplateCalibration | null {
  const c = parseJson(bytes, "embedder calibration") as Loose<CalibrationFile>;
  const { threshold, hashes, q, fmr, fnmr, source } = c;
  if (
    c.format !== DSP_CALIBRATION_FORMAT ||
    typeof c.modelId !== "string" ||
    !(num(threshold) && threshold >= 0 && threshold <= 1) ||
    !int(hashes, 1, 65535) ||
    !int(q, 2, 256) ||
    !(num(fmr) && fmr >= 0 && fmr <= 1) ||
    !(num(fnmr) && fnmr >= 0 && fnmr <= 1) ||
    typeof source !== "string"
  ) {
    throw new VaultError("MODEL_INVALID", "embedder calibration: malformed");
  }
  if (c.modelId !== modelId) return null;
  return { threshold, hashes, q, fmr, fnmr, source };
}
