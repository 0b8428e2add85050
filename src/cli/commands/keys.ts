import path from "node:path";
import type { Command } from "commander";
import { VaultError } from "../../errors.js";
import { openOptions, output, withVault, type GlobalOptions } from "../context.js";
import { addHsmOptions, hsmOptions, type HsmFlags } from "./init.js";
import { writeLine, type CliIo } from "../io.js";
import { addQuorumOptions, printShares, quorumFlags, writeShareFiles } from "./quorum.js";

export function registerKeys(program: Command, io: CliIo, globals: () => GlobalOptions): void {
  const keys = program.command("keys").description("root key, subject keys, key tree");

  addQuorumOptions(
    keys
      .command("reshare")
      .description(
        "seal this host's root key file under a new M-of-N quorum of officers (from a plain, passphrase or quorum file); nothing is re-encrypted",
      ),
  ).action(async (o: { quorum?: string; officer?: string[]; sharesDir?: string }) => {
    const g = globals();
    const q = quorumFlags(o);
    if (!q)
      throw new VaultError("USAGE", "reshare needs --quorum M, --officer for each officer and --shares-dir");
    const dir = path.resolve(io.cwd, q.sharesDir);
    await withVault(io, g, async (v) => {
      const before = v.sealing.describe();
      // the directory first: a refused one must not leave the file re-sealed under shares nobody has
      const { mkdir, rmdir } = await import("node:fs/promises");
      await mkdir(dir, { mode: 0o700 }).catch((e: unknown) => {
        throw new VaultError(
          "USAGE",
          (e as { code?: unknown }).code === "EEXIST"
            ? `--shares-dir ${dir} exists: give a new directory`
            : `cannot create ${dir}`,
        );
      });
      await rmdir(dir);
      const shares = await v.sealing.reshare(q.threshold, q.officers);
      const files = await writeShareFiles(dir, shares);
      printShares(io, files, q.threshold);
      const after = v.sealing.describe();
      output(io, g, { from: before.kind, quorum: after.quorum, files }, () => [
        `root key file re-sealed: ${before.kind} → ${q.threshold}-of-${q.officers.length} quorum (share set ${after.quorum?.epoch ?? "?"})`,
        "earlier shares or the passphrase open nothing written from now on; servers of this host unseal with the new shares",
      ]);
    });
  });

  addHsmOptions(
    keys
      .command("migrate")
      .description(
        "move the root from the key file into an HSM (resumable: run it again after an interruption); the key file's generations are destroyed",
      )
      .requiredOption("--to <target>", "where the root goes: hsm")
      .option("--yes", "confirm: backups of the metadata made before the migration will no longer open"),
  ).action(async (o: HsmFlags & { to: string; yes?: boolean }) => {
    const g = globals();
    if (o.to !== "hsm") throw new VaultError("USAGE", "--to takes hsm");
    if (!o.yes)
      throw new VaultError(
        "USAGE",
        "the migration destroys the key file's generations, so backups made before it no longer open: add --yes",
      );
    const { migrateRootToHsm } = await import("../runtime.js");
    const report = await migrateRootToHsm({
      ...(await openOptions(io, g)),
      hsm: o.hsm ? hsmOptions(io, o) : undefined,
    });
    output(io, g, report, () => [
      `root moved into the HSM${report.resumed ? " (resumed)" : ""}: generation ${report.toGeneration} is in the token; state ${report.stateFile}`,
      `key-file generations destroyed: ${report.destroyed.join(", ") || "none"}; ${report.removedKeyFile} overwritten and removed`,
      "restart `voxvault serve`; the old key file and backups made before now open nothing written after the migration began",
    ]);
  });

  keys
    .command("rotate")
    .description(
      "rotate the root (default), every subject key, or template protection; nothing is re-encrypted",
    )
    .option(
      "--root",
      "new root generation, subject keys, reference, certificate, TLS and log keys (resumes an interrupted rotation)",
    )
    .option("--subjects", "new key version for every subject only; data keys are rewrapped")
    .option("--templates", "renew template protection: templates made before are no longer compared")
    .option("--pseudonyms", "new consumer pseudonyms, unlinkable to the old ones (after a compromise)")
    .action(async (o: { root?: boolean; subjects?: boolean; templates?: boolean; pseudonyms?: boolean }) => {
      const g = globals();
      const doRoot =
        o.root === true || (o.subjects !== true && o.templates !== true && o.pseudonyms !== true);
      const progress = (line: string) => {
        if (io.isTty && !g.json) io.stderr.write(`\r${line}`);
      };
      await withVault(io, g, async (v) => {
        const root = doRoot
          ? await v.keys.rotateRoot((p) => {
              progress(
                `root rotation: ${p.phase}, ${p.subjectsDone} subjects done, ${p.subjectsLeft} left   `,
              );
            })
          : undefined;
        const subjects =
          o.subjects && !doRoot
            ? await v.keys.rotateAllSubjects((n) => {
                if (n % 100 === 0) progress(`subjects rotated: ${n}`);
              })
            : undefined;
        if (io.isTty && !g.json && (root || subjects !== undefined)) io.stderr.write("\n");
        const templates = o.templates ? await v.keys.rotateTemplateKey() : undefined;
        const pseudonyms = o.pseudonyms ? await v.keys.rotatePseudonymKey() : undefined;
        output(
          io,
          g,
          { root, subjects: subjects === undefined ? undefined : { count: subjects }, templates, pseudonyms },
          () => [
            ...(root
              ? [
                  `root rotated${root.resumed ? " (resumed)" : ""}: generation ${root.toGeneration} active, ${root.fromGeneration} retired; ` +
                    `${root.subjectsRotated} subjects moved to new keys; replaced: ${root.secretsRotated.join(", ") || "(done earlier)"}`,
                  "restart `voxvault serve` to use the new TLS certificate; other hosts receive the new generation at their next sync",
                ]
              : []),
            ...(subjects !== undefined ? [`subject keys rotated: ${subjects} subjects`] : []),
            ...(templates
              ? [
                  `template key renewed: version ${templates.version}; earlier templates are no longer compared`,
                ]
              : []),
            ...(pseudonyms
              ? [
                  `pseudonym key renewed: version ${pseudonyms.version}; consumers see new pseudonyms from now on`,
                ]
              : []),
          ],
        );
      });
    });

  keys
    .command("sync")
    .description("apply other hosts' punctures and receive generations sealed to this host")
    .action(async () => {
      const g = globals();
      await withVault(io, g, async (v) => {
        const r = await v.keys.sync();
        output(io, g, r, () => [
          `host ${r.hostId}: puncture log applied through ${r.appliedSeq} (${r.puncturesApplied} new); ` +
            `generations received: ${r.generationsReceived.join(", ") || "none"}; destroyed: ${r.generationsDestroyed.join(", ") || "none"}`,
        ]);
      });
    });

  keys
    .command("destroy-generation <generation>")
    .description(
      "destroy a retired root generation on every host: backups made before its rotation stop opening",
    )
    .option("--yes", "confirm")
    .action(async (gen: string, o: { yes?: boolean }) => {
      const g = globals();
      if (!o.yes) throw new VaultError("USAGE", "destroying a root generation cannot be undone: add --yes");
      const n = Number(gen);
      if (!Number.isSafeInteger(n) || n <= 0)
        throw new VaultError("USAGE", "generation must be a positive integer");
      await withVault(io, g, async (v) => {
        await v.keys.destroyGeneration(n);
        output(io, g, { destroyed: n }, () => [
          `root generation ${n} destroyed; hosts drop it at their next sync`,
        ]);
      });
    });

  keys
    .command("status")
    .description("root key provider, versions in use, key tree size")
    .action(async () => {
      const g = globals();
      await withVault(io, g, async (v) => {
        const s = await v.keys.status();
        const { certificateKeyId, toBase64 } = await import("../runtime.js");
        const pub = await v.shredding.certificatePublicKey();
        const retired = (await v.shredding.retiredCertificatePublicKeys()).map((k) => ({
          keyId: certificateKeyId(k),
          publicKey: toBase64(k),
        }));
        const certKey = { keyId: certificateKeyId(pub), publicKey: toBase64(pub), retired };
        if (g.json) {
          writeLine(io.stdout, JSON.stringify({ ...s, certificateKey: certKey }));
          return;
        }
        output(io, g, null, () => [
          `root key: ${s.provider.kind} at ${s.provider.location} (host ${s.provider.hostId})`,
          `  generations held: ${s.provider.generations.join(", ")}; active: ${s.activeGeneration}; ` +
            `puncture log applied ${s.provider.appliedSeq} of ${s.punctureSeq}`,
          `  generations: ${s.generations.map((x) => `${x.generation} ${x.status}`).join(", ")}`,
          ...(s.rotation
            ? [
                `  rotation under way: ${s.rotation.fromGeneration} -> ${s.rotation.toGeneration} (voxvault keys rotate --root resumes it)`,
              ]
            : []),
          `subject keys: ${s.subjectKeys}`,
          `subjects: ${s.subjects.active} active, ${s.subjects.shredPending} pending shred, ${s.subjects.shredded} shredded`,
          `vault secrets: ${s.secrets.map((x) => `${x.name} v${x.version}`).join(", ")}`,
          `deletion certificate key: Ed25519 ${certKey.keyId} ${certKey.publicKey}`,
          ...retired.map((k) => `  retired (still verifies older certificates): ${k.keyId} ${k.publicKey}`),
        ]);
      });
    });
}
