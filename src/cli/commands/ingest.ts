import { promises as fs } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { asVaultError, VaultError } from "../../errors.js";
import { DERIVATION_NAMES, type DerivationName } from "../../derivations/index.js";
import type { IngestResult } from "../../ingest/service.js";
import { output, withVault, type GlobalOptions } from "../context.js";
import { writeLine, type CliIo } from "../io.js";

function summary(file: string, r: IngestResult): string {
  const names = r.derivations.map((d) =>
    d.expiresAt ? `${d.name} (kept until ${d.expiresAt.slice(0, 10)})` : d.name,
  );
  return `${file}: recording ${r.id}, ${r.durationSec.toFixed(1)} s (${r.speechSec.toFixed(1)} s speech), ${r.format.codec} ${r.format.sampleRate} Hz x${r.format.channels} -> ${names.join(", ")}`;
}

interface IngestOptions {
  readonly subject: string;
  readonly queue?: boolean;
  readonly name?: string;
  readonly track?: string;
  readonly channel?: string;
  readonly externalId?: string;
  readonly kind?: string;
  readonly recordedAt?: string;
}

async function fileSize(io: CliIo, file: string): Promise<number> {
  try {
    const st = await fs.stat(path.resolve(io.cwd, file));
    if (!st.isFile()) throw new VaultError("FILE_UNREADABLE", `${file}: not a regular file`);
    return st.size;
  } catch (e) {
    throw unreadable(e);
  }
}

