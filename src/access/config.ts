/**
 * Access settings kept in vault.json (`access` section): token lifetimes, egress budgets,
 * break-glass quorum. Defaults are strict; every value is validated at startup.
 */
import { z } from "zod";
import { parseDuration } from "../vault/duration.js";
import { HttpConfigSchema, resolveHttp, type ResolvedHttp } from "./http-config.js";

const duration = z.string().refine((s) => {
  try {
    return parseDuration(s) > 0;
  } catch {
    return false;
  }
}, "a positive duration such as 15m");

export const BudgetSchema = z.strictObject({
  window: duration,
  maxBytes: z.number().int().positive(),
  maxItems: z.number().int().positive(),
});
export type Budget = z.infer<typeof BudgetSchema>;

export const AccessConfigSchema = z.strictObject({
  tokens: z
    .strictObject({ defaultTtl: duration, maxTtl: duration, enrolmentTtl: duration, sessionTtl: duration })
    .partial()
    .optional(),
  budgets: z
    .strictObject({
      default: BudgetSchema,
      /** Per purpose overrides (consumers). */
      purposes: z.record(z.string(), BudgetSchema).optional(),
      /** Suspend a token after this many refusals within one budget window (0 = never). */
      suspendAfterExceedances: z.number().int().min(0).optional(),
    })
    .optional(),
  breakGlass: z
    .strictObject({ approvals: z.number().int().min(1).max(10), grantTtl: duration })
    .partial()
    .optional(),
  /** Rate limits, trusted proxies, connection limits (src/access/http-config.ts). */
  http: HttpConfigSchema.optional(),
});
export type AccessConfig = z.infer<typeof AccessConfigSchema>;

export interface ResolvedAccess {
  readonly tokens: {
    readonly defaultTtlMs: number;
    readonly maxTtlMs: number;
    readonly enrolmentTtlMs: number;
    readonly sessionTtlMs: number;
  };
  readonly budgets: {
    readonly default: Budget;
    readonly purposes: Readonly<Record<string, Budget>>;
    readonly suspendAfterExceedances: number;
  };
  readonly breakGlass: { readonly approvals: number; readonly grantTtlMs: number };
  readonly http: ResolvedHttp;
}

export function resolveAccess(c: AccessConfig | undefined): ResolvedAccess {
  return Object.freeze({
    tokens: {
      defaultTtlMs: parseDuration(c?.tokens?.defaultTtl ?? "1h"),
      maxTtlMs: parseDuration(c?.tokens?.maxTtl ?? "90d"),
      enrolmentTtlMs: parseDuration(c?.tokens?.enrolmentTtl ?? "72h"),
      sessionTtlMs: parseDuration(c?.tokens?.sessionTtl ?? "12h"),
    },
    budgets: {
      default: c?.budgets?.default ?? { window: "1h", maxBytes: 50 * 1024 * 1024, maxItems: 2000 },
      purposes: c?.budgets?.purposes ?? {},
      suspendAfterExceedances: c?.budgets?.suspendAfterExceedances ?? 5,
    },
    breakGlass: {
      approvals: c?.breakGlass?.approvals ?? 2,
      grantTtlMs: parseDuration(c?.breakGlass?.grantTtl ?? "15m"),
    },
    http: resolveHttp(c?.http),
  });
}
