import type { Command } from "commander";
import { VaultError } from "../../errors.js";
import type { SubjectStatus } from "../../store/meta/schema.js";
import type { SubjectInfo } from "../../vault/subjects.js";
import { formatBytes, output, withVault, type GlobalOptions } from "../context.js";
import { writeLine, type CliIo } from "../io.js";

function describe(s: SubjectInfo): string {
  if (s.status === "shredded")
    return `${s.id}  shredded (at ${s.shreddedAt})  certificate ${s.certificateId ?? "none"}`;
  const extra = s.status === "shred_pending" ? ` (shred after ${s.shredAfter})` : "";
  return `${s.id}  ${s.tenant}  ${s.status}${extra}  ${s.blobCount} blobs  ${formatBytes(s.blobBytes)}  created ${s.createdAt}`;
}

const STATUSES: readonly SubjectStatus[] = ["active", "shred_pending", "shredded"];

export function registerSubject(program: Command, io: CliIo, globals: () => GlobalOptions): void {
  const subject = program.command("subject").description("contractors whose voice the vault holds");

  subject
    .command("add")
    .description("enrol a subject under an external reference (stored only hashed and encrypted)")
    .requiredOption("--ref <external-ref>", "the platform's reference for the person (user id, e-mail)")
    .option("--tenant <name>", "tenant (default: the vault's default tenant)")
    .option(
      "--staff",
      "an interviewer (or an AI interviewer's voice): excluded when ingest picks the contractor out of an interview",
    )
    .action(async (o: { ref: string; tenant?: string; staff?: boolean }) => {
      const g = globals();
      await withVault(io, g, async (v) => {
        const s = await v.subjects.add({
          ref: o.ref,
          tenant: o.tenant,
          role: o.staff ? "staff" : "contractor",
        });
        output(io, g, s, () => [`added subject ${s.id}`]);
      });
    });

  subject
    .command("list")
    .description("list subjects (ids and counts; never references)")
    .option("--tenant <name>")
    .option("--status <status>", `one of ${STATUSES.join(", ")}`)
    .option("--after <id>", "continue after this id")
    .option("--limit <n>", "page size (max 10000)", "100")
    .action(async (o: { tenant?: string; status?: string; after?: string; limit: string }) => {
      const g = globals();
      if (o.status !== undefined && !STATUSES.includes(o.status as SubjectStatus)) {
        throw new VaultError("USAGE", `--status must be one of ${STATUSES.join(", ")}`);
      }
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1)
        throw new VaultError("USAGE", "--limit must be a positive integer");
      await withVault(io, g, async (v) => {
        const list = await v.subjects.list({
          tenant: o.tenant,
          status: o.status as SubjectStatus | undefined,
          after: o.after,
          limit,
        });
        output(io, g, { subjects: list }, () => (list.length ? list.map(describe) : ["no subjects"]));
      });
    });

  subject
    .command("show <id>")
    .description("show one subject; --reveal decrypts its external reference (audited)")
    .option("--reveal", "decrypt and print the external reference")
    .action(async (id: string, o: { reveal?: boolean }) => {
      const g = globals();
      await withVault(io, g, async (v) => {
        const s = await v.subjects.get(id);
        const keyVersions = await v.subjects.keyVersions(s.id);
        const ref = o.reveal ? await v.subjects.revealRef(s.id) : undefined;
        const certificate = s.status === "shredded" ? await v.shredding.certificate(s.id) : undefined;
        output(
          io,
          g,
          {
            ...s,
            keyVersions,
            ...(ref === undefined ? {} : { ref }),
            ...(certificate ? { certificate } : {}),
          },
          () => [
            describe(s),
            `  key versions: ${keyVersions.length ? keyVersions.join(", ") : "none (destroyed)"}`,
            ...(ref === undefined ? [] : [`  reference: ${ref}`]),
            ...(certificate ? [`  deletion certificate: ${certificate.certificateId}`] : []),
          ],
        );
      });
    });

  subject
    .command("shred <id>")
    .description("crypto-shred a subject: destroy its keys so nothing of it can be decrypted, from any copy")
    .option("--yes", "confirm: this cannot be undone")
    .option("--now", "skip the vault's soft-delete window")
    .option("--cancel", "cancel a scheduled shred instead")
    .action(async (id: string, o: { yes?: boolean; now?: boolean; cancel?: boolean }) => {
      const g = globals();
      await withVault(io, g, async (v) => {
        if (o.cancel) {
          const s = await v.shredding.cancel(id);
          output(io, g, { status: "cancelled", subject: s }, () => [
            `cancelled the scheduled shred of ${s.id}`,
          ]);
          return;
        }
        if (!o.yes) throw new VaultError("USAGE", "shredding cannot be undone: pass --yes to confirm");
        const out = await v.shredding.request(id, { immediate: o.now ?? false });
        if (out.status === "scheduled") {
          output(io, g, out, () => [
            `scheduled: ${out.subject.id} will be shredded after ${out.shredAfter} (cancel with --cancel)`,
          ]);
          return;
        }
        const c = out.certificate;
        if (!g.json) {
          writeLine(
            io.stderr,
            `shredded ${c.subjectId}: ${c.counts.blobs} blobs (${formatBytes(c.counts.bytes)}) can no longer be decrypted; ` +
              `its keys are deleted and its root point punctured. Deletion certificate follows.`,
          );
          writeLine(io.stdout, JSON.stringify(c, null, 2));
        } else {
          writeLine(io.stdout, JSON.stringify(out));
        }
      });
    });
}
