import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { ROLES } from "../../access/roles.js";
import type { Role } from "../../store/meta/schema-access.js";
import { VaultError } from "../../errors.js";
import { parseDuration } from "../../vault/duration.js";
import { output, withVault, type GlobalOptions } from "../context.js";
import type { CliIo } from "../io.js";

export function registerAccess(program: Command, io: CliIo, globals: () => GlobalOptions): void {
  const token = program.command("token").description("API tokens (stored only as hashes)");
  token
    .command("create")
    .description("create a scoped, expiring token; the secret is printed once")
    .requiredOption("--role <role>", ROLES.join(" | "))
    .option(
      "--label <name>",
      "names the principal: an operator's handle (1-64 of A-Z a-z 0-9 space . _ @ -; shown in token list and the audit log)",
    )
    .option("--purpose <purpose...>", "consumer tokens: purposes")
    .option("--application <name>", "consumer tokens: the registered application")
    .option("--subject <id>", "contractor tokens: the subject")
    .option("--ttl <duration>", "lifetime, e.g. 1h, 30d (default from the vault's access config)")
    .action(
      async (o: {
        role: string;
        label?: string;
        purpose?: string[];
        application?: string;
        subject?: string;
        ttl?: string;
      }) => {
        const g = globals();
        if (!ROLES.includes(o.role as Role))
          throw new VaultError("USAGE", `--role must be one of ${ROLES.join(", ")}`);
        await withVault(io, g, async (v) => {
          const { token: secret, info } = await v.access.tokens.create({
            role: o.role as Role,
            label: o.label,
            purposes: o.purpose,
            application: o.application,
            subjectId: o.subject,
            ttlMs: o.ttl ? parseDuration(o.ttl) : undefined,
          });
          output(io, g, { token: secret, info }, () => [
            secret,
            `  ${info.id} (${info.role}) expires ${info.expiresAt}; shown once`,
          ]);
        });
      },
    );
  token
    .command("list")
    .option("--all", "include revoked tokens")
    .action(async (o: { all?: boolean }) => {
      const g = globals();
      await withVault(io, g, async (v) => {
        const list = await v.access.tokens.list({ includeRevoked: o.all });
        output(io, g, { tokens: list }, () =>
          list.length
            ? list.map(
                (t) =>
                  `${t.id}  ${t.role}  ${JSON.stringify(t.label)}  ${t.kind}  expires ${t.expiresAt}${t.revokedAt ? `  revoked ${t.revokedAt}` : ""}  last used ${t.lastUsedAt ?? "never"}`,
              )
            : ["no tokens"],
        );
      });
    });
  token.command("revoke <id>").action(async (id: string) => {
    const g = globals();
    await withVault(io, g, async (v) => {
      const t = await v.access.tokens.revoke(id);
      output(io, g, t, () => [`revoked ${t.id}`]);
    });
  });

  const app = program.command("app").description("consumer applications");
  app
    .command("register <name>")
    .requiredOption("--purpose <purpose...>")
    .action(async (name: string, o: { purpose: string[] }) => {
      const g = globals();
      await withVault(io, g, async (v) => {
        const a = await v.access.applications.register(name, o.purpose);
        output(io, g, a, () => [`registered application ${a.name} for ${a.purposes.join(", ")}`]);
      });
    });
  app.command("list").action(async () => {
    const g = globals();
    await withVault(io, g, async (v) => {
      const list = await v.access.applications.list();
      output(io, g, { applications: list }, () =>
        list.length ? list.map((a) => `${a.name}  ${a.purposes.join(",")}`) : ["no applications"],
      );
    });
  });

  const consent = program.command("consent").description("consent texts, per purpose, versioned and hashed");
  consent
    .command("publish <purpose>")
    .description(
      "publish the purpose's next text version; every live grant of the purpose must be given again",
    )
    .requiredOption(
      "--text <lang=file...>",
      "the text in a language, from a UTF-8 file (e.g. en=consent-en.txt)",
    )
    .action(async (purpose: string, o: { text: string[] }) => {
      const g = globals();
      const texts: Record<string, string> = {};
      for (const spec of o.text) {
        const eq = spec.indexOf("=");
        if (eq <= 0) throw new VaultError("USAGE", `--text takes LANG=FILE, not ${spec}`);
        const lang = spec.slice(0, eq);
        if (Object.hasOwn(texts, lang)) throw new VaultError("USAGE", `--text names ${lang} twice`);
        texts[lang] = await readTextFile(spec.slice(eq + 1));
      }
      await withVault(io, g, async (v) => {
        const out = await v.access.consentTexts.publish(purpose, texts);
        output(io, g, out, () => [
          `published version ${out.version.version} of ${purpose}; ${out.superseded} grant(s) must be given again`,
          ...out.version.texts.map((t) => `  ${t.lang}  ${t.textHash}`),
        ]);
      });
    });
  consent
    .command("texts [purpose]")
    .description("the current text of every purpose, or every version of one")
    .action(async (purpose: string | undefined) => {
      const g = globals();
      await withVault(io, g, async (v) => {
        const versions = purpose
          ? await v.access.consentTexts.history(purpose)
          : await v.access.consentTexts.current();
        output(io, g, { versions }, () =>
          versions.length
            ? versions.flatMap((x) => [
                `${x.purpose} version ${x.version} (${x.publishedAt})`,
                ...x.texts.map((t) => `  ${t.lang}  ${t.textHash}`),
              ])
            : ["no consent texts"],
        );
      });
    });

  const policy = program.command("policy").description("Cedar authorization policies");
  policy
    .command("check <dir>")
    .description("validate the default policies plus DIR's .cedar files against the schema")
    .action(async (dir: string) => {
      const g = globals();
      const { checkPolicyDir } = await import("../../policy/engine.js");
      const r = await checkPolicyDir(dir);
      output(io, g, { valid: true, ...r }, () => [
        `valid: ${r.policies} policies (set ${r.hash.slice(0, 16)})`,
      ]);
    });
}

/**
 * A consent text file: strict UTF-8, CRLF line ends read as LF (the vault hashes LF-only text).
 * Anything else the vault refuses is left for it to refuse, with its message.
 */
async function readTextFile(file: string): Promise<string> {
  // Loaded here, not at the top: `voxvault --help` must not load the vault's modules (startup.test.ts).
  const { MAX_TEXT_BYTES } = await import("../../access/consent-texts.js");
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new VaultError("FILE_UNREADABLE", `${file}: ${(e as NodeJS.ErrnoException).code ?? "unreadable"}`);
  }
  if (bytes.length > MAX_TEXT_BYTES * 2)
    throw new VaultError("INVALID_ARGUMENT", `${file}: too large for a consent text`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new VaultError("INVALID_ARGUMENT", `${file}: not UTF-8 text`);
  }
  return text.replace(/\r\n/g, "\n");
}
