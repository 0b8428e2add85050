/**
 * The ingest worker loop: claims jobs from the queue (src/ingest/jobs.ts), renews its lease while
 * a job runs, and records the outcome. Runs inside `voxvault worker`, inside `voxvault serve`
 * (unless told not to) and in library users' processes; any number of them share one queue.
 */
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { asVaultError } from "../errors.js";
import type { ClaimedJob, JobQueue } from "./jobs.js";
import type { IngestResult } from "./service.js";

export interface WorkerOptions {
  /** Jobs run at once in this process (each decodes on its own thread); default 1. */
  readonly concurrency?: number;
  /** How often an idle worker looks for jobs other processes queued; default 1000 ms. */
  readonly pollMs?: number;
  /** Called after each job (for progress output and tests). */
  readonly onJob?: (e: JobOutcome) => void;
}

export type JobOutcome =
  | { readonly uploadId: string; readonly outcome: "complete"; readonly recordingId: string }
  | { readonly uploadId: string; readonly outcome: "retry" | "failed"; readonly code: string }
  | { readonly uploadId: string; readonly outcome: "lost" };

export interface DrainReport {
  readonly complete: number;
  readonly failed: number;
  readonly retried: number;
  readonly lost: number;
}

export interface IngestWorker {
  /** The owner name leases carry: host, process and a random part. */
  readonly owner: string;
  /** Looks for a job now (a job was queued in this process). */
  wake(): void;
  /** Stops claiming; resolves when the jobs in hand have ended. */
  stop(): Promise<void>;
}

interface Deps {
  readonly queue: JobQueue;
  readonly ingestJob: (job: ClaimedJob) => Promise<IngestResult>;
  readonly leaseMs: number;
}

export function workerOwner(): string {
  return `${hostname()}/${process.pid}/${randomBytes(4).toString("hex")}`;
}

/** Runs one claimed job to its outcome, renewing the lease meanwhile. */
async function runJob(deps: Deps, job: ClaimedJob): Promise<JobOutcome> {
  // Renew at a third of the lease, so two missed renewals (a slow database) still keep it.
  const timer = setInterval(
    () => {
      deps.queue.renew(job.id, job.lease_owner).catch(() => undefined);
    },
    Math.max(50, Math.floor(deps.leaseMs / 3)),
  );
  try {
    const rec = await deps.ingestJob(job);
    return { uploadId: job.id, outcome: "complete", recordingId: rec.id };
  } catch (e) {
    const err = asVaultError(e);
    // CONFLICT from the commit: another worker finished it or it was aborted or erased.
    if (err.code === "CONFLICT") return { uploadId: job.id, outcome: "lost" };
    for (let i = 0; ; i++) {
      try {
        const outcome = await deps.queue.fail(job, err);
        return outcome === "lost"
          ? { uploadId: job.id, outcome }
          : { uploadId: job.id, outcome, code: err.code };
      } catch {
        // The database is away: keep trying until it answers or the lease lapses (then another
        // worker takes the job over and this outcome no longer matters).
        if (i * 1000 > deps.leaseMs) return { uploadId: job.id, outcome: "lost" };
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  } finally {
    clearInterval(timer);
  }
}

export function startWorker(deps: Deps, options: WorkerOptions = {}): IngestWorker {
  const owner = workerOwner();
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
  const pollMs = Math.max(10, options.pollMs ?? 1000);
  let stopping = false;
  const sleepers = new Set<() => void>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        sleepers.delete(done);
        resolve();
      };
      // Ref'd on purpose: a running worker keeps its process alive (after a database outage its
      // timer may be the only handle left) until it is stopped, as a listening server does.
      const t = setTimeout(done, ms);
      sleepers.add(done);
    });

  async function loop(): Promise<void> {
    let idle = 0;
    while (!stopping) {
      let job: ClaimedJob | undefined;
      try {
        job = await deps.queue.claim(owner);
      } catch {
        // Database or store away: back off (up to 30 s) and look again; nothing was claimed.
        idle = Math.min(idle + 1, 5);
        await sleep(Math.min(30_000, pollMs * 2 ** idle));
        continue;
      }
      if (!job) {
        idle = 0;
        await sleep(pollMs);
        continue;
      }
      idle = 0;
      // (Not `onJob?.(await runJob(...))`: an optional call skips evaluating its argument.)
      const outcome = await runJob(deps, job);
      options.onJob?.(outcome);
    }
  }

  const loops = Array.from({ length: concurrency }, () => loop());
  return {
    owner,
    wake() {
      for (const s of [...sleepers]) s();
    },
    async stop() {
      stopping = true;
      for (const s of [...sleepers]) s();
      await Promise.all(loops);
    },
  };
}

/**
 * Works until no job is queued or processing (jobs in backoff included), then returns the counts:
 * `voxvault worker --drain` and tests. A job another process holds is waited for.
 */
export async function drainQueue(deps: Deps, options: WorkerOptions = {}): Promise<DrainReport> {
  const counts = { complete: 0, failed: 0, retried: 0, lost: 0 };
  const worker = startWorker(deps, {
    ...options,
    pollMs: options.pollMs ?? 200,
    onJob: (e) => {
      if (e.outcome === "complete") counts.complete++;
      else if (e.outcome === "failed") counts.failed++;
      else if (e.outcome === "retry") counts.retried++;
      else counts.lost++;
      options.onJob?.(e);
    },
  });
  try {
    for (;;) {
      await new Promise((r) => setTimeout(r, options.pollMs ?? 200));
      // A database away for a while: keep waiting (the workers back off meanwhile).
      if ((await deps.queue.pending().catch(() => 1)) === 0) break;
    }
  } finally {
    await worker.stop();
  }
  return counts;
}
