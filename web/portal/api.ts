/**
 * The portal's only way to the vault: same-origin JSON requests. The session token lives in this
 * module's memory only — never in localStorage, sessionStorage or a cookie — so no script-readable
 * storage holds a credential and closing the tab ends the session.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface Session {
  readonly token: string;
  readonly subjectId: string;
  readonly expiresAt: string;
}

let session: Session | undefined;

export const signedIn = (): boolean => session !== undefined;

/** The signed-in contractor's subject id. */
export function mySubject(): string {
  if (!session) throw new ApiError(401, "UNAUTHENTICATED", "not signed in");
  return session.subjectId;
}

export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  auth = true,
  extra: { headers?: Record<string, string>; raw?: Blob } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json", ...extra.headers };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (auth) {
    if (!session) throw new ApiError(401, "UNAUTHENTICATED", "not signed in");
    headers.authorization = `Bearer ${session.token}`;
  }
  const res = await fetch(path, {
    method,
    headers,
    credentials: "omit",
    cache: "no-store",
    ...(body !== undefined ? { body: JSON.stringify(body) } : extra.raw ? { body: extra.raw } : {}),
  });
  const text = await res.text();
  const json = text ? (JSON.parse(text) as unknown) : undefined;
  if (!res.ok) {
    const err = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    if (res.status === 401 && auth) session = undefined;
    throw new ApiError(res.status, err?.code ?? "INTERNAL", err?.message ?? res.statusText);
  }
  return json as T;
}

/** A session made by a passkey sign-in (passkey.ts). */
export function useSession(out: { sessionToken: string; subjectId: string; expiresAt: string }): void {
  session = { token: out.sessionToken, subjectId: out.subjectId, expiresAt: out.expiresAt };
}

/** Exchanges a one-time enrolment token (from the link's fragment) for a session. */
export async function enrol(token: string): Promise<void> {
  const out = await api<{ sessionToken: string; subjectId: string; expiresAt: string }>(
    "POST",
    "/v1/enrol",
    { token },
    false,
  );
  session = { token: out.sessionToken, subjectId: out.subjectId, expiresAt: out.expiresAt };
}
