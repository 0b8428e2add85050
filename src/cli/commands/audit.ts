/**
 * `voxvault audit …`: the audit events and their transparency log (docs/tlog.md §18). The
 * output shapes of `key`, `checkpoint`, `leaf --json`, `proof --json` and `consistency --json`
 * are what outside verifiers rely on: keep them stable.
 */
import { createWriteStream, promises as fs } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { VaultError } from "../../errors.js";
import { output, withVault, type GlobalOptions } from "../context.js";
import { writeLine, type CliIo } from "../io.js";

/** Loaded by the commands that run (docs/benchmarks.md, CLI start-up). */
const runtime = () => import("../runtime.js");

function int(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^(?:0|[1-9][0-9]*)$/.test(v) || !Number.isSafeInteger(Number(v))) {
    throw new VaultError("USAGE", `${name} takes a non-negative integer`);
  }
  return Number(v);
}

function need(name: string, v: string | undefined): number {
  const n = int(name, v);
  if (n === undefined) throw new VaultError("USAGE", `${name} is required`);
  return n;
}

async function readInput(io: CliIo, file: string | undefined): Promise<string> {
  if (file && file !== "-") {
    try {
      return await fs.readFile(path.resolve(io.cwd, file), "utf8");
    } catch (e) {
      throw new VaultError("INVALID_ARGUMENT", `cannot read ${file}`, { cause: e });
    }
  }
  const parts: Buffer[] = [];
  for await (const chunk of io.stdin) parts.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(parts).toString("utf8");
}