export function registerIngest(program: Command, io: CliIo, globals: () => GlobalOptions): void {
  program
    .command("ingest <files...>")
    .description(
      "abstract recordings into derivations; raw audio is dropped unless retention keeps it (`-` reads standard input)",
    )
    .requiredOption("--subject <id>")
    .option("--name <label>", "what to call standard input (`-`) in the output; never stored")
    .option("--track <n>", "which audio track of a multi-track file (MP4, MOV, MKV) to take, from 1")
    .option(
      "--channel <n>",
      "analyse only this channel, from 1 (a recorder with each party on its own channel)",
    )
    .option(
      "--queue",
      "store each file encrypted and queue it for `voxvault worker` instead of ingesting here",
    )
    .option("--external-id <id>", "the platform's id for the recording (one file only)")
    .option("--kind <word>", "what the recording is, e.g. interview or assessment")
    .option("--recorded-at <time>", "when it was recorded (RFC 3339)")
    .action(async (files: string[], o: IngestOptions) => {
      const g = globals();
      let failed = 0;
      if (o.externalId !== undefined && files.length > 1)
        throw new VaultError("USAGE", "--external-id names one recording: give one file");
      const stdinCount = files.filter((f) => f === "-").length;
      if (stdinCount > 1) throw new VaultError("USAGE", "standard input (-) can be read once");
      if (o.name !== undefined && stdinCount === 0)
        throw new VaultError("USAGE", "--name labels standard input (-)");
      const audioTrack = parseIndex(o.track);
      const channel = parseIndex(o.channel, "--channel");
      const label = (file: string): string => (file === "-" ? (o.name ?? "stdin") : file);
      const metadata = {
        ...(o.externalId !== undefined ? { externalId: o.externalId } : {}),
        ...(o.kind !== undefined ? { kind: o.kind } : {}),
        ...(o.recordedAt !== undefined ? { recordedAt: o.recordedAt } : {}),
      };
      await withVault(io, g, async (v) => {
        if (o.queue) {
          for (const file of files) {
            if (file === "-") {
              // length unknown: sealed as it arrives into one staged part, then queued
              const state = await v.uploads.submit(o.subject, v.actor.id, readStdin(io), metadata);
              output(io, g, { file: label(file), upload: state }, () => [
                `${label(file)}: upload ${state.id} ${state.status}`,
              ]);
              continue;
            }
            const size = await fileSize(io, file);
            const u = await v.uploads.create(o.subject, v.actor.id, size, metadata);
            const r = await v.uploads.append(u.id, undefined, 0, await openInput(io, file));
            output(io, g, { file, upload: r.state }, () => [`${file}: upload ${u.id} ${r.state.status}`]);
          }
          return;
        }
        for (const input of files) {
          const file = label(input);
          const progress = io.isTty && !g.json ? progressLine(io, path.basename(file)) : undefined;
          try {
            const r = await v.recordings.ingest({
              subjectId: o.subject,
              source: input === "-" ? readStdin(io) : await openInput(io, file),
              onProgress: progress,
              metadata,
              ...(audioTrack !== undefined ? { audioTrack } : {}),
              ...(channel !== undefined ? { channel } : {}),
            });
            if (progress) io.stderr.write("\r\x1b[K");
            if (g.json) writeLine(io.stdout, JSON.stringify({ file, ...r }));
            else writeLine(io.stdout, summary(file, r));
            for (const w of r.warnings ?? [])
              writeLine(io.stderr, `warning[${w.code}]: ${file}: ${w.message}`);
          } catch (e) {
            if (progress) io.stderr.write("\r\x1b[K");
            const ve = fileError(e);
            // Subject-level failures are not per file: stop the batch.
            if (
              ve.code === "SUBJECT_NOT_FOUND" ||
              ve.code === "SUBJECT_SHREDDED" ||
              ve.code === "SHRED_PENDING" ||
              ve.code === "INVALID_ARGUMENT"
            )
              throw ve;
            failed++;
            writeLine(
              io.stderr,
              `error[${ve.code}]: ${file}: ${ve.code === "INTERNAL" ? "unexpected internal error" : ve.message}`,
            );
            if (g.json)
              writeLine(io.stdout, JSON.stringify({ file, error: { code: ve.code, message: ve.message } }));
          }
        }
      });
      if (failed > 0) throw new VaultError("INGEST_FAILED", `${failed} of ${files.length} files failed`);
    });

  program
    .command("verify-speaker <file>")
    .description("compare a new recording with the subject's enrolled templates (protected domain)")
    .requiredOption("--subject <id>")
    .option("--track <n>", "which audio track of a multi-track file to take, from 1")
    .option("--channel <n>", "analyse only this channel, from 1")
    .action(async (file: string, o: { subject: string; track?: string; channel?: string }) => {
      const g = globals();
      const audioTrack = parseIndex(o.track);
      const channel = parseIndex(o.channel, "--channel");
      await withVault(io, g, async (v) => {
        const r = await v.recordings.verifySpeaker({
          subjectId: o.subject,
          source: file === "-" ? readStdin(io) : await openInput(io, file),
          ...(audioTrack !== undefined ? { audioTrack } : {}),
          ...(channel !== undefined ? { channel } : {}),
        });
        const voices = r.speakers
          ? {
              speakers: r.speakers,
              segments: r.segments ?? [],
              proxySuspected: r.proxySuspected ?? false,
              proxyTurns: r.proxyTurns ?? [],
            }
          : {};
        output(io, g, { score: r.score, threshold: r.threshold, match: r.match, ...voices }, () => {
          const lines = [
            `${r.match ? "MATCH" : "NO MATCH"}: score ${r.score.toFixed(4)} (threshold ${r.threshold.toFixed(4)}, ${r.templates} enrolled templates)`,
          ];
          const several = (r.speakers ?? []).filter((v) => v.score !== null).length >= 2;
          if (several && r.speakers) {
            r.speakers.forEach((v, i) => {
              if (v.score === null) return;
              const who = v.staff ? "staff" : v.match ? "the subject" : "NOT the subject";
              lines.push(`  voice ${i}: ${v.speakingSec.toFixed(1)} s, score ${v.score.toFixed(4)}: ${who}`);
            });
          }
          if (r.proxySuspected) {
            const times = (r.proxyTurns ?? []).map((s) => `${fmtTime(s.start)}-${fmtTime(s.end)}`);
            lines.push(`PROXY SUSPECTED: another voice answered at ${times.join(", ")}`);
          }
          return lines;
        });
      });
    });

  const recording = program.command("recording").description("ingested recordings");
  recording
    .command("list")
    .requiredOption("--subject <id>")
    .action(async (o: { subject: string }) => {
      const g = globals();
      await withVault(io, g, async (v) => {
        const list = await v.recordings.recordings(o.subject);
        output(io, g, { recordings: list }, () =>
          list.length
            ? list.map((r) => `${r.id}  ${r.createdAt}  ${r.durationSec.toFixed(1)} s`)
            : ["no recordings"],
        );
      });
    });

  const derivation = program.command("derivation").description("what was kept of recordings");
  derivation
    .command("list")
    .option("--subject <id>")
    .option("--recording <id>")
    .option("--name <name>", `one of ${DERIVATION_NAMES.join(", ")}`)
    .action(async (o: { subject?: string; recording?: string; name?: string }) => {
      const g = globals();
      if (!o.subject && !o.recording) throw new VaultError("USAGE", "give --subject or --recording");
      if (o.name !== undefined && !DERIVATION_NAMES.includes(o.name as DerivationName)) {
        throw new VaultError("USAGE", `--name must be one of ${DERIVATION_NAMES.join(", ")}`);
      }
      await withVault(io, g, async (v) => {
        const list = await v.recordings.derivations({
          ...(o.subject ? { subjectId: o.subject } : {}),
          ...(o.recording ? { recordingId: o.recording } : {}),
          ...(o.name ? { name: o.name as DerivationName } : {}),
        });
        output(io, g, { derivations: list }, () =>
          list.length
            ? list.map(
                (d) =>
                  `${d.id}  ${d.name}  ${d.class}  recipe v${d.recipe.version}  blob ${d.blobId}${d.expiresAt ? `  expires ${d.expiresAt}` : ""}`,
              )
            : ["no derivations"],
        );
      });
    });

  derivation
    .command("get <id>")
    .description(
      "a derivation's content, under the serving rules: recorded as served; reconstructable material needs --breakglass",
    )
    .option("--out <file>", "write the content to this new file (mode 0600); required for binary kinds")
    .option("--breakglass <id>", "an approved break-glass request of this operator")
    .action(async (id: string, o: { out?: string; breakglass?: string }) => {
      const g = globals();
      await withVault(io, g, async (v) => {
        const { localOperator } = await import("../../access/serving.js");
        const served = await v.access.serving.read({
          requester: localOperator(v.actor.id),
          derivationId: id,
          breakglass: o.breakglass,
        });
        if (o.out === undefined && served.contentType !== "application/json")
          throw new VaultError("USAGE", `${served.name} is ${served.contentType}: give --out <file>`);
        const chunks: Uint8Array[] = [];
        for await (const c of served.stream) chunks.push(c);
        const bytes = Buffer.concat(chunks);
        if (o.out === undefined) {
          writeLine(io.stdout, bytes.toString("utf8"));
          return;
        }
        const out = path.resolve(io.cwd, o.out);
        // "wx": never overwrite, never follow a symlink planted at the target
        await fs.writeFile(out, bytes, { mode: 0o600, flag: "wx" }).catch((e: unknown) => {
          throw new VaultError("USAGE", `cannot write ${out} (it must not exist yet)`, { cause: e });
        });
        output(io, g, { id: served.id, name: served.name, bytes: served.bytes, file: out }, () => [
          `wrote ${served.bytes} bytes of ${served.name} to ${out}`,
        ]);
      });
    });

  const retention = program.command("retention").description("retention of reconstructable material");
  retention
    .command("sweep")
    .description("cryptographically erase reconstructable material whose retention ended")
    .action(async () => {
      const g = globals();
      await withVault(io, g, async (v) => {
        const r = await v.retention.sweep();
        output(io, g, r, () => [
          r.epochsDestroyed.length
            ? `erased ${r.blobsRemoved} blobs of ${r.epochsDestroyed.length} expired retention days (${r.epochsDestroyed.join(", ")}); their keys' root points punctured`
            : "no retention day has expired",
          ...(r.uploadsExpired > 0
            ? [
                `failed ${r.uploadsExpired} uploads abandoned before their last chunk (RETENTION_EXPIRED); their parts deleted`,
              ]
            : []),
        ]);
      });
    });
}

