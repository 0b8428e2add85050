import path from "node:path";
import type { Command } from "commander";
import { VaultError } from "../../errors.js";
import { parseDuration } from "../../vault/duration.js";
import { output, readPassphrase, resolveDataDir, type GlobalOptions } from "../context.js";
import type { CliIo } from "../io.js";
import { addQuorumOptions, printShares, quorumFlags, writeShareFiles } from "./quorum.js";

function checkTtl(s: string): string {
  if (parseDuration(s) <= 0)
    throw new VaultError("USAGE", "retention must be a positive duration such as 30d");
  return s;
}

export function registerInit(program: Command, io: CliIo, globals: () => GlobalOptions): void {
  const cmd = program.command("init");
  addQuorumOptions(cmd);
  addHsmOptions(cmd);
  cmd
    .description("create a vault: data directory, root key (outside it), metadata store")
    .option(
      "--seal",
      "seal the root key file under a passphrase (from --passphrase-file or VOXVAULT_PASSPHRASE_FILE, a 0600 file)",
    )
    .option(
      "--postgres <url>",
      "keep metadata in PostgreSQL (the URL is not stored; pass it again via VOXVAULT_PG_URL)",
    )
    .option("--pg-schema <name>", "PostgreSQL schema for this vault (default voxvault_<id>)")
    .option(
      "--s3-bucket <name>",
      "keep ciphertext in this S3 bucket (credentials: VOXVAULT_S3_ACCESS_KEY_ID/SECRET_ACCESS_KEY or the AWS chain)",
    )
    .option("--s3-region <region>", "the bucket's region", "us-east-1")
    .option("--s3-endpoint <url>", "an S3-compatible service (Ceph RGW, MinIO, R2); https except on loopback")
    .option("--s3-path-style", "path-style requests (RGW, MinIO)")
    .option("--s3-prefix <prefix/>", "a fixed key prefix, e.g. voxvault/")
    .option(
      "--no-s3-conditional-multipart",
      "the service ignores If-None-Match on multipart completion (RGW < Squid)",
    )
    .option("--tenant <name>", "default tenant", "default")
    .option(
      "--soft-delete-window <duration>",
      "delay shreds by this long, cancellable (e.g. 72h); default immediate",
      "0",
    )
    .option(
      "--retain-raw <duration>",
      "keep normalised raw audio, encrypted, for this long (default: discard on arrival)",
    )
    .option(
      "--retain-frames <duration>",
      "keep frame-level features, encrypted, for this long (default: discard)",
    )
    .option(
      "--onnx-embedder <model.onnx>",
      "use a WeSpeaker-style ONNX speaker model instead of the built-in embedder",
    )
    .action(
      async (
        o: {
          seal?: boolean;
          postgres?: string;
          pgSchema?: string;
          tenant: string;
          softDeleteWindow: string;
          retainRaw?: string;
          retainFrames?: string;
          onnxEmbedder?: string;
          s3Bucket?: string;
          s3Region: string;
          s3Endpoint?: string;
          s3PathStyle?: boolean;
          s3Prefix?: string;
          s3ConditionalMultipart: boolean;
          quorum?: string;
          officer?: string[];
          sharesDir?: string;
        } & HsmFlags,
      ) => {
        const g = globals();
        const hsm = o.hsm ? hsmOptions(io, o) : undefined;
        if (hsm && o.seal) throw new VaultError("USAGE", "--seal and --hsm exclude each other");
        let passphrase: string | undefined;
        if (o.seal) {
          passphrase = await readPassphrase(io, g);
          if (passphrase === undefined) {
            throw new VaultError(
              "USAGE",
              "--seal needs a passphrase: --passphrase-file FILE or VOXVAULT_PASSPHRASE_FILE",
            );
          }
        }
        const { initVault, defaultKeyFile, defaultHsmStateFile, ensureServerTls, newQuorum } =
          await import("../runtime.js");
        const q = quorumFlags(o);
        if (q && (hsm || o.seal)) throw new VaultError("USAGE", "--quorum excludes --seal and --hsm");
        // The vault id is not known before init: the quorum is made for it inside initVault's
        // key-file step, so the shares are written first into the new directory, then used.
        const made = q
          ? { threshold: q.threshold, officers: q.officers, dir: path.resolve(io.cwd, q.sharesDir) }
          : undefined;
        const vault = await initVault({
          quorum: made
            ? async (vaultId: string) => {
                const nq = newQuorum(vaultId, made.threshold, made.officers);
                const files = await writeShareFiles(made.dir, nq.shares);
                printShares(io, files, made.threshold);
                return nq;
              }
            : undefined,
          dataDir: resolveDataDir(io, g),
          keyFile: g.keyFile ? path.resolve(io.cwd, g.keyFile) : undefined,
          passphrase,
          hsm,
          postgres: o.postgres ? { url: o.postgres, schema: o.pgSchema } : undefined,
          storage: o.s3Bucket
            ? {
                driver: "s3",
                bucket: o.s3Bucket,
                region: o.s3Region,
                ...(o.s3Endpoint ? { endpoint: o.s3Endpoint } : {}),
                ...(o.s3PathStyle ? { forcePathStyle: true } : {}),
                ...(o.s3Prefix ? { prefix: o.s3Prefix } : {}),
                ...(o.s3ConditionalMultipart ? {} : { conditionalMultipart: false }),
              }
            : undefined,
          defaultTenant: o.tenant,
          softDeleteWindow: o.softDeleteWindow,
          abstraction: {
            retention: {
              raw: o.retainRaw ? { mode: "keep", ttl: checkTtl(o.retainRaw) } : { mode: "discard" },
              frames: o.retainFrames ? { mode: "keep", ttl: checkTtl(o.retainFrames) } : { mode: "discard" },
            },
            ...(o.onnxEmbedder
              ? { embedder: { kind: "onnx", model: path.resolve(io.cwd, o.onnxEmbedder) } }
              : {}),
          },
          env: io.env,
        });
        try {
          const kp = vault.config.keyProvider;
          const keyFile =
            kp.file ??
            (kp.kind === "pkcs11" ? defaultHsmStateFile(vault.id, io.env) : defaultKeyFile(vault.id, io.env));
          const tls = await ensureServerTls(vault);
          const admin = await vault.access.tokens.create({
            role: "admin",
            label: "bootstrap",
            ttlMs: 24 * 3_600_000,
          });
          output(
            io,
            g,
            {
              vaultId: vault.id,
              dataDir: vault.dataDir,
              keyFile,
              metadata: vault.metadataDialect,
              certificateSha256: tls.fingerprint,
              bootstrapAdminToken: admin.token,
              bootstrapAdminTokenExpiresAt: admin.info.expiresAt,
            },
            () => [
              `initialised vault ${vault.id}`,
              `  data directory: ${vault.dataDir}`,
              kp.kind === "pkcs11"
                ? `  root key:       in the HSM (${kp.keyLabel}/…); sealed state ${keyFile}`
                : `  root key:       ${keyFile} (${kp.kind}; keep it apart from backups of the data directory)`,
              `  metadata:       ${vault.metadataDialect}`,
              `  TLS certificate SHA-256: ${tls.fingerprint}`,
              `  bootstrap admin token (shown once, expires ${admin.info.expiresAt}):`,
              `    ${admin.token}`,
            ],
          );
        } finally {
          await vault.close();
        }
      },
    );
}

