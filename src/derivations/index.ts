/**
 * The registry of derivation kinds: everything the rest of voxvault knows about a kind (its name,
 * class, recipe, payload codec and content type) is declared in that kind's file here. Adding a
 * kind is a new file and one line below; config, ingest, serving and the API read this table.
 */
import { VaultError } from "../errors.js";
import { frames } from "./frames.js";
import { quality } from "./quality.js";
import { raw } from "./raw.js";
import { speakerTemplate } from "./speaker-template.js";
import { speakers } from "./speakers.js";
import type { DerivationKind } from "./types.js";
import { voiceStats } from "./voice-stats.js";

export type { ContentType, DerivationKind, Production, Recipe, SummaryInput } from "./types.js";

export const DERIVATION_KINDS = [quality, voiceStats, speakers, speakerTemplate, frames, raw] as const;

export type DerivationName = (typeof DERIVATION_KINDS)[number]["name"];

export const DERIVATION_NAMES = DERIVATION_KINDS.map((k) => k.name) as unknown as readonly [
  DerivationName,
  ...DerivationName[],
];

const BY_NAME: ReadonlyMap<string, DerivationKind<DerivationName>> = new Map(
  DERIVATION_KINDS.map((k) => [k.name, k as DerivationKind<DerivationName>]),
);

export function isDerivationName(name: string): name is DerivationName {
  return BY_NAME.has(name);
}

/** The kind of a stored derivation. An unknown name in the store is corruption, not user error. */
export function derivationKind(name: string): DerivationKind<DerivationName> {
  const kind = BY_NAME.get(name);
  if (!kind) throw new VaultError("VAULT_CORRUPT", `unknown derivation kind ${JSON.stringify(name)}`);
  return kind;
}

/** Kinds that can be turned back into intelligible speech. */
export const RECONSTRUCTABLE: ReadonlySet<DerivationName> = new Set(
  DERIVATION_KINDS.filter((k) => k.reconstructable).map((k) => k.name),
);

export function derivationClass(name: DerivationName): "reconstructable" | "non-reconstructable" {
  return RECONSTRUCTABLE.has(name) ? "reconstructable" : "non-reconstructable";
}

/** Kinds summarised from the analysis pass, in the order ingest stores them. */
export const SUMMARY_KINDS = DERIVATION_KINDS.filter((k) => k.production.kind === "summary");
