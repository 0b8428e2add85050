/** "What is kept": every derivation of the contractor's voice in plain words, and whether it could be turned back into sound. */
import { api } from "./api.js";
import { h, replace } from "./dom.js";
import { day, t, type MessageId } from "./messages.js";

interface Derivation {
  readonly id: string;
  readonly name: string;
  readonly class: string;
  readonly expiresAt: string | null;
}

const KINDS = ["quality", "voice-stats", "speaker-template", "speakers", "frames", "raw"] as const;
const RECONSTRUCTABLE = new Set(["frames", "raw"]);

function describe(name: string): string {
  return (KINDS as readonly string[]).includes(name)
    ? t(`data.kind.${name}` as MessageId)
    : t("data.kind.other", { name });
}

export async function renderData(section: HTMLElement): Promise<void> {
  const [{ recordings }, { derivations }] = await Promise.all([
    api<{ recordings: unknown[] }>("GET", "/v1/me/recordings"),
    api<{ derivations: Derivation[] }>("GET", "/v1/me/derivations"),
  ]);
  replace(
    section,
    h("h2", { id: "data-heading" }, t("data.heading")),
    h("p", {}, t("data.recordings", { count: recordings.length })),
    derivations.length === 0 && h("p", {}, t("data.none")),
    derivations.length > 0 &&
      h(
        "ul",
        { class: "derivations" },
        ...derivations.map((d) =>
          h(
            "li",
            { class: "card", "data-derivation": d.name },
            h("p", {}, describe(d.name)),
            h(
              "p",
              {},
              RECONSTRUCTABLE.has(d.name) ? t("data.reconstructable") : t("data.notReconstructable"),
            ),
            d.expiresAt && h("p", {}, t("data.expires", { date: day(d.expiresAt) })),
          ),
        ),
      ),
  );
}
