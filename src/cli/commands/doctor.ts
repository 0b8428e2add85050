import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { VaultError } from "../../errors.js";
import { parseDuration } from "../../vault/duration.js";
import type { Finding } from "../../doctor/finding.js";
import { ExitWith, output, withVault, type GlobalOptions } from "../context.js";
import type { CliIo } from "../io.js";

export function registerDoctor(program: Command, io: CliIo, globals: () => GlobalOptions): void {
  program
    .command("doctor")
    .description(
      "check the vault's posture (keys, data at rest, access, transport, log); exit status by the worst finding: 0 none above info, 3 low, 4 medium, 5 high, 6 critical",
    )
    .option("--sarif <file>", "also write the findings as SARIF 2.1.0 (code-scanning dashboards)")
    .option("--max-retention <duration>", "longest acceptable retention of raw audio or frames", "30d")
    .option(
      "--policies <dir...>",
      "Cedar policy directories `serve --policies` loads (DATA_DIR/policies is read anyway)",
    )
    .action(async (o: { sarif?: string; maxRetention: string; policies?: string[] }) => {
      const g = globals();
      let maxRetentionMs: number;
      try {
        maxRetentionMs = parseDuration(o.maxRetention);
      } catch {
        throw new VaultError("USAGE", "--max-retention takes a duration such as 30d");
      }
      const { runDoctor, exitStatusFor, sarif, table, defaultHsmStateFile, defaultKeyFile } =
        await import("../runtime.js");
      const report = async (findings: Finding[]) => {
        if (o.sarif)
          await writeFile(path.resolve(io.cwd, o.sarif), JSON.stringify(sarif(findings), null, 2) + "\n");
        output(io, g, { findings, exitStatus: exitStatusFor(findings) }, () => table(findings));
        return exitStatusFor(findings);
      };
      // An HSM the vault cannot reach is itself the finding: nothing else can be checked then.
      const status = await withVault(io, g, async (v) => {
        const kp = v.config.keyProvider;
        const rootFile = g.keyFile
          ? path.resolve(io.cwd, g.keyFile)
          : (kp.file ??
            (kp.kind === "pkcs11" ? defaultHsmStateFile(v.id, io.env) : defaultKeyFile(v.id, io.env)));
        const local = path.join(v.dataDir, "policies");
        const policyDirs = [
          ...(o.policies ?? []).map((d) => path.resolve(io.cwd, d)),
          ...(existsSync(local) ? [local] : []),
        ];
        const findings = await runDoctor(v, {
          rootFile,
          policyDirs,
          postgresUrl: v.metadataDialect === "postgres" ? (g.pgUrl ?? io.env.VOXVAULT_PG_URL) : undefined,
          maxRetentionMs,
        });
        return report(findings);
      }).catch((e: unknown) => {
        if (!(e instanceof VaultError && e.code.startsWith("HSM_"))) throw e;
        return report([
          {
            rule: "keys.hsm-unreachable",
            severity: "critical",
            area: "keys",
            what: `the vault's HSM cannot be used: ${e.code}: ${e.message}`,
            why: "the root is in the token: without it the vault opens for nobody, and the cause may be an attack on the token",
            fix: "see docs/operations.md (root in an HSM) for this error code; check the module path, the token, the PIN source and the token's own logs",
          },
        ]);
      });
      if (status !== 0) throw new ExitWith(status);
    });
}
