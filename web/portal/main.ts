/**
 * The contractor portal (docs/portal.md). An enrolment link (`/enrol#vve_…`) signs the contractor
 * in: the secret is in the fragment, which browsers never send to a server, and it is removed from
 * the address bar and history before anything else runs. The session stays in memory (src: api.ts).
 */
import { renderActivity } from "./activity-view.js";
import { ApiError, enrol, signedIn } from "./api.js";
import { renderConsent } from "./consent-view.js";
import { renderData } from "./data-view.js";
import { announce, h, replace } from "./dom.js";
import { renderErase } from "./erase-view.js";
import { t } from "./messages.js";
import { passkeysAvailable, renderPasskeys, signInWithPasskey } from "./passkey.js";
import { receiptForm } from "./receipt-view.js";
import { renderUpload } from "./upload-view.js";

function main(): HTMLElement {
  return document.getElementById("main")!;
}

function signInPage(problem?: string): void {
  const passkey = h("button", { type: "button" }, t("signin.passkey"));
  passkey.addEventListener("click", () => {
    passkey.disabled = true;
    signInWithPasskey()
      .then(() => home())
      .catch(() => {
        signInPage(t("signin.passkeyFailed"));
        main().setAttribute("data-ready", "");
      });
  });
  replace(
    main(),
    h("h1", { id: "title" }, t("title")),
    h("h2", {}, t("signin.heading")),
    problem && h("p", { class: "error", role: "alert" }, problem),
    h("p", {}, t("signin.howto")),
    passkeysAvailable() && h("div", { class: "actions" }, passkey),
    receiptForm(),
  );
}

async function home(): Promise<void> {
  const consent = h("section", { id: "consent", "aria-labelledby": "consent-heading" });
  const data = h("section", { id: "data", "aria-labelledby": "data-heading" });
  const erase = h("section", { id: "erase", "aria-labelledby": "erase-heading" });
  const passkey = h("section", { id: "passkey", "aria-labelledby": "passkey-heading" });
  const upload = h("section", { id: "upload", "aria-labelledby": "upload-heading" });
  const activity = h("section", { id: "activity", "aria-labelledby": "activity-heading" });
  replace(
    main(),
    h("h1", { id: "title" }, t("title")),
    h(
      "nav",
      { "aria-label": t("title") },
      h(
        "ul",
        {},
        h("li", {}, h("a", { href: "#consent" }, t("nav.consent"))),
        h("li", {}, h("a", { href: "#data" }, t("nav.data"))),
        h("li", {}, h("a", { href: "#activity" }, t("nav.activity"))),
        h("li", {}, h("a", { href: "#upload" }, t("nav.upload"))),
        h("li", {}, h("a", { href: "#passkey" }, t("nav.passkey"))),
        h("li", {}, h("a", { href: "#erase" }, t("nav.erase"))),
      ),
    ),
    consent,
    data,
    activity,
    upload,
    passkey,
    erase,
  );
  renderUpload(upload, () => renderData(data));
  await Promise.all([
    renderConsent(consent),
    renderData(data),
    renderActivity(activity),
    renderPasskeys(passkey),
    renderErase(erase),
  ]);
  main().setAttribute("data-ready", "");
}

async function boot(): Promise<void> {
  const fragment = location.hash.slice(1);
  if (fragment.startsWith("vve_")) {
    history.replaceState(null, "", location.pathname);
    try {
      await enrol(fragment);
    } catch (e) {
      signInPage(
        e instanceof ApiError && e.status === 401
          ? t("signin.expired")
          : t("signin.failed", { message: String(e) }),
      );
      main().setAttribute("data-ready", "");
      return;
    }
  }
  if (!signedIn()) {
    signInPage();
    main().setAttribute("data-ready", "");
    return;
  }
  try {
    await home();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) signInPage(t("error.session"));
    else announce(t("error.generic", { code: e instanceof ApiError ? e.code : "NETWORK" }));
    main().setAttribute("data-ready", "");
  }
}

void boot();