/** The token options of `init --hsm` and `keys migrate --to hsm`. */
export function addHsmOptions(cmd: Command): Command {
  return cmd
    .option(
      "--hsm <module.so>",
      "keep the root in an HSM through this PKCS#11 module; the PIN comes from --hsm-pin-file or the variable --hsm-pin-env names, never the command line",
    )
    .option("--hsm-token <label>", "the token's label")
    .option("--hsm-slot <id>", "the token's slot id (instead of --hsm-token)")
    .option(
      "--hsm-key-label <prefix>",
      "prefix of the vault's key labels on the token (default voxvault/<vault id>)",
    )
    .option("--hsm-pin-env <NAME>", "environment variable holding the PIN", "VOXVAULT_HSM_PIN")
    .option("--hsm-pin-file <file>", "a 0600 file holding the PIN (instead of --hsm-pin-env)");
}

export interface HsmFlags {
  hsm?: string;
  hsmToken?: string;
  hsmSlot?: string;
  hsmKeyLabel?: string;
  hsmPinEnv: string;
  hsmPinFile?: string;
}

export function hsmOptions(io: CliIo, o: HsmFlags) {
  if ((o.hsmToken === undefined) === (o.hsmSlot === undefined))
    throw new VaultError("USAGE", "--hsm needs the token: --hsm-token LABEL or --hsm-slot ID");
  if (o.hsmSlot !== undefined && !/^\d{1,10}$/.test(o.hsmSlot))
    throw new VaultError("USAGE", "--hsm-slot takes a slot id (a number)");
  return {
    module: path.resolve(io.cwd, o.hsm!),
    token: o.hsmToken !== undefined ? { label: o.hsmToken } : { slot: Number(o.hsmSlot) },
    ...(o.hsmKeyLabel ? { keyLabel: o.hsmKeyLabel } : {}),
    pin: o.hsmPinFile ? { file: path.resolve(io.cwd, o.hsmPinFile) } : { env: o.hsmPinEnv },
  };
}