async function writeOutput(io: CliIo, file: string | undefined, text: string): Promise<void> {
  if (file && file !== "-") await fs.writeFile(path.resolve(io.cwd, file), text, { mode: 0o600 });
  else io.stdout.write(text);
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function registerAudit(program: Command, io: CliIo, globals: () => GlobalOptions): void {
  const audit = program.command("audit").description("the audit log and its transparency log");

  audit
    .command("events")
    .description("list recorded events (ids, never personal data)")
    .option("--subject <id>")
    .option("--type <type>")
    .option("--actor <actor>", "actor as <type>:<id>, e.g. cli:uid:1000")
    .option("--from <time>", "events at or after this ISO 8601 UTC time")
    .option("--to <time>", "events before this ISO 8601 UTC time")
    .option("--after <seq>", "only events after this sequence number")
    .option("--limit <n>", "", "1000")
    .action(
      async (o: {
        subject?: string;
        type?: string;
        actor?: string;
        from?: string;
        to?: string;
        after?: string;
        limit: string;
      }) => {
        const g = globals();
        const limit = Number(o.limit);
        const after = o.after === undefined ? undefined : Number(o.after);
        if (!Number.isInteger(limit) || limit < 1 || (after !== undefined && !Number.isInteger(after))) {
          throw new VaultError("USAGE", "--limit and --after take integers");
        }
        await withVault(io, g, async (v) => {
          const events = await v.audit.list({
            subjectId: o.subject,
            type: o.type,
            afterSeq: after,
            limit,
            actorId: o.actor,
            from: o.from,
            to: o.to,
          });
          if (g.json) {
            for (const e of events) io.stdout.write(JSON.stringify(e) + "\n");
            return;
          }
          output(io, g, null, () =>
            events.map((e) => {
              const { type, ...rest } = e.event;
              return `${e.seq}  ${e.at}  ${type}  ${e.actor.type}:${e.actor.id}  ${JSON.stringify(rest)}  leaf ${e.leafIndex ?? "-"}`;
            }),
          );
        });
      },
    );

  audit
    .command("key")
    .description("the log's verifier key: <name>+<hex key id>+<base64(0x01 || Ed25519 public key)>")
    .option("--all", "every key the log has used, with its status")
    .option("--rotate", "new signing key; the old one is destroyed, its public key stays listed")
    .action(async (o: { all?: boolean; rotate?: boolean }) => {
      const g = globals();
      await withVault(io, g, async (v) => {
        if (o.rotate) {
          const r = await v.log.rotateKey();
          output(io, g, r, () => [r.to.vkey, `(retired ${r.from.key})`]);
          return;
        }
        if (o.all) {
          const keys = await v.log.keys();
          output(io, g, keys, () => keys.map((k) => `${k.vkey}  ${k.status}  ${k.createdAt}`));
          return;
        }
        const k = await v.log.activeKey();
        output(io, g, k, () => [k.vkey]);
      });
    });

  audit
    .command("checkpoint")
    .description("the latest signed checkpoint note, exactly as served (signs a new one if the log grew)")
    .option("--no-refresh", "print the latest stored checkpoint without signing a new one")
    .action(async (o: { refresh: boolean }) => {
      await withVault(io, globals(), async (v) => {
        io.stdout.write(await v.log.checkpoint({ refresh: o.refresh }));
      });
    });

  audit
    .command("leaf <index>")
    .description('the exact bytes hashed as leaf N; --json: {"index":N,"data":"<base64>"}')
    .action(async (index: string) => {
      const g = globals();
      const n = need("index", index);
      await withVault(io, g, async (v) => {
        const data = await v.log.leaf(n);
        if (g.json) {
          const { toBase64 } = await runtime();
          writeLine(io.stdout, JSON.stringify({ index: n, data: toBase64(data) }));
        } else writeLine(io.stdout, new TextDecoder().decode(data));
      });
    });

  audit
    .command("proof")
    .description("RFC 9162 inclusion proof of leaf N at the latest checkpoint (or --size S)")
    .requiredOption("--index <n>")
    .option("--size <s>")
    .action(async (o: { index: string; size?: string }) => {
      const g = globals();
      const index = need("--index", o.index);
      const size = int("--size", o.size);
      await withVault(io, g, async (v) => {
        const p = await v.log.inclusionProof(index, size);
        output(io, g, p, () => [`leaf ${p.index} in tree of ${p.treeSize}:`, ...p.inclusion]);
      });
    });

  audit
    .command("consistency")
    .description("RFC 9162 consistency proof from tree size A to B (default: the latest checkpoint)")
    .requiredOption("--from <a>")
    .option("--to <b>")
    .action(async (o: { from: string; to?: string }) => {
      const g = globals();
      const from = need("--from", o.from);
      const to = int("--to", o.to);
      await withVault(io, g, async (v) => {
        const p = await v.log.consistencyProof(from, to);
        output(io, g, p, () => [`tree ${p.from} -> ${p.to}:`, ...p.consistency]);
      });
    });

  audit
    .command("verify")
    .description("recompute the log from the events and check it against every stored checkpoint")
    .option("--log-key <vkey>", "trust only this log key for checkpoints (repeatable)", collect, [])
    .action(async (o: { logKey: string[] }) => {
      const g = globals();
      await withVault(io, g, async (v) => {
        const r = await v.log.verify(o.logKey.length > 0 ? { trustedKeys: o.logKey } : {});
        output(io, g, r, () => [
          `log ${r.origin}: ${r.size} leaves, ${r.events} events, ${r.checkpoints} checkpoints (latest ${r.latestCheckpoint}), ` +
            `${r.cosignatures} cosignatures, ${r.anchors} anchors`,
          ...r.problems.map((p) => `  ${p.kind}${p.index === undefined ? "" : ` @${p.index}`}: ${p.message}`),
          ...(r.problemCount > r.problems.length
            ? [`  … and ${r.problemCount - r.problems.length} more`]
            : []),
          r.ok
            ? "OK: every event is in the log and every checkpoint matches"
            : `FAILED: ${r.problemCount} problems`,
        ]);
        if (!r.ok) {
          const first = r.problems[0]!;
          throw new VaultError(
            "LOG_INCONSISTENT",
            `audit log verification failed (${r.problemCount} problems; first: ${first.message})`,
          );
        }
      });
    });

  audit
    .command("subject <id>")
    .description("every event about a subject with inclusion proofs; --verify checks them client-side")
    .option("--verify", "verify the bundle as a contractor would (log key, proofs, commitments)")
    .option("--since-checkpoint <file>", "a checkpoint seen before: also prove the log only grew since")
    .option("--save-checkpoint <file>", "write the checkpoint the bundle is proven against")
    .option("--log-key <vkey>", "the log key to trust (default: the keys the vault lists)", collect, [])
    .action(
      async (
        id: string,
        o: { verify?: boolean; sinceCheckpoint?: string; saveCheckpoint?: string; logKey: string[] },
      ) => {
        const g = globals();
        const since = o.sinceCheckpoint === undefined ? undefined : await readInput(io, o.sinceCheckpoint);
        await withVault(io, g, async (v) => {
          const bundle = await v.log.subject(id, { since });
          if (o.saveCheckpoint) await writeOutput(io, o.saveCheckpoint, bundle.checkpoint);
          if (!o.verify) {
            output(io, g, bundle, () => [
              `${bundle.events.length} events about ${id} in ${bundle.origin}, proven against:`,
              ...bundle.checkpoint
                .trimEnd()
                .split("\n")
                .map((l) => `  ${l}`),
              ...bundle.events.map((e) => `leaf ${e.index}  ${e.record}`),
            ]);
            return;
          }
          const keys = o.logKey.length > 0 ? o.logKey : (await v.log.keys()).map((k) => k.vkey);
          const { verifySubjectBundle } = await import("../runtime.js");
          const r = verifySubjectBundle(bundle, keys, since);
          output(
            io,
            g,
            {
              verified: true,
              checkpointSize: r.checkpoint.size,
              consistentWith: r.consistentWith ?? null,
              events: r.events,
            },
            () => [
              ...r.events.map((e) => `leaf ${e.index}  ${e.at}  ${e.type}  verified`),
              `OK: ${r.events.length} events about ${id}, each included in checkpoint ${r.checkpoint.size}` +
                (r.consistentWith === undefined ? "" : `, which extends checkpoint ${r.consistentWith}`),
            ],
          );
        });
      },
    );

  audit
    .command("export")
    .description("events as OCSF JSON lines (with leaf index) to stdout, a file or a webhook")
    .option("--out <file>", "write to this file (mode 0600)")
    .option("--append", "append to --out instead of replacing it")
    .option("--webhook <url>", "POST batches as application/x-ndjson to this URL")
    .option("--from-index <n>", "first leaf index", "0")
    .option("--limit <n>", "at most this many events")
    .option("--batch <n>", "events per webhook request", "500")
    .action(
      async (o: {
        out?: string;
        append?: boolean;
        webhook?: string;
        fromIndex: string;
        limit?: string;
        batch: string;
      }) => {
        const g = globals();
        if (o.out && o.webhook) throw new VaultError("USAGE", "give --out or --webhook, not both");
        const fromIndex = need("--from-index", o.fromIndex);
        const limit = int("--limit", o.limit);
        const batch = need("--batch", o.batch);
        let url: URL | undefined;
        if (o.webhook) {
          try {
            url = new URL(o.webhook);
          } catch {
            throw new VaultError("INVALID_ARGUMENT", "--webhook is not a URL");
          }
          if (url.protocol !== "https:" && url.protocol !== "http:") {
            throw new VaultError("INVALID_ARGUMENT", "--webhook must be an http(s) URL");
          }
        }
        await withVault(io, g, async (v) => {
          let count = 0;
          const lines = v.log.exportOcsf({ fromIndex, limit });
          if (url) {
            let pending: string[] = [];
            const post = async () => {
              if (pending.length === 0) return;
              let res: Response;
              try {
                res = await fetch(url, {
                  method: "POST",
                  headers: { "content-type": "application/x-ndjson" },
                  body: pending.join("\n") + "\n",
                });
              } catch (e) {
                throw new VaultError("EXPORT_FAILED", `webhook ${url.origin} unreachable`, { cause: e });
              }
              if (!res.ok)
                throw new VaultError(
                  "EXPORT_FAILED",
                  `webhook answered HTTP ${res.status} after ${count} events`,
                );
              count += pending.length;
              pending = [];
            };
            for await (const line of lines) {
              pending.push(line);
              if (pending.length >= batch) await post();
            }
            await post();
          } else if (o.out && o.out !== "-") {
            const file = path.resolve(io.cwd, o.out);
            const stream = createWriteStream(file, { flags: o.append ? "a" : "w", mode: 0o600 });
            const failed = new Promise<never>((_, reject) =>
              stream.on("error", (e) => {
                reject(new VaultError("EXPORT_FAILED", `cannot write ${o.out}`, { cause: e }));
              }),
            );
            for await (const line of lines) {
              if (!stream.write(line + "\n"))
                await Promise.race([
                  new Promise<void>((r) =>
                    stream.once("drain", () => {
                      r();
                    }),
                  ),
                  failed,
                ]);
              count++;
            }
            await Promise.race([
              new Promise<void>((r) =>
                stream.end(() => {
                  r();
                }),
              ),
              failed,
            ]);
          } else {
            for await (const line of lines) {
              io.stdout.write(line + "\n");
              count++;
            }
            return;
          }
          output(io, g, { exported: count, to: url ? url.origin : o.out }, () => [
            `exported ${count} events from leaf ${fromIndex} to ${url ? url.origin : o.out}`,
          ]);
        });
      },
    );

  // --- the vault's witnesses ----------------------------------------------------------------
  const witnesses = audit.command("witnesses").description("witnesses that cosign this vault's checkpoints");
  witnesses
    .command("list")
    .description("configured witness keys and the latest checkpoint each cosigned")
    .action(async () => {
      const g = globals();
      await withVault(io, g, async (v) => {
        const list = await v.log.witnesses.list();
        output(io, g, list, () =>
          list.map((w) => `${w.vkey}  ${w.status}  cosigned up to ${w.cosignedSize}`),
        );
      });
    });
  witnesses
    .command("add <vkey>")
    .description("accept cosignatures by this witness key (cosignature/v1 vkey, type 0x04)")
    .action(async (vkey: string) => {
      const g = globals();
      await withVault(io, g, async (v) => {
        const key = await v.log.witnesses.add(vkey);
        output(io, g, { added: key }, () => [`witness ${key} added`]);
      });
    });
  witnesses
    .command("remove <key>")
    .description("stop accepting a witness's cosignatures (its past ones stay verifiable)")
    .action(async (key: string) => {
      const g = globals();
      await withVault(io, g, async (v) => {
        await v.log.witnesses.remove(key);
        output(io, g, { removed: key }, () => [`witness ${key} removed`]);
      });
    });
  witnesses
    .command("request <witness>")
    .description("a c2sp.org/tlog-witness add-checkpoint request body for the latest checkpoint")
    .option("--old-size <n>", "the witness's latest cosigned size (from its 409 answer)")
    .option("--out <file>", "write the request here instead of stdout")
    .action(async (witness: string, o: { oldSize?: string; out?: string }) => {
      const oldSize = int("--old-size", o.oldSize);
      await withVault(io, globals(), async (v) => {
        await writeOutput(io, o.out, await v.log.witnesses.request(witness, { oldSize }));
      });
    });
  witnesses
    .command("import [file]")
    .description("store the cosignature lines of a witness's answer (file or stdin)")
    .action(async (file: string | undefined) => {
      const g = globals();
      const body = await readInput(io, file);
      await withVault(io, g, async (v) => {
        const got = await v.log.witnesses.import(body);
        output(io, g, got, () =>
          got.map((c) => `cosignature by ${c.witness} on checkpoint ${c.size} (time ${c.timestamp})`),
        );
      });
    });

  // --- being a witness (no vault needed) -----------------------------------------------------
  const witness = audit
    .command("witness")
    .description("run a witness against a vault: cosign its checkpoints only if they extend what you saw");
  witness
    .command("init")
    .description("create a witness key in a state directory; prints its verifier key")
    .requiredOption("--state <dir>")
    .requiredOption("--name <name>", "witness name, e.g. witness.example.org/union")
    .action(async (o: { state: string; name: string }) => {
      const vkey = await (await runtime()).initWitness(path.resolve(io.cwd, o.state), o.name);
      output(io, globals(), { vkey }, () => [vkey]);
    });
  witness
    .command("trust <vkey>")
    .description("trust a log key (from `voxvault audit key`) for its origin")
    .requiredOption("--state <dir>")
    .option("--origin <origin>", "the log's origin line (default: the key name)")
    .action(async (vkey: string, o: { state: string; origin?: string }) => {
      const origin = await (await runtime()).trustLog(path.resolve(io.cwd, o.state), vkey, o.origin);
      output(io, globals(), { origin }, () => [`trusting ${vkey} for ${origin}`]);
    });
  witness
    .command("show")
    .description("the witness key and the latest checkpoint cosigned per log")
    .requiredOption("--state <dir>")
    .action(async (o: { state: string }) => {
      const info = await (await runtime()).witnessInfo(path.resolve(io.cwd, o.state));
      output(io, globals(), info, () => [
        info.vkey,
        ...info.logs.map((l) => `${l.origin}  cosigned up to ${l.size}`),
      ]);
    });
  witness
    .command("add-checkpoint [file]")
    .description("answer an add-checkpoint request (file or stdin) with cosignature lines on stdout")
    .requiredOption("--state <dir>")
    .action(async (file: string | undefined, o: { state: string }) => {
      const body = await readInput(io, file);
      const r = await (await runtime()).addCheckpoint(path.resolve(io.cwd, o.state), body);
      const { witnessErrorCode } = await import("../runtime.js");
      if (r.status === 200 || r.status === 409) io.stdout.write(r.body);
      if (r.status !== 200) {
        throw new VaultError(
          witnessErrorCode(r.status),
          `witness refused (HTTP ${r.status}): ${r.body.trim()}`,
          {
            details: { status: r.status },
          },
        );
      }
    });
}
