/**
 * The doctor's reports: a table for people, JSON, and SARIF 2.1.0 (OASIS, "Static Analysis
 * Results Interchange Format") for code-scanning dashboards.
 */
import { VERSION } from "../version.js";
import { bySeverity, type Finding, type Severity } from "./finding.js";

export function table(findings: readonly Finding[]): string[] {
  if (findings.length === 0) return ["no findings"];
  const lines: string[] = [];
  for (const f of [...findings].sort(bySeverity)) {
    lines.push(
      `${f.severity.toUpperCase().padEnd(8)} ${f.rule}${f.prowler ? ` (Prowler ${f.prowler})` : ""}`,
    );
    lines.push(`         ${f.what}`);
    lines.push(`         why: ${f.why}`);
    lines.push(`         fix: ${f.fix}`);
  }
  const counts = new Map<Severity, number>();
  for (const f of findings) counts.set(f.severity, (counts.get(f.severity) ?? 0) + 1);
  lines.push(`${findings.length} findings: ${[...counts].map(([s, n]) => `${n} ${s}`).join(", ")}`);
  return lines;
}

const LEVEL: Record<Severity, "error" | "warning" | "note"> = {
  critical: "error",
  high: "error",
  medium: "warning",
  low: "note",
  info: "note",
};

/** GitHub code scanning reads `security-severity` (0–10) from a rule's properties. */
const SCORE: Record<Severity, string> = {
  critical: "9.5",
  high: "8.0",
  medium: "5.5",
  low: "3.0",
  info: "0.0",
};

export function sarif(findings: readonly Finding[]): unknown {
  const rules = new Map<string, Finding>();
  for (const f of findings) if (!rules.has(f.rule)) rules.set(f.rule, f);
  const ids = [...rules.keys()];
  return {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "voxvault doctor",
            version: VERSION,
            informationUri: "https://github.com/voxvault/voxvault/blob/main/docs/operations.md",
            rules: ids.map((id) => {
              const f = rules.get(id)!;
              return {
                id,
                shortDescription: { text: f.why },
                help: { text: f.fix },
                properties: {
                  "security-severity": SCORE[f.severity],
                  tags: ["security", f.area, ...(f.prowler ? [`prowler:${f.prowler}`] : [])],
                },
              };
            }),
          },
        },
        results: [...findings].sort(bySeverity).map((f) => ({
          ruleId: f.rule,
          ruleIndex: ids.indexOf(f.rule),
          level: LEVEL[f.severity],
          message: { text: `${f.what}. Fix: ${f.fix}` },
          ...(f.location
            ? { locations: [{ physicalLocation: { artifactLocation: { uri: `file://${f.location}` } } }] }
            : {}),
          properties: { severity: f.severity },
        })),
      },
    ],
  };
}
