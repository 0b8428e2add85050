/** Consumer applications: each gets its own template key, so two consumers' datasets are unlinkable. */
import { recordEvent } from "../audit/record.js";
import { VaultError } from "../errors.js";
import type { Purpose } from "../ingest/config.js";
import { VAULT_APPLICATION } from "../vault/template-keys.js";
import type { VaultDeps } from "../vault/deps.js";
import { checkTenant } from "../vault/subjects.js";

export interface Application {
  readonly name: string;
  readonly tenant: string;
  readonly purposes: readonly string[];
  readonly createdAt: string;
}

type Deps = Pick<VaultDeps, "meta" | "actor" | "now" | "config"> & {
  readonly purposes: () => Readonly<Record<string, Purpose>>;
};

const NAME_RE = /^[a-z][a-z0-9-]{1,62}$/;

export function createApplicationService(deps: Deps) {
  return {
    async register(name: string, purposes: readonly string[], tenant?: string): Promise<Application> {
      if (!NAME_RE.test(name) || name === VAULT_APPLICATION) {
        throw new VaultError(
          "INVALID_ARGUMENT",
          "application name must match [a-z][a-z0-9-]{1,62} and not be 'vault'",
        );
      }
      const known = deps.purposes();
      if (purposes.length === 0)
        throw new VaultError("INVALID_ARGUMENT", "an application needs at least one purpose");
      for (const p of purposes) {
        if (!Object.hasOwn(known, p)) throw new VaultError("INVALID_ARGUMENT", `unknown purpose ${p}`);
      }
      const t = checkTenant(tenant ?? deps.config.defaultTenant);
      return deps.meta.write(async (trx) => {
        const existing = await trx
          .selectFrom("applications")
          .select("name")
          .where("name", "=", name)
          .executeTakeFirst();
        if (existing) throw new VaultError("CONFLICT", `application ${name} already exists`);
        const createdAt = deps.now().toISOString();
        await trx
          .insertInto("applications")
          .values({ name, tenant: t, purposes: JSON.stringify([...purposes]), created_at: createdAt })
          .execute();
        await recordEvent(trx, deps.actor, {
          type: "application.registered",
          application: name,
          purposes: [...purposes],
        });
        return { name, tenant: t, purposes: [...purposes], createdAt };
      });
    },

    async list(): Promise<Application[]> {
      const rows = await deps.meta.db.selectFrom("applications").selectAll().orderBy("name").execute();
      return rows.map((r) => ({
        name: r.name,
        tenant: r.tenant,
        purposes: JSON.parse(r.purposes) as string[],
        createdAt: r.created_at,
      }));
    },
  };
}

export type ApplicationService = ReturnType<typeof createApplicationService>;