/**
 * A progress line on the terminal: seconds decoded, and with a declared duration the percentage,
 * the speed (× real time) and the time left; redrawn at most five times a second.
 */
function progressLine(io: CliIo, name: string): (seconds: number, totalSec: number | undefined) => void {
  const started = performance.now();
  let last = 0;
  return (seconds, totalSec) => {
    const now = performance.now();
    if (now - last < 200) return;
    last = now;
    const elapsed = (now - started) / 1000;
    const rate = elapsed > 0 ? seconds / elapsed : 0;
    let line = `${name}: ${seconds.toFixed(0)} s decoded`;
    if (totalSec !== undefined && totalSec > 0 && rate > 0) {
      const pct = Math.min(100, (100 * seconds) / totalSec);
      const eta = Math.max(0, (totalSec - seconds) / rate);
      line = `${name}: ${pct.toFixed(0)} % of ${totalSec.toFixed(0)} s, ${rate.toFixed(0)}× real time, ${eta.toFixed(0)} s left`;
    } else if (rate > 0) line += `, ${rate.toFixed(0)}× real time`;
    io.stderr.write(`\r${line}\x1b[K`);
  };
}

function fmtTime(sec: number): string {
  const m = Math.floor(sec / 60);
  return `${m}:${(sec - m * 60).toFixed(1).padStart(4, "0")}`;
}

