/**
 * Passkeys in the browser: registering one from a session, and signing in with one later. The
 * vault's options come as JSON with base64url fields (WebAuthn L3 §5.4/§5.5); the browser's
 * credentials go back the same way. No credential or session is stored by the page.
 */
import { api, ApiError, useSession } from "./api.js";
import { announce, h, replace } from "./dom.js";
import { day, t } from "./messages.js";

const fromB64u = (s: string): ArrayBuffer => {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0)).buffer;
};
const toB64u = (b: ArrayBuffer): string =>
  btoa(String.fromCharCode(...new Uint8Array(b)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

interface CreationOptionsJson {
  challenge: string;
  rp: { id: string; name: string };
  user: { id: string; name: string; displayName: string };
  pubKeyCredParams: { type: "public-key"; alg: number }[];
  timeout: number;
  attestation: AttestationConveyancePreference;
  authenticatorSelection: AuthenticatorSelectionCriteria;
  excludeCredentials: { type: "public-key"; id: string }[];
}

interface RequestOptionsJson {
  challenge: string;
  rpId: string;
  timeout: number;
  userVerification: UserVerificationRequirement;
}

interface PasskeyInfo {
  readonly createdAt: string;
  readonly lastUsedAt: string | null;
}

export const passkeysAvailable = (): boolean => typeof PublicKeyCredential !== "undefined";

async function register(): Promise<void> {
  const o = await api<CreationOptionsJson>("POST", "/v1/me/passkeys/options");
  const cred = (await navigator.credentials.create({
    publicKey: {
      ...o,
      challenge: fromB64u(o.challenge),
      user: { ...o.user, id: fromB64u(o.user.id) },
      excludeCredentials: o.excludeCredentials.map((c) => ({ type: c.type, id: fromB64u(c.id) })),
    },
  })) as PublicKeyCredential | null;
  if (!cred) throw new Error("no passkey was created");
  const r = cred.response as AuthenticatorAttestationResponse;
  await api("POST", "/v1/me/passkeys", {
    rawId: toB64u(cred.rawId),
    clientDataJSON: toB64u(r.clientDataJSON),
    attestationObject: toB64u(r.attestationObject),
  });
}

/** Signs in with a discoverable passkey; on success the session is in memory (api.ts). */
export async function signInWithPasskey(): Promise<void> {
  const o = await api<RequestOptionsJson>("POST", "/v1/passkey/options", undefined, false);
  const cred = (await navigator.credentials.get({
    publicKey: { ...o, challenge: fromB64u(o.challenge), allowCredentials: [] },
  })) as PublicKeyCredential | null;
  if (!cred) throw new Error("no passkey was chosen");
  const r = cred.response as AuthenticatorAssertionResponse;
  useSession(
    await api<{ sessionToken: string; subjectId: string; expiresAt: string }>(
      "POST",
      "/v1/passkey/session",
      {
        rawId: toB64u(cred.rawId),
        clientDataJSON: toB64u(r.clientDataJSON),
        authenticatorData: toB64u(r.authenticatorData),
        signature: toB64u(r.signature),
      },
      false,
    ),
  );
}

export async function renderPasskeys(section: HTMLElement): Promise<void> {
  const { passkeys } = await api<{ passkeys: PasskeyInfo[] }>("GET", "/v1/me/passkeys");
  const heading = h("h2", { id: "passkey-heading" }, t("passkey.heading"));
  if (passkeys.length > 0) {
    replace(
      section,
      heading,
      h("p", { class: "state-active" }, t("passkey.have", { date: day(passkeys[0]!.createdAt) })),
      h("p", {}, t("passkey.operators")),
    );
    return;
  }
  const button = h("button", { type: "button" }, t("passkey.create"));
  button.addEventListener("click", () => {
    button.disabled = true;
    register()
      .then(() => {
        announce(t("passkey.created"));
      })
      .catch((e: unknown) => {
        announce(e instanceof ApiError ? t("error.generic", { code: e.code }) : t("passkey.cancelled"));
      })
      .finally(() => void renderPasskeys(section));
  });
  replace(
    section,
    heading,
    h("p", {}, t("passkey.why")),
    passkeysAvailable() ? h("div", { class: "actions" }, button) : h("p", {}, t("passkey.unsupported")),
  );
}
