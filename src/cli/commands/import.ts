/** `voxvault import`: an existing archive (a directory or an S3 prefix) in, raw copies out. */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { VaultError } from "../../errors.js";
import type { ImportProgress, ImportReport } from "../../ingest/import/service.js";
import type { ImportSource } from "../../ingest/import/source.js";
import { output, withVault, type GlobalOptions } from "../context.js";
import { writeLine, type CliIo } from "../io.js";

interface ImportCliOptions {
  readonly manifest?: string;
  readonly keyPattern?: string;
  readonly deleteSource?: boolean;
  readonly dryRun?: boolean;
  readonly workers: string;
  readonly window: string;
  readonly leaseSeconds: string;
  readonly sourceRegion: string;
  readonly sourceEndpoint?: string;
  readonly sourcePathStyle?: boolean;
}

function duration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0
    ? `${h}h${String(m).padStart(2, "0")}m`
    : `${m}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
}

/** `[#####.....] 412/1000  2.1 objects/s  ETA 4m40s` */
export function progressLine(p: ImportProgress, now = Date.now()): string {
  const width = 24;
  const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
  const filled = Math.round(frac * width);
  const rate = p.done / Math.max(0.001, (now - p.startedAt) / 1000);
  const eta = rate > 0 ? (p.total - p.done) / rate : Infinity;
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${p.done}/${p.total}  ${rate.toFixed(1)} objects/s  ETA ${duration(eta)}`;
}

function reportLines(r: ImportReport): string[] {
  const lines = [
    `${r.interrupted ? "interrupted" : "done"}: run ${r.runId}${r.resumed ? " (resumed)" : ""}, ${r.objects} objects`,
    `  imported ${r.imported}, skipped ${r.skipped} (already imported), failed ${r.failed}`,
  ];
  for (const [code, n] of Object.entries(r.failedByCode).sort()) lines.push(`    ${code}: ${n}`);
  lines.push(`  audio: ${r.audioHours.toFixed(2)} h`);
  lines.push(
    `  raw voice destroyed at the source: ${r.bytesDestroyed} bytes${r.versioned ? " (every version: the bucket is versioned)" : ""}`,
  );
  if (r.interrupted) lines.push("  run the same command again to resume");
  return lines;
}

async function openSource(io: CliIo, location: string, o: ImportCliOptions): Promise<ImportSource> {
  if (location.startsWith("s3://")) {
    const { openS3Source, parseS3Url } = await import("../../ingest/import/s3-source.js");
    return openS3Source(
      {
        ...parseS3Url(location),
        region: o.sourceRegion,
        endpoint: o.sourceEndpoint,
        forcePathStyle: o.sourcePathStyle === true,
      },
      io.env,
    );
  }
  const { openDirSource } = await import("../../ingest/import/dir-source.js");
  return openDirSource(path.resolve(io.cwd, location));
}

export function registerImport(program: Command, io: CliIo, globals: () => GlobalOptions): void {
  program
    .command("import <source>")
    .description(
      "bring an archive in (a directory, or s3://bucket/prefix): each object is abstracted for its contractor; resumable",
    )
    .option("--manifest <file>", "CSV or JSON lines: key, ref [, externalId, kind, recordedAt, tenant]")
    .option(
      "--key-pattern <regex>",
      "derive the contractor from the key: a named group (?<ref>…), optionally externalId, kind, recordedAt",
    )
    .option("--delete-source", "delete each object (every version) once its derivations are committed")
    .option("--dry-run", "list what would happen; touch nothing")
    .option("--workers <n>", "ingest workers in this process (0: only `voxvault worker` elsewhere)", "1")
    .option("--window <n>", "objects staged and waiting for workers at once", "4")
    .option("--lease-seconds <n>", "how long a job stays with a worker that stopped answering", "60")
    .option("--source-region <region>", "S3 source region", "us-east-1")
    .option("--source-endpoint <url>", "S3-compatible source endpoint (https; http on loopback only)")
    .option("--source-path-style", "path-style addressing for the S3 source")
    .action(async (location: string, o: ImportCliOptions) => {
      const g = globals();
      if ((o.manifest === undefined) === (o.keyPattern === undefined))
        throw new VaultError("USAGE", "give either --manifest or --key-pattern");
      const workers = Number(o.workers);
      const window = Number(o.window);
      if (!Number.isInteger(workers) || workers < 0 || workers > 64)
        throw new VaultError("USAGE", "--workers must be 0..64");
      if (!Number.isInteger(window) || window < 1 || window > 1000)
        throw new VaultError("USAGE", "--window must be 1..1000");
      const lease = Number(o.leaseSeconds);
      if (!Number.isInteger(lease) || lease < 1 || lease > 86_400)
        throw new VaultError("USAGE", "--lease-seconds must be 1..86400");
      const { keyPattern, readManifest } = await import("../../ingest/import/mapping.js");
      const manifest = o.manifest ? path.resolve(io.cwd, o.manifest) : undefined;
      const pattern = o.keyPattern ? keyPattern(o.keyPattern) : undefined;
      if (manifest) for await (const _ of readManifest(manifest)); // a bad manifest stops here, before anything
      const source = await openSource(io, location, o);
      try {
        const fingerprint = createHash("sha256")
          .update(
            JSON.stringify({
              source: source.description,
              manifest: manifest
                ? createHash("sha256")
                    .update(await fs.readFile(manifest))
                    .digest("hex")
                : null,
              pattern: o.keyPattern ?? null,
            }),
          )
          .digest("hex");
        const objects = manifest
          ? async function* () {
              for await (const m of readManifest(manifest)) {
                const object = await source.stat(m.key);
                yield { key: m.key, mapped: m, ...(object ? { object } : {}) };
              }
            }
          : async function* () {
              for await (const object of source.list()) {
                const mapped = pattern!(object.key);
                yield { key: object.key, object, ...(mapped ? { mapped } : {}) };
              }
            };
        await withVault(io, g, async (v) => {
          const abort = new AbortController();
          const onSigint = () => {
            writeLine(io.stderr, "\nstopping after the objects in hand (Ctrl-C again to quit at once)");
            process.off("SIGINT", onSigint);
            abort.abort();
          };
          process.on("SIGINT", onSigint);
          const tty = io.isTty && !g.json;
          if (!o.dryRun && workers > 0) v.jobs.startWorker({ concurrency: workers, leaseMs: lease * 1000 });
          try {
            const report = await v.imports.run({
              source,
              objects,
              fingerprint,
              deleteSource: o.deleteSource === true,
              dryRun: o.dryRun === true,
              window,
              signal: abort.signal,
              ...(tty ? { onProgress: (p: ImportProgress) => io.stderr.write(`\r${progressLine(p)}`) } : {}),
              onPlan: (p) => {
                if (g.json) writeLine(io.stdout, JSON.stringify(p));
                else
                  writeLine(
                    io.stdout,
                    `${p.action.padEnd(8)} ${p.key}${p.ref ? ` -> ${p.ref}${p.subject === "new" ? " (new contractor)" : ""}` : ""}`,
                  );
              },
            });
            if (tty) io.stderr.write("\r\x1b[K");
            if (!o.dryRun) output(io, g, report, () => reportLines(report));
          } finally {
            process.off("SIGINT", onSigint);
          }
        });
      } finally {
        await source.close();
      }
    });
}
