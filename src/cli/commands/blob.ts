import { createReadStream, promises as fs } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { VaultError } from "../../errors.js";
import { output, withVault, type GlobalOptions } from "../context.js";
import type { CliIo } from "../io.js";

function parseRange(s: string): { start: number; end: number } {
  const m = /^(\d+)-(\d+)$/.exec(s);
  if (!m) throw new VaultError("USAGE", "--range must be START-END (bytes, END exclusive)");
  return { start: Number(m[1]), end: Number(m[2]) };
}

export function registerBlob(program: Command, io: CliIo, globals: () => GlobalOptions): void {
  const blob = program.command("blob").description("low-level encrypted blobs (for testing the format)");

  blob
    .command("put [file]")
    .description("encrypt FILE (or stdin) into the vault for a subject")
    .requiredOption("--subject <id>")
    .requiredOption("--kind <kind>", "what the blob holds, e.g. raw, frames")
    .option("--segment-log2 <n>", "segment size as a power of two (12..24)", "16")
    .action(async (file: string | undefined, o: { subject: string; kind: string; segmentLog2: string }) => {
      const g = globals();
      const source = file && file !== "-" ? createReadStream(path.resolve(io.cwd, file)) : io.stdin;
      await withVault(io, g, async (v) => {
        const info = await v.blobs.put({
          subjectId: o.subject,
          kind: o.kind,
          data: source as AsyncIterable<Uint8Array>,
          segmentLog2: Number(o.segmentLog2),
        });
        output(io, g, info, () => [
          `stored ${info.id}: ${info.plaintextSize} bytes as ${info.size} bytes of ciphertext`,
        ]);
      });
    });

  blob
    .command("get <id>")
    .description("decrypt a blob to --out FILE (written only if the whole blob verifies) or stdout")
    .option("--out <file>")
    .option("--range <start-end>", "only these plaintext bytes")
    .action(async (id: string, o: { out?: string; range?: string }) => {
      const g = globals();
      const range = o.range ? parseRange(o.range) : {};
      await withVault(io, g, async (v) => {
        const read = await v.blobs.read(id, range);
        if (!o.out) {
          for await (const chunk of read.stream) {
            if (!io.stdout.write(chunk)) await new Promise((r) => io.stdout.once("drain", r));
          }
          return;
        }
        const out = path.resolve(io.cwd, o.out);
        const { randomBytes } = await import("node:crypto"); // not loaded for `--help` (start-up)
        const tmp = `${out}.${randomBytes(6).toString("hex")}.part`;
        const h = await fs.open(tmp, "wx", 0o600);
        try {
          for await (const chunk of read.stream) await h.write(chunk);
          await h.sync();
          await h.close();
          await fs.rename(tmp, out);
        } catch (e) {
          await h.close().catch(() => undefined);
          await fs.rm(tmp, { force: true });
          throw e;
        }
        if (g.json) output(io, g, { ...read.info, out, start: read.start, end: read.end }, () => []);
      });
    });

  blob
    .command("list")
    .description("list a subject's blobs")
    .requiredOption("--subject <id>")
    .action(async (o: { subject: string }) => {
      const g = globals();
      await withVault(io, g, async (v) => {
        const list = await v.blobs.list(o.subject);
        output(io, g, { blobs: list }, () =>
          list.length
            ? list.map(
                (b) => `${b.id}  ${b.kind}  ${b.plaintextSize} bytes  key v${b.keyVersion}  ${b.createdAt}`,
              )
            : ["no blobs"],
        );
      });
    });
}
