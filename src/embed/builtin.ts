/**
 * Node loader for the built-in embedder's shipped model (models/voxvault-dsp-v2.json and its
 * calibration file). In a browser, fetch the same two files and call createDspEmbedder().
 */

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { VaultError } from "../errors.js";
import { createDspEmbedder } from "./dsp/embedder.js";
import type { Embedder } from "./types.js";

export const BUILTIN_MODEL_NAME = "voxvault-dsp-v2";

/**
 * The shipped files. models/ sits two levels above this module both in src/embed and in
 * dist/embed; code compiled elsewhere (benches) passes `modelsDir`.
 */
export function builtinModelPaths(modelsDir?: string): { model: string; calibration: string } {
  const dir = modelsDir ?? fileURLToPath(new URL("../../models/", import.meta.url));
  return {
    model: join(dir, `${BUILTIN_MODEL_NAME}.json`),
    calibration: join(dir, `${BUILTIN_MODEL_NAME}.calibration.json`),
  };
}

export interface BuiltinEmbedderOptions {
  /** Directory of the shipped model and calibration (default: the package's models/). */
  readonly modelsDir?: string;
  /** Another model file (e.g. a retrained one); default the shipped model. */
  readonly modelPath?: string;
  /** Its calibration file; default the shipped one next to the shipped model (none for others). */
  readonly calibrationPath?: string;
}

export async function loadBuiltinEmbedder(options: BuiltinEmbedderOptions = {}): Promise<Embedder> {
  const paths = builtinModelPaths(options.modelsDir);
  const modelPath = options.modelPath ?? paths.model;
  let model: Uint8Array;
  try {
    model = await readFile(modelPath);
  } catch (e) {
    throw new VaultError("MODEL_INVALID", `Cannot read the embedder model ${modelPath}.`, { cause: e });
  }
  const calibrationPath =
    options.calibrationPath ?? (options.modelPath === undefined ? paths.calibration : undefined);
  let calibration: Uint8Array | undefined;
  if (calibrationPath !== undefined) {
    try {
      calibration = await readFile(calibrationPath);
    } catch (e) {
      // A missing calibration leaves the embedder uncalibrated; an unreadable one is an error.
      if ((e as NodeJS.ErrnoException).code !== "ENOENT" || options.calibrationPath !== undefined) {
        throw new VaultError("MODEL_INVALID", `Cannot read the calibration file ${calibrationPath}.`, {
          cause: e,
        });
      }
    }
  }
  return createDspEmbedder(model, calibration === undefined ? {} : { calibration });
}
