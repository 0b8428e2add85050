import type { Command } from "commander";
import { VaultError } from "../../errors.js";
import { openOptions, output, type GlobalOptions } from "../context.js";
import type { CliIo } from "../io.js";

/** `voxvault restore`: bring a restored metadata backup back into service (docs/operations.md §Restore). */
export function registerRestore(program: Command, io: CliIo, globals: () => GlobalOptions): void {
  program
    .command("restore")
    .description(
      "accept restored metadata that is older than the root: erased subjects stay erased, the log gets a new branch",
    )
    .option("--yes", "confirm: events recorded after the backup are lost, and the log records that")
    .action(async (o: { yes?: boolean }) => {
      const g = globals();
      if (!o.yes) {
        throw new VaultError(
          "USAGE",
          "restore accepts an older copy and records the lost log: add --yes to confirm",
        );
      }
      const { restoreVault } = await import("../runtime.js");
      const { vault, report } = await restoreVault(await openOptions(io, g));
      await vault.close();
      output(io, g, report, () => [
        `restored: ${report.subjectsErased.length} subjects shredded since the backup stay erased (new certificates issued)`,
        `reference-index buckets rebuilt: ${report.bucketsRebuilt}; puncture log re-recorded: ${report.pointsRelogged} points`,
        report.lostLog
          ? `audit log: a new branch; the lost log had ${report.lostLog.size} leaves (root ${report.lostLog.root}); re-add witnesses`
          : "audit log: no anchor was ahead of the copy",
        ...(report.rotationAdvised
          ? ["the backup predates a root rotation: run voxvault keys rotate --root now"]
          : []),
        "re-check hosts (voxvault host list): joins and revocations made after the backup are not in it",
      ]);
    });
}
