/** Fetching a deletion certificate with a receipt: needs no session (the erasure removed it). */
import { api, ApiError } from "./api.js";
import { download, h, replace } from "./dom.js";
import { day, t } from "./messages.js";

interface ErasureStatus {
  readonly status: "scheduled" | "cancelled" | "shredded";
  readonly shredAfter?: string;
  readonly certificate?: { readonly shreddedAt?: string };
}

export function receiptForm(): HTMLElement {
  const input = h("input", { type: "text", id: "receipt-input", autocomplete: "off", spellcheck: "false" });
  const out = h("div", { "aria-live": "polite", id: "receipt-result" });
  const form = h(
    "form",
    { class: "card" },
    h("h2", { id: "receipt-heading" }, t("receipt.heading")),
    h("label", { for: "receipt-input" }, t("receipt.label")),
    input,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "secondary" }, t("receipt.check"))),
    out,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void check(input.value.trim(), out);
  });
  return form;
}

async function check(receipt: string, out: HTMLElement): Promise<void> {
  try {
    const r = await api<ErasureStatus>("POST", "/v1/deletion-certificate", { receipt }, false);
    if (r.status === "scheduled")
      replace(out, h("p", {}, t("receipt.scheduled", { date: day(r.shredAfter!) })));
    else if (r.status === "cancelled") replace(out, h("p", {}, t("receipt.cancelled")));
    else {
      const save = h("button", { type: "button" }, t("erase.saveCertificate"));
      const cert = JSON.stringify(r.certificate, null, 2);
      save.addEventListener("click", () => {
        download("voxvault-deletion-certificate.json", cert, "application/json");
      });
      replace(out, h("p", {}, t("receipt.shredded", { date: day(r.certificate?.shreddedAt ?? "") })), save);
    }
  } catch (e) {
    const code = e instanceof ApiError ? e.code : "NETWORK";
    replace(
      out,
      h(
        "p",
        { class: "error" },
        code === "UNAUTHENTICATED" || code === "BAD_REQUEST"
          ? t("receipt.unknown")
          : t("error.generic", { code }),
      ),
    );
  }
}
