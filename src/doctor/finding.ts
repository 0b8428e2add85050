/**
 * `voxvault doctor`: posture findings. A check looks at one aspect of a vault and its
 * surroundings and returns findings, each saying what is wrong, why it matters (one line) and the
 * exact fix. Severities order the exit status (worst found wins).
 */
export const SEVERITIES = ["info", "low", "medium", "high", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

export type Area = "keys" | "data" | "access" | "transport" | "log" | "storage";

export interface Finding {
  /** Stable id of the rule (SARIF ruleId), e.g. `keys.synced-directory`. */
  readonly rule: string;
  readonly severity: Severity;
  readonly area: Area;
  /** What is wrong, concretely (names the file, token, epoch …). */
  readonly what: string;
  /** Why it matters, in one line. */
  readonly why: string;
  /** The exact fix. */
  readonly fix: string;
  /** A file or resource the finding is about. */
  readonly location?: string | undefined;
  /** The Prowler check it corresponds to, for object-storage findings. */
  readonly prowler?: string | undefined;
}

/** Exit status for the worst severity found: 0 when nothing above `info` (docs/operations.md). */
export function exitStatusFor(findings: readonly Finding[]): number {
  const worst = Math.max(0, ...findings.map((f) => SEVERITIES.indexOf(f.severity)));
  return worst === 0 ? 0 : 2 + worst; // low 3, medium 4, high 5, critical 6 (1 and 2 are errors)
}

export function bySeverity(a: Finding, b: Finding): number {
  return SEVERITIES.indexOf(b.severity) - SEVERITIES.indexOf(a.severity) || a.rule.localeCompare(b.rule);
}
