/**
 * The high-level entry: a protector bound to one template key and one embedding profile. Expanding
 * the key costs m·q·dim PRG words (≈ 0.8 M for the defaults at dim 192), so build one protector per
 * key and reuse it; dispose() wipes the expanded coefficients, which are as sensitive as the key.
 */

import { VaultError } from "../errors.js";
import { bytesEqual } from "./bytes.js";
import { asTemplate, compareTemplates, encodeTemplate, type ProtectedTemplate } from "./format.js";
import { DEFAULT_HASHES, DEFAULT_Q, deriveProjections, iomHash, type IomParams } from "./iom.js";
import { templateKeyId } from "./keyid.js";
import { prepareProfile, type EmbeddingProfile } from "./profile.js";

export interface TemplateProtectorOptions {
  readonly profile: EmbeddingProfile;
  /** Number of IoM hash functions m (default 1024). */
  readonly hashes?: number;
  /** Directions per hash function q (default 4). */
  readonly q?: number;
}

export interface TemplateProtector {
  readonly params: IomParams;
  readonly keyId: Uint8Array;
  readonly profileId: Uint8Array;
  /** Protects one embedding (raw, as the embedder emits it; the profile normalises it). */
  protect(embedding: ArrayLike<number>): ProtectedTemplate;
  /** protect() followed by encodeTemplate(). */
  protectToBytes(embedding: ArrayLike<number>): Uint8Array;
  /** Score of two templates made by this protector (refuses templates of another key or profile). */
  compare(a: ProtectedTemplate | Uint8Array, b: ProtectedTemplate | Uint8Array): number;
  /** Protects the probe embedding and compares it with a stored template. */
  verify(stored: ProtectedTemplate | Uint8Array, probeEmbedding: ArrayLike<number>): number;
  /** Wipes the expanded key material; the protector is unusable afterwards. */
  dispose(): void;
}

export function createTemplateProtector(
  templateKey: Uint8Array,
  options: TemplateProtectorOptions,
): TemplateProtector {
  const profile = prepareProfile(options.profile);
  const params: IomParams = {
    dim: profile.outputDim,
    hashes: options.hashes ?? DEFAULT_HASHES,
    q: options.q ?? DEFAULT_Q,
  };
  const keyId = templateKeyId(templateKey);
  const projections = deriveProjections(templateKey, params, profile.profileId);
  let disposed = false;

  const live = (): void => {
    if (disposed) throw new VaultError("INVALID_ARGUMENT", "The template protector was disposed.");
  };
  const own = (t: ProtectedTemplate | Uint8Array): ProtectedTemplate => {
    const tt = asTemplate(t);
    if (!bytesEqual(tt.keyId, keyId)) {
      throw new VaultError("TEMPLATE_MISMATCH", "The template was made under a different template key.", {
        details: { reason: "key" },
      });
    }
    return tt;
  };

  const protect = (embedding: ArrayLike<number>): ProtectedTemplate => {
    live();
    const codes = iomHash(profile.apply(embedding), projections, params);
    return {
      scheme: "grp-iom",
      ...params,
      profileId: profile.profileId.slice(),
      keyId: keyId.slice(),
      codes,
    };
  };

  return {
    params,
    keyId: keyId.slice(),
    profileId: profile.profileId.slice(),
    protect,
    protectToBytes: (embedding) => encodeTemplate(protect(embedding)),
    compare: (a, b) => {
      live();
      return compareTemplates(own(a), own(b));
    },
    verify: (stored, probeEmbedding) => compareTemplates(own(stored), protect(probeEmbedding)),
    dispose: () => {
      projections.fill(0);
      disposed = true;
    },
  };
}
