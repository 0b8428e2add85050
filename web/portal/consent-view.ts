/**
 * Consent, purpose by purpose: the current text in the reader's language, what they agreed to and
 * when, and agree / withdraw taking effect at once. "I agree" sends the SHA-256 of exactly the text
 * on screen, so the vault records agreement to the words shown (and refuses it when the text
 * changed meanwhile: CONSENT_TEXT_UNKNOWN, then the new text is shown).
 */
import { api, ApiError } from "./api.js";
import { announce, h, replace } from "./dom.js";
import { day, t } from "./messages.js";
import { sha256Hex } from "./sha256.js";

export interface ConsentState {
  readonly purpose: string;
  readonly active: boolean;
  readonly textHash: string | null;
  readonly grantedAt: string | null;
  readonly revokedAt: string | null;
  readonly endedBy: "revoked" | "superseded" | null;
  readonly textVersion: number | null;
  readonly currentVersion: number | null;
}

interface ConsentText {
  readonly lang: string;
  readonly textHash: string;
  readonly text: string;
}

interface TextVersion {
  readonly purpose: string;
  readonly version: number;
  readonly texts: readonly ConsentText[];
}

export const purposeTitle = (p: string): string => p.charAt(0).toUpperCase() + p.slice(1).replace(/-/g, " ");

/** The reader's first language the version has (exact tag, then the primary subtag), else the first. */
function pickText(texts: readonly ConsentText[]): ConsentText {
  for (const want of navigator.languages) {
    const exact = texts.find((x) => x.lang.toLowerCase() === want.toLowerCase());
    if (exact) return exact;
    const primary = texts.find((x) => x.lang.split("-")[0] === want.split("-")[0]);
    if (primary) return primary;
  }
  return texts[0]!;
}

function stateLine(c: ConsentState): HTMLElement {
  if (c.active && c.grantedAt)
    return h("p", { class: "state-active" }, t("consent.state.active", { date: day(c.grantedAt) }));
  if (c.endedBy === "superseded") return h("p", { class: "state-asks" }, t("consent.state.superseded"));
  if (c.endedBy === "revoked" && c.revokedAt)
    return h("p", { class: "state-inactive" }, t("consent.state.revoked", { date: day(c.revokedAt) }));
  return h("p", { class: "state-inactive" }, t("consent.state.never"));
}

export async function renderConsent(section: HTMLElement): Promise<void> {
  const [{ consents }, { versions }] = await Promise.all([
    api<{ consents: ConsentState[] }>("GET", "/v1/me/consents"),
    api<{ versions: TextVersion[] }>("GET", "/v1/consent-texts"),
  ]);
  const refresh = () => renderConsent(section);
  replace(
    section,
    h("h2", { id: "consent-heading" }, t("consent.heading")),
    h("p", {}, t("consent.intro")),
    consents.length === 0 && h("p", {}, t("consent.none")),
    ...consents.map((c) =>
      purposeCard(
        c,
        versions.find((v) => v.purpose === c.purpose),
        refresh,
      ),
    ),
  );
}

function purposeCard(c: ConsentState, v: TextVersion | undefined, refresh: () => Promise<void>): HTMLElement {
  const id = `purpose-${c.purpose}`;
  const card = h("section", { class: "card", "aria-labelledby": id, "data-purpose": c.purpose });
  card.append(h("h3", { id }, purposeTitle(c.purpose)), stateLine(c));
  const actions = h("div", { class: "actions" });
  if (!v) {
    card.append(h("p", {}, t("consent.notext")));
  } else {
    let chosen = pickText(v.texts);
    const text = h("div", { class: "consent-text", lang: chosen.lang }, chosen.text);
    card.append(h("p", {}, t("consent.version", { version: v.version })));
    if (v.texts.length > 1) {
      const selectId = `${id}-lang`;
      const select = h("select", { id: selectId });
      for (const x of v.texts) {
        const o = h("option", { value: x.lang }, x.lang);
        o.selected = x.lang === chosen.lang;
        select.append(o);
      }
      select.addEventListener("change", () => {
        chosen = v.texts.find((x) => x.lang === select.value) ?? chosen;
        text.textContent = chosen.text;
        text.setAttribute("lang", chosen.lang);
      });
      card.append(h("label", { for: selectId }, t("consent.language")), select);
    }
    card.append(text);
    const current = c.active && c.textVersion === v.version;
    if (!current) {
      const agree = h("button", { type: "button" }, t("consent.agree"));
      agree.addEventListener("click", () => {
        void act(
          agree,
          async () => {
            // The hash of what the reader sees, not the one the server listed.
            const textHash = await sha256Hex(text.textContent);
            await api("PUT", `/v1/me/consents/${c.purpose}`, { textHash });
            announce(t("consent.agreed", { purpose: purposeTitle(c.purpose) }));
          },
          refresh,
        );
      });
      actions.append(agree);
    }
  }
  if (c.active) {
    const withdraw = h("button", { type: "button", class: "secondary" }, t("consent.withdraw"));
    withdraw.addEventListener("click", () => {
      void act(
        withdraw,
        async () => {
          await api("DELETE", `/v1/me/consents/${c.purpose}`);
          announce(t("consent.withdrawn", { purpose: purposeTitle(c.purpose) }));
        },
        refresh,
      );
    });
    actions.append(withdraw);
  }
  card.append(actions);
  return card;
}

async function act(
  button: HTMLButtonElement,
  run: () => Promise<void>,
  refresh: () => Promise<void>,
): Promise<void> {
  button.disabled = true;
  try {
    await run();
  } catch (e) {
    if (e instanceof ApiError && e.code === "CONSENT_TEXT_UNKNOWN") announce(t("consent.changed"));
    else announce(t("error.generic", { code: e instanceof ApiError ? e.code : "NETWORK" }));
  } finally {
    await refresh();
  }
}
