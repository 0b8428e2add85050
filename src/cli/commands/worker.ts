/** `voxvault worker` (ingest jobs) and `voxvault upload` (their status). */
import type { Command } from "commander";
import { VaultError } from "../../errors.js";
import type { UploadState } from "../../ingest/uploads.js";
import { output, withVault, type GlobalOptions } from "../context.js";
import { writeLine, type CliIo } from "../io.js";

function positiveInt(v: string, name: string, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new VaultError("USAGE", `${name} must be 1..${max}`);
  return n;
}

function line(u: UploadState): string {
  const what =
    u.status === "complete"
      ? `recording ${u.recordingId}`
      : u.status === "failed"
        ? `error[${u.error?.code}]: ${u.error?.message}`
        : u.status === "open"
          ? `${u.offset}/${u.length} bytes received`
          : u.error
            ? `attempt ${u.attempts}, last error ${u.error.code}`
            : `attempt ${u.attempts}`;
  return `${u.id}  ${u.status.padEnd(10)}  ${what}`;
}

export function registerWorker(program: Command, io: CliIo, globals: () => GlobalOptions): void {
  program
    .command("worker")
    .description("run ingest jobs from the queue (any number of workers, on any host of the vault)")
    .option("--concurrency <n>", "jobs at once in this process", "1")
    .option("--drain", "exit once no upload is queued or being ingested")
    .option("--poll-ms <n>", "how often an idle worker looks for jobs", "1000")
    .option("--lease-seconds <n>", "how long a job stays with a worker that stopped answering", "60")
    .option("--max-attempts <n>", "attempts before a job that keeps failing or losing its worker fails", "8")
    .action(
      async (o: {
        concurrency: string;
        drain?: boolean;
        pollMs: string;
        leaseSeconds: string;
        maxAttempts: string;
      }) => {
        const g = globals();
        const options = {
          concurrency: positiveInt(o.concurrency, "--concurrency", 64),
          pollMs: positiveInt(o.pollMs, "--poll-ms", 600_000),
          leaseMs: positiveInt(o.leaseSeconds, "--lease-seconds", 86_400) * 1000,
          maxAttempts: positiveInt(o.maxAttempts, "--max-attempts", 1000),
          onJob: (e: { uploadId: string; outcome: string; recordingId?: string; code?: string }) => {
            if (g.json) writeLine(io.stdout, JSON.stringify(e));
            else
              writeLine(
                io.stdout,
                `${e.uploadId}: ${e.outcome}${e.recordingId ? ` ${e.recordingId}` : ""}${e.code ? ` ${e.code}` : ""}`,
              );
          },
        };
        await withVault(io, g, async (v) => {
          if (o.drain) {
            const r = await v.jobs.drain(options);
            output(io, g, r, () => [
              `drained: ${r.complete} complete, ${r.failed} failed, ${r.retried} retried, ${r.lost} taken over`,
            ]);
            return;
          }
          const worker = v.jobs.startWorker(options);
          writeLine(io.stderr, `worker ${worker.owner} waiting for jobs`);
          await new Promise<void>((resolve) => {
            const stop = () => {
              process.off("SIGTERM", stop);
              process.off("SIGINT", stop);
              void worker.stop().then(resolve, resolve);
            };
            process.on("SIGTERM", stop);
            process.on("SIGINT", stop);
          });
        });
      },
    );

  const upload = program.command("upload").description("uploads and their ingest status");
  upload
    .command("status <id>")
    .description("an upload's status: open, queued, processing, complete (recording) or failed (code)")
    .option("--wait <seconds>", "wait up to this long for the outcome", "0")
    .action(async (id: string, o: { wait: string }) => {
      const g = globals();
      const wait = Number(o.wait);
      if (!Number.isInteger(wait) || wait < 0 || wait > 60)
        throw new VaultError("USAGE", "--wait must be 0..60");
      await withVault(io, g, async (v) => {
        const r = await v.uploads.waitFor(id, undefined, wait * 1000);
        output(io, g, r.recording ? { upload: r.state, recording: r.recording } : { upload: r.state }, () => [
          line(r.state),
          ...(r.recording ? r.recording.derivations.map((d) => `  ${d.name}  ${d.id}`) : []),
        ]);
      });
    });
  upload
    .command("list")
    .description("a subject's uploads, newest first")
    .requiredOption("--subject <id>")
    .option("--status <status>", "only uploads in this status")
    .action(async (o: { subject: string; status?: string }) => {
      const g = globals();
      const statuses = ["open", "queued", "processing", "complete", "failed", "aborted"] as const;
      const status = o.status as (typeof statuses)[number] | undefined;
      if (status !== undefined && !statuses.includes(status))
        throw new VaultError("USAGE", `--status must be one of ${statuses.join(", ")}`);
      await withVault(io, g, async (v) => {
        const list = await v.uploads.list(o.subject, status ? { status } : {});
        output(io, g, { uploads: list }, () => list.map(line));
      });
    });
}
