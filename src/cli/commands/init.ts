import path from "node:path";
import type { Command } from "commander";
import { VaultError } from "../../errors.js";
import { parseDuration } from "../../vault/duration.js";
import { output, readPassphrase, resolveDataDir, type GlobalOptions } from "../context.js";
import type { CliIo } from "../io.js";

function checkTtl(s: string): string {
  if (parseDuration(s) <= 0)
    throw new VaultError("USAGE", "retention must be a positive duration such as 30d");
  return s;
}

export function registerInit(program: Command, io: CliIo, globals: () => GlobalOptions): void {
  program
    .command("init")
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
      async (o: {
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
      }) => {
        const g = globals();
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
        const { initVault, defaultKeyFile, ensureServerTls } = await import("../runtime.js");
        const vault = await initVault({
          dataDir: resolveDataDir(io, g),
          keyFile: g.keyFile ? path.resolve(io.cwd, g.keyFile) : undefined,
          passphrase,
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
          const keyFile = vault.config.keyProvider.file ?? defaultKeyFile(vault.id, io.env);
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
              `  root key:       ${keyFile} (${vault.config.keyProvider.kind}; keep it apart from backups of the data directory)`,
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
