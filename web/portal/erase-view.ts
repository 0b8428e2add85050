/**
 * Erasure: ask for it (after a confirmation), see when it will run, cancel it within the window,
 * and keep the receipt that fetches the signed deletion certificate once the session is gone.
 */
import { api, ApiError } from "./api.js";
import { announce, download, h, replace } from "./dom.js";
import { day, t } from "./messages.js";

interface Me {
  readonly id: string;
  readonly status: string;
  readonly shredAfter: string | null;
}

interface ShredResult {
  readonly status: "scheduled" | "shredded";
  readonly shredAfter?: string;
  readonly certificate?: unknown;
  readonly receipt?: string;
}

export async function renderErase(section: HTMLElement, shown?: ShredResult): Promise<void> {
  const refresh = (r?: ShredResult) => renderErase(section, r);
  const heading = h("h2", { id: "erase-heading" }, t("erase.heading"));
  if (shown?.status === "shredded") {
    replace(section, heading, h("p", { class: "state-asks" }, t("erase.done")), receiptBlock(shown));
    return;
  }
  const me = await api<Me>("GET", "/v1/me");
  if (me.status === "shred_pending") {
    const cancel = h("button", { type: "button", class: "secondary" }, t("erase.cancel"));
    cancel.addEventListener("click", () => {
      cancel.disabled = true;
      api("POST", "/v1/me/cancel-erasure")
        .then(() => {
          announce(t("erase.cancelled"));
        })
        .catch((e: unknown) => {
          announce(t("error.generic", { code: e instanceof ApiError ? e.code : "NETWORK" }));
        })
        .finally(() => void refresh());
    });
    replace(
      section,
      heading,
      h(
        "p",
        { class: "state-asks" },
        t("erase.scheduled", { date: day(me.shredAfter ?? new Date().toISOString()) }),
      ),
      shown && receiptBlock(shown),
      h("div", { class: "actions" }, cancel),
    );
    return;
  }
  const ask = h("button", { type: "button", class: "danger" }, t("erase.button"));
  const dialog = confirmDialog(async () => {
    const out = await api<ShredResult>("DELETE", "/v1/me");
    await refresh(out);
  });
  ask.addEventListener("click", () => {
    dialog.showModal();
  });
  replace(section, heading, h("p", {}, t("erase.intro")), h("div", { class: "actions" }, ask), dialog);
}

function confirmDialog(onYes: () => Promise<void>): HTMLDialogElement {
  const yes = h("button", { type: "button", class: "danger" }, t("erase.confirm.yes"));
  const no = h("button", { type: "button", class: "secondary", autofocus: "" }, t("erase.confirm.no"));
  const dialog = h(
    "dialog",
    { "aria-labelledby": "erase-confirm-title" },
    h("h3", { id: "erase-confirm-title" }, t("erase.confirm.title")),
    h("p", {}, t("erase.confirm.body")),
    h("div", { class: "actions" }, no, yes),
  );
  no.addEventListener("click", () => {
    dialog.close();
  });
  yes.addEventListener("click", () => {
    yes.disabled = true;
    onYes()
      .catch((e: unknown) => {
        announce(t("error.generic", { code: e instanceof ApiError ? e.code : "NETWORK" }));
      })
      .finally(() => {
        dialog.close();
      });
  });
  return dialog;
}

function receiptBlock(r: ShredResult): HTMLElement | null {
  if (!r.receipt) return null;
  const receipt = r.receipt;
  const save = h("button", { type: "button" }, t("erase.saveReceipt"));
  save.addEventListener("click", () => {
    download("voxvault-deletion-receipt.txt", `${receipt}\n`, "text/plain");
  });
  const block = h(
    "div",
    { class: "card" },
    h("p", {}, t("erase.receipt")),
    h("p", { class: "receipt", "data-receipt": "" }, receipt),
    h("div", { class: "actions" }, save),
  );
  if (r.certificate !== undefined) {
    const cert = JSON.stringify(r.certificate, null, 2);
    const saveCert = h("button", { type: "button", class: "secondary" }, t("erase.saveCertificate"));
    saveCert.addEventListener("click", () => {
      download("voxvault-deletion-certificate.json", cert, "application/json");
    });
    block.querySelector(".actions")?.append(saveCert);
  }
  return block;
}
