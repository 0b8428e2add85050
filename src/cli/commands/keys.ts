import type { Command } from "commander";
import { output, withVault, type GlobalOptions } from "../context.js";
import { writeLine, type CliIo } from "../io.js";

export function registerKeys(program: Command, io: CliIo, globals: () => GlobalOptions): void {
  const keys = program.command("keys").description("root key, subject keys, key tree");

  keys
    .command("rotate")
    .description("rotate the root key (default) and/or every subject key; nothing is re-encrypted")
    .option("--root", "new root key version (the default when no other scope is given)")
    .option("--subjects", "new key version for every subject; data keys are rewrapped")
    .option("--templates", "renew template protection: templates made before are no longer compared")
    .action(async (o: { root?: boolean; subjects?: boolean; templates?: boolean }) => {
      const g = globals();
      const doRoot = o.root === true || (o.subjects !== true && o.templates !== true);
      await withVault(io, g, async (v) => {
        const root = doRoot ? await v.keys.rotateRoot() : undefined;
        const subjects = o.subjects
          ? await v.keys.rotateAllSubjects((n) => {
              if (io.isTty && !g.json && n % 100 === 0) io.stderr.write(`\rsubjects rotated: ${n}`);
            })
          : undefined;
        if (io.isTty && subjects && !g.json) io.stderr.write("\n");
        const templates = o.templates ? await v.keys.rotateTemplateKey() : undefined;
        const rewrapped = subjects?.reduce((a, r) => a + r.blobsRewrapped, 0) ?? 0;
        output(
          io,
          g,
          {
            root,
            subjects: subjects ? { count: subjects.length, blobsRewrapped: rewrapped } : undefined,
            templates,
          },
          () => [
            ...(root
              ? [`root key rotated: version ${root.fromVersion} destroyed, version ${root.toVersion} in use`]
              : []),
            ...(subjects
              ? [`subject keys rotated: ${subjects.length} subjects, ${rewrapped} data keys rewrapped`]
              : []),
            ...(templates
              ? [
                  `template key renewed: version ${templates.version}; earlier templates are no longer compared`,
                ]
              : []),
          ],
        );
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
        const certKey = { keyId: certificateKeyId(pub), publicKey: toBase64(pub) };
        if (g.json) {
          writeLine(io.stdout, JSON.stringify({ ...s, certificateKey: certKey }));
          return;
        }
        output(io, g, null, () => [
          `root key: ${s.provider.kind} at ${s.provider.location}`,
          `  versions present: ${s.provider.versions.join(", ")}; in use: ${s.rootVersionInUse}`,
          `key tree: ${s.keyTreeNodes} nodes; ${s.subjectKeys} subject keys`,
          `subjects: ${s.subjects.active} active, ${s.subjects.shredPending} pending shred, ${s.subjects.shredded} shredded`,
          `vault secrets: ${s.secrets.map((x) => `${x.name} v${x.version}`).join(", ")}`,
          `deletion certificate key: Ed25519 ${certKey.keyId} ${certKey.publicKey}`,
        ]);
      });
    });
}