/** `--track N` / `--channel N` (1-based, as people count) to a 0-based index. */
function parseIndex(n: string | undefined, flag = "--track"): number | undefined {
  if (n === undefined) return undefined;
  if (!/^[1-9][0-9]{0,2}$/.test(n)) throw new VaultError("USAGE", `${flag} takes a number from 1`);
  return Number(n) - 1;
}

/** Standard input as the recording: a pipe, a file or a terminal; read errors are FILE_UNREADABLE. */
function readStdin(io: CliIo): AsyncIterable<Uint8Array> {
  const stream = io.stdin;
  return (async function* () {
    try {
      for await (const chunk of stream) {
        yield typeof chunk === "string" ? new TextEncoder().encode(chunk) : (chunk as Uint8Array);
      }
    } catch (e) {
      throw unreadable(e);
    }
  })();
}

/**
 * Opens an input file before anything reads it, so a missing file, a directory or a permission
 * problem is that file's FILE_UNREADABLE (the batch goes on), not an unhandled stream error.
 * Read errors later in the stream get the same code. Messages name the file as given, not the
 * absolute path.
 */
async function openInput(io: CliIo, file: string): Promise<AsyncIterable<Uint8Array>> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(path.resolve(io.cwd, file), "r");
    if (!(await handle.stat()).isFile()) throw new VaultError("FILE_UNREADABLE", "not a regular file");
  } catch (e) {
    await handle?.close();
    throw unreadable(e);
  }
  const stream = handle.createReadStream();
  return (async function* () {
    try {
      for await (const chunk of stream) yield chunk as Uint8Array;
    } catch (e) {
      throw unreadable(e);
    } finally {
      stream.destroy();
    }
  })();
}

const WHY: Readonly<Record<string, string>> = {
  ENOENT: "no such file",
  EISDIR: "is a directory",
  EACCES: "permission denied",
  EPERM: "permission denied",
  ELOOP: "too many symbolic links",
  ENAMETOOLONG: "file name too long",
};

function unreadable(e: unknown): VaultError {
  if (e instanceof VaultError) return e;
  const code = (e as { code?: unknown }).code;
  return new VaultError(
    "FILE_UNREADABLE",
    typeof code === "string" ? (WHY[code] ?? `cannot read (${code})`) : "cannot read",
  );
}

function fileError(e: unknown): VaultError {
  return asVaultError(e);
}
