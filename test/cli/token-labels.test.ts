/**
 * Token labels (`token create --label`): shown by `token list` (text and JSON) and the API's token
 * list, recorded in the `token.created` event; bounded in length and characters; refused, not
 * silently dropped, where a role's principal is named by something else (subject, application).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PolicyEngine } from "../../src/policy/engine.js";
import { buildServer } from "../../src/server/app.js";
import { BACKENDS, sandbox, type Sandbox } from "../support/backends.js";
import { cliVault, type CliResult } from "../support/cli.js";

describe.each(BACKENDS)("token labels ($name)", (backend) => {
  let sb: Sandbox;
  let run: (...args: string[]) => Promise<CliResult>;
  let admin: string;
  beforeAll(async () => {
    sb = sandbox(backend);
    const made = await cliVault(sb);
    run = made.run;
    const init = made.init;
    expect(init.code, init.stderr).toBe(0);
    admin = (JSON.parse(init.stdout) as { bootstrapAdminToken: string }).bootstrapAdminToken;
  });
  afterAll(async () => {
    await sb.cleanup();
  });

  it("appear in token list, the API's list and the token.created event", async () => {
    const made = await run("--json", "token", "create", "--role", "operator", "--label", "alice laptop");
    expect(made.code, made.stderr).toBe(0);
    const { info } = JSON.parse(made.stdout) as { info: { id: string; label: string } };
    expect(info.label).toBe("alice laptop");

    const listed = JSON.parse((await run("--json", "token", "list")).stdout) as {
      tokens: { id: string; label: string }[];
    };
    expect(listed.tokens.find((t) => t.id === info.id)?.label).toBe("alice laptop");
    const text = (await run("token", "list")).stdout;
    expect(text.split("\n").find((l) => l.startsWith(info.id))).toContain("alice laptop");

    const events = (await run("--json", "audit", "events", "--type", "token.created")).stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { event: { tokenId: string; label?: string } });
    expect(events.find((e) => e.event.tokenId === info.id)?.event.label).toBe("alice laptop");

    const v = await sb.open();
    const app = await buildServer({ vault: v, engine: await PolicyEngine.load() });
    try {
      const r = await app.inject({
        method: "GET",
        url: "/v1/admin/tokens",
        headers: { authorization: `Bearer ${admin}` },
      });
      const api = r.json<{ tokens: { id: string; label: string }[] }>();
      expect(api.tokens.find((t) => t.id === info.id)?.label).toBe("alice laptop");
    } finally {
      await app.close();
      await v.close();
    }
  });

  it("are bounded, and refused where the principal is named by its subject or application", async () => {
    for (const label of ["x".repeat(65), "tab\there", "new\nline", "<script>", " leading-space"]) {
      const r = await run("token", "create", "--role", "operator", "--label", label);
      expect([r.code, r.stderr.split("]")[0]], JSON.stringify(label)).toEqual([1, "error[INVALID_ARGUMENT"]);
    }
    const sub = JSON.parse((await run("--json", "subject", "add", "--ref", "label-test")).stdout) as {
      id: string;
    };
    const r = await run("token", "create", "--role", "contractor", "--subject", sub.id, "--label", "bob");
    expect([r.code, r.stderr]).toEqual([1, expect.stringMatching(/^error\[INVALID_ARGUMENT\]: .*label/)]);
  });
});
