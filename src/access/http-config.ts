/**
 * HTTP settings of the `access` section of vault.json (`access.http`): rate limits per class,
 * the proxies whose forwarded headers are believed, and connection limits against slow clients.
 * Every value is validated at startup; defaults hold when the section is absent.
 */
import net from "node:net";
import { z } from "zod";
import { parseDuration } from "../vault/duration.js";

export const RATE_CLASSES = ["read", "write", "upload", "auth", "public"] as const;
export type RateClass = (typeof RATE_CLASSES)[number];

export interface RateLimit {
  /** Sustained requests per minute. */
  readonly perMinute: number;
  /** Bucket size: requests allowed at once. */
  readonly burst: number;
}

export const DEFAULT_RATE_LIMITS: Readonly<Record<RateClass, RateLimit>> = {
  read: { perMinute: 600, burst: 60 },
  write: { perMinute: 120, burst: 20 },
  upload: { perMinute: 30, burst: 5 },
  auth: { perMinute: 20, burst: 5 },
  public: { perMinute: 300, burst: 30 },
};

const RateLimitSchema = z.strictObject({
  perMinute: z.number().int().min(1).max(1_000_000),
  burst: z.number().int().min(1).max(100_000),
});

/** An IPv4/IPv6 address or CIDR block (`10.0.0.0/8`, `2001:db8::/32`). */
export function isAddressOrCidr(s: string): boolean {
  const [addr, bits, ...rest] = s.split("/");
  if (rest.length > 0 || addr === undefined) return false;
  const family = net.isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

const duration = (max: number) =>
  z.string().refine(
    (s) => {
      try {
        const ms = parseDuration(s);
        return ms >= 1000 && ms <= max;
      } catch {
        return false;
      }
    },
    `a duration from 1s to ${max / 1000}s, such as 30s`,
  );

const HOUR = 3_600_000;

export const HttpConfigSchema = z.strictObject({
  rateLimits: z
    .strictObject(
      Object.fromEntries(RATE_CLASSES.map((c) => [c, RateLimitSchema])) as Record<
        RateClass,
        typeof RateLimitSchema
      >,
    )
    .partial()
    .optional(),
  /** Addresses or CIDR blocks of reverse proxies whose X-Forwarded-For is believed. */
  trustedProxies: z
    .array(z.string().refine(isAddressOrCidr, "an IP address or CIDR block"))
    .max(1000)
    .optional(),
  timeouts: z
    .strictObject({
      headers: duration(HOUR),
      request: duration(24 * HOUR),
      idle: duration(24 * HOUR),
      keepAlive: duration(HOUR),
      shutdown: duration(HOUR),
    })
    .partial()
    .optional(),
  maxConnectionsPerClient: z.number().int().min(1).max(100_000).optional(),
});
export type HttpConfig = z.infer<typeof HttpConfigSchema>;

export interface ResolvedHttp {
  readonly rateLimits: Readonly<Record<RateClass, RateLimit>>;
  readonly trustedProxies: readonly string[];
  readonly timeouts: {
    /** Time to receive a request's headers. */
    readonly headersMs: number;
    /** Time to receive a whole request, body included. */
    readonly requestMs: number;
    /** A connection with no traffic either way is closed after this. */
    readonly idleMs: number;
    /** An idle keep-alive connection between requests is closed after this. */
    readonly keepAliveMs: number;
    /** On SIGTERM, requests still running after this are cut off. */
    readonly shutdownMs: number;
  };
  readonly maxConnectionsPerClient: number;
}

export function resolveHttp(c: HttpConfig | undefined): ResolvedHttp {
  const t = c?.timeouts;
  return {
    rateLimits: Object.fromEntries(
      RATE_CLASSES.map((k) => [k, c?.rateLimits?.[k] ?? DEFAULT_RATE_LIMITS[k]]),
    ) as Record<RateClass, RateLimit>,
    trustedProxies: [...(c?.trustedProxies ?? [])],
    timeouts: {
      headersMs: parseDuration(t?.headers ?? "20s"),
      requestMs: parseDuration(t?.request ?? "300s"),
      idleMs: parseDuration(t?.idle ?? "120s"),
      keepAliveMs: parseDuration(t?.keepAlive ?? "5s"),
      shutdownMs: parseDuration(t?.shutdown ?? "30s"),
    },
    maxConnectionsPerClient: c?.maxConnectionsPerClient ?? 64,
  };
}
