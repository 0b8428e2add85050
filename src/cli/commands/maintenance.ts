import { promises as fs } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { VaultError } from "../../errors.js";
import { parseDuration } from "../../vault/duration.js";
import { output, withVault, type GlobalOptions } from "../context.js";
import type { CliIo } from "../io.js";

export function registerMaintenance(program: Command, io: CliIo, globals: () => GlobalOptions): void {
  program
    .command("sweep")
    .description("run due shreds, remove ciphertext of shredded subjects and orphaned objects")
    .option("--grace <duration>", "leave objects younger than this alone", "1h")
    .action(async (o: { grace: string }) => {
      const g = globals();
      await withVault(io, g, async (v) => {
        const r = await v.maintenance.run({ graceMs: parseDuration(o.grace) });
        output(
          io,
          g,
          { ...r, shredded: r.shredded.map((c) => c.subjectId), certificates: r.shredded },
          () => [
            `shredded ${r.shredded.length} subjects whose window passed; removed ${r.blobsRemoved} blobs of shredded subjects, ` +
              `${r.orphansRemoved} orphaned objects, ${r.incompleteRemoved} abandoned partial writes`,
          ],
        );
      });
    });

  const cert = program.command("cert").description("deletion certificates");
  cert
    .command("verify <file>")
    .description("verify a deletion certificate against this vault's keys, or --public-key without a vault")
    .option(
      "--public-key <base64...>",
      "the vault's Ed25519 certificate keys, current and retired (from keys status)",
    )
    .action(async (file: string, o: { publicKey?: string[] }) => {
      const g = globals();
      let text: string;
      try {
        text = await fs.readFile(path.resolve(io.cwd, file), "utf8");
      } catch (e) {
        throw new VaultError("INVALID_ARGUMENT", `cannot read a certificate from ${file}`, { cause: e });
      }
      const { verifyCertificate, fromBase64, parseCertificateDocument } = await import("../runtime.js");
      let json = parseCertificateDocument(text);
      if (json && typeof json === "object" && "certificate" in json) json = json.certificate;
      let c;
      if (o.publicKey) {
        c = verifyCertificate(
          json,
          o.publicKey.map((k) => fromBase64(k)),
        );
      } else {
        try {
          c = await withVault(io, g, (v) => v.shredding.verify(json));
        } catch (e) {
          if (e instanceof VaultError && e.code === "VAULT_NOT_FOUND") {
            throw new VaultError(
              "VAULT_NOT_FOUND",
              `${e.message}; to verify without the vault, give --public-key with the vault's certificate keys (voxvault keys status on its host)`,
            );
          }
          throw e;
        }
      }
      output(io, g, { valid: true, certificate: c }, () => [
        `valid: ${c.certificateId} certifies that subject ${c.subjectId} of vault ${c.vaultId} was shredded at ${c.shreddedAt}`,
      ]);
    });
}
