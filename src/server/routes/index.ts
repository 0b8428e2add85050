import type { AnyRoute } from "../route.js";
import { webRoutes, type PortalAssets } from "../web.js";
import { adminRoutes, sealRoute } from "./admin.js";
import { auditRoutes } from "./audit.js";
import { breakglassRoutes } from "./breakglass.js";
import { consentTextRoutes } from "./consent-texts.js";
import { derivationRoutes } from "./derivations.js";
import { passkeyRoutes } from "./passkeys.js";
import { publicRoutes } from "./public.js";
import { recordingRoutes } from "./recordings.js";
import { selfRoutes } from "./self.js";
import { subjectRoutes } from "./subjects.js";
import { uploadRoutes } from "./uploads.js";

export interface RouteEnv {
  readonly policies: () => { hash: string; policies: readonly { id: string; file: string; text: string }[] };
  readonly openapi: () => unknown;
  /**
   * The origin enrolment links point at (configured, never the request's Host header, which a
   * client or proxy controls); undefined gives a relative link.
   */
  readonly publicUrl?: (() => string | undefined) | undefined;
  /** Seals the server (quorum-sealed vaults only). */
  readonly seal?: (() => Promise<void>) | undefined;
  /** The contractor portal's built files; without them its routes answer 404. */
  readonly portal?: PortalAssets;
  /** Further routes (e.g. the transparency log's) registered by other modules. */
  readonly extra?: readonly AnyRoute[];
}

export function allRoutes(env: RouteEnv): AnyRoute[] {
  return [
    ...publicRoutes(env.openapi),
    ...subjectRoutes(env.publicUrl ?? (() => undefined)),
    ...recordingRoutes(),
    ...uploadRoutes(),
    ...derivationRoutes(),
    ...selfRoutes(),
    ...consentTextRoutes(),
    ...passkeyRoutes(env.publicUrl ?? (() => undefined)),
    ...breakglassRoutes(),
    ...adminRoutes(env.policies),
    sealRoute(env.seal),
    ...auditRoutes(),
    ...webRoutes(env.portal ?? new Map()),
    ...(env.extra ?? []),
  ];
}
