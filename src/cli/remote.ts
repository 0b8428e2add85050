/**
 * The CLI as a client of a running server (`voxvault unseal`, `voxvault seal`). A sealed server
 * presents a certificate made when it sealed (its own TLS key is under the sealed root), so the
 * server is recognised by the certificate's SHA-256 fingerprint it printed (--fingerprint), by a
 * CA (--ca-cert), or by the system's CAs. Plain http is for loopback only.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { TLSSocket } from "node:tls";
import { VaultError, type ErrorCode, ERROR_CODES } from "../errors.js";

export interface RemoteOptions {
  /** Expected certificate SHA-256 fingerprint (hex, colons optional). */
  readonly fingerprint?: string | undefined;
  /** A CA certificate file (PEM) to verify the server with, instead of the system's. */
  readonly caCert?: string | undefined;
  readonly token?: string | undefined;
  readonly timeoutMs?: number | undefined;
}

function normaliseFingerprint(fp: string): string {
  const hex = fp.replace(/:/g, "").toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex))
    throw new VaultError("INVALID_ARGUMENT", "--fingerprint is a SHA-256 (64 hex digits)");
  return hex;
}

export function checkServerUrl(raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new VaultError("USAGE", "--url must be an absolute URL");
  }
  const loopback = u.hostname === "localhost" || u.hostname === "[::1]" || u.hostname.startsWith("127.");
  if (u.protocol !== "https:" && !(u.protocol === "http:" && loopback))
    throw new VaultError(
      "INSECURE_CONFIG",
      "--url must be https (http on loopback only): a share must not travel in clear",
    );
  return u;
}

/** Sends one JSON request; resolves with the parsed body of a 2xx, else throws the server's error code. */
export function requestJson(
  method: "GET" | "POST",
  url: URL,
  body: unknown,
  o: RemoteOptions,
): Promise<unknown> {
  const pin = o.fingerprint === undefined ? undefined : normaliseFingerprint(o.fingerprint);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string> = { accept: "application/json" };
  if (payload !== undefined) headers["content-type"] = "application/json";
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  return new Promise((resolve, reject) => {
    // a socket of its own: the pin is checked at its handshake (a reused one would have none)
    const common = { method, headers, timeout: o.timeoutMs ?? 15_000, agent: false as const };
    const req =
      url.protocol === "https:"
        ? https.request(url, {
            ...common,
            // with a pin, the chain is not what is trusted: the fingerprint is checked below,
            // before a byte of the request body is written
            rejectUnauthorized: pin === undefined,
            ...(o.caCert ? { ca: readFileSync(o.caCert, "utf8") } : {}),
          })
        : http.request(url, common);
    req.on("timeout", () => {
      req.destroy(new VaultError("SERVER_UNREACHABLE", `${url.origin} did not answer in time`));
    });
    req.on("error", (e) => {
      reject(
        e instanceof VaultError
          ? e
          : new VaultError("SERVER_UNREACHABLE", `cannot reach ${url.origin}: ${e.message}`),
      );
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch {
          parsed = undefined;
        }
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          resolve(parsed);
          return;
        }
        const err = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
        const code = err?.code && err.code in ERROR_CODES ? (err.code as ErrorCode) : "SERVER_UNREACHABLE";
        reject(new VaultError(code, err?.message ?? `${url.origin} answered HTTP ${status}`));
      });
    });
    const send = () => {
      req.end(payload);
    };
    if (url.protocol === "https:" && pin !== undefined) {
      req.on("socket", (raw) => {
        const socket = raw as unknown as TLSSocket;
        socket.once("secureConnect", () => {
          const seen = socket.getPeerCertificate().fingerprint256.replace(/:/g, "");
          if (seen !== pin) {
            req.destroy(
              new VaultError(
                "INSECURE_CONFIG",
                `the server's certificate is not the expected one (SHA-256 ${seen})`,
              ),
            );
            return;
          }
          send();
        });
      });
    } else send();
  });
}
