/**
 * The vault's bucket, checked from outside the way an attacker would look at it: public through
 * its policy or its ACL, no public-access block, no TLS-only policy, versions that nothing
 * expires, no access logging. Each problem names the Prowler S3 check it corresponds to.
 * `refuses` problems stop the vault from opening (INSECURE_CONFIG); the others are reported by
 * `voxvault doctor`.
 */
import {
  GetBucketAclCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketLoggingCommand,
  GetBucketPolicyCommand,
  GetBucketPolicyStatusCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { VaultError } from "../../../errors.js";
import type { PostureProblem } from "../types.js";
import { errorName, httpStatus } from "./errors.js";

export interface BucketProblem extends PostureProblem {
  /** The vault refuses to open on this bucket. */
  readonly refuses: boolean;
}

const EVERYONE = new Set([
  "http://acs.amazonaws.com/groups/global/AllUsers",
  "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
]);

type Outcome<T> =
  { ok: true; value: T } | { ok: false; missing: boolean; unsupported: boolean; error: unknown };

async function ask<T>(p: Promise<T>, missingNames: readonly string[] = []): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await p };
  } catch (e) {
    const name = errorName(e);
    const status = httpStatus(e);
    return {
      ok: false,
      missing: missingNames.includes(name),
      unsupported: status === 501 || name === "NotImplemented" || name === "MethodNotAllowed",
      error: e,
    };
  }
}

function cannotCheck(bucket: string, what: string, e: unknown): VaultError {
  return new VaultError(
    "INSECURE_CONFIG",
    `cannot check that bucket ${bucket} is private (${what}: ${errorName(e)}); let the vault's credentials read it (s3:GetBucketPolicyStatus, s3:GetBucketAcl, s3:GetBucketPublicAccessBlock, s3:GetBucketPolicy)`,
    { cause: e },
  );
}

interface Statement {
  readonly Effect?: string;
  readonly Principal?: unknown;
  readonly Action?: string | string[];
  readonly Condition?: Record<string, Record<string, unknown>>;
}

function toArray<T>(x: T | T[] | undefined): T[] {
  return x === undefined ? [] : Array.isArray(x) ? x : [x];
}

function anyone(principal: unknown): boolean {
  if (principal === "*") return true;
  const aws = (principal as { AWS?: unknown } | undefined)?.AWS;
  return toArray(aws as string | string[] | undefined).includes("*");
}

const WRITE = /^(\*|s3:\*|s3:Put.*|s3:Delete.*|s3:Abort.*|s3:Restore.*)$/i;

/** Everything `doctor` reports about the bucket; the vault refuses to open on `refuses` ones. */
export async function bucketPosture(client: S3Client, bucket: string): Promise<BucketProblem[]> {
  const out: BucketProblem[] = [];
  const B = { Bucket: bucket };

  const status = await ask(client.send(new GetBucketPolicyStatusCommand(B)), ["NoSuchBucketPolicy"]);
  if (!status.ok && !status.missing && !status.unsupported)
    throw cannotCheck(bucket, "policy status", status.error);
  const policy = await ask(client.send(new GetBucketPolicyCommand(B)), ["NoSuchBucketPolicy"]);
  if (!policy.ok && !policy.missing && !policy.unsupported) throw cannotCheck(bucket, "policy", policy.error);
  let statements: Statement[] = [];
  if (policy.ok && policy.value.Policy) {
    try {
      statements = toArray(
        (JSON.parse(policy.value.Policy) as { Statement?: Statement | Statement[] }).Statement,
      );
    } catch {
      statements = [];
    }
  }
  const publicAllows = statements.filter((s) => s.Effect === "Allow" && anyone(s.Principal) && !s.Condition);
  if ((status.ok && status.value.PolicyStatus?.IsPublic) || publicAllows.length > 0) {
    const writes = publicAllows.some((s) => toArray(s.Action).some((a) => WRITE.test(a)));
    out.push({
      rule: writes ? "storage.public-write-policy" : "storage.public-policy",
      severity: "critical",
      prowler: writes ? "s3_bucket_policy_public_write_access" : "s3_bucket_public_access",
      what: `bucket ${bucket}'s policy grants access to anyone${writes ? ", including writes" : ""}`,
      why: "a public bucket is how the 4 TB of voice in the breach were taken",
      fix: `remove the statements with "Principal": "*" from the bucket policy (aws s3api delete-bucket-policy --bucket ${bucket})`,
      refuses: true,
    });
  }

  const acl = await ask(client.send(new GetBucketAclCommand(B)));
  if (!acl.ok && !acl.unsupported) throw cannotCheck(bucket, "ACL", acl.error);
  if (acl.ok) {
    const grants = (acl.value.Grants ?? []).filter((g) => EVERYONE.has(g.Grantee?.URI ?? ""));
    const perms = new Set(grants.map((g) => g.Permission ?? ""));
    if (perms.has("READ") || perms.has("FULL_CONTROL"))
      out.push({
        rule: "storage.public-list-acl",
        severity: "critical",
        prowler: "s3_bucket_public_list_acl",
        what: `bucket ${bucket}'s ACL lets anyone list it`,
        why: "a listable bucket shows every object and when it was written, and invites downloads",
        fix: `aws s3api put-bucket-acl --bucket ${bucket} --acl private`,
        refuses: true,
      });
    if (perms.has("WRITE") || perms.has("WRITE_ACP") || perms.has("FULL_CONTROL"))
      out.push({
        rule: "storage.public-write-acl",
        severity: "critical",
        prowler: "s3_bucket_public_write_acl",
        what: `bucket ${bucket}'s ACL lets anyone write to it or change its ACL`,
        why: "anyone could delete or replace the vault's ciphertext, or open the bucket further",
        fix: `aws s3api put-bucket-acl --bucket ${bucket} --acl private`,
        refuses: true,
      });
  }

  const pab = await ask(client.send(new GetPublicAccessBlockCommand(B)), [
    "NoSuchPublicAccessBlockConfiguration",
  ]);
  if (!pab.ok && !pab.missing && !pab.unsupported)
    throw cannotCheck(bucket, "public access block", pab.error);
  if (!pab.ok ? pab.missing : true) {
    const c = pab.ok ? pab.value.PublicAccessBlockConfiguration : undefined;
    // What makes a public policy or ACL ineffective (Prowler's s3_bucket_level_public_access_block
    // asks for these two) is required; what only stops new ones being set is recommended (and
    // Ceph RGW 16 refuses every PutObject while BlockPublicAcls is on).
    const required = (["IgnorePublicAcls", "RestrictPublicBuckets"] as const).filter((k) => c?.[k] !== true);
    const recommended = (["BlockPublicAcls", "BlockPublicPolicy"] as const).filter((k) => c?.[k] !== true);
    if (required.length > 0)
      out.push({
        rule: "storage.no-public-access-block",
        severity: "high",
        prowler: "s3_bucket_level_public_access_block",
        what: `bucket ${bucket} has no public-access block that neutralises public policies and ACLs (off: ${required.join(", ")})`,
        why: "without it one mistaken policy or ACL makes the bucket public",
        fix: `aws s3api put-public-access-block --bucket ${bucket} --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true`,
        refuses: true,
      });
    else if (recommended.length > 0)
      out.push({
        rule: "storage.partial-public-access-block",
        severity: "medium",
        prowler: "s3_bucket_level_public_access_block",
        what: `bucket ${bucket}'s public-access block leaves ${recommended.join(", ")} off`,
        why: "public policies and ACLs are ignored, but can still be set, and look public to every other tool",
        fix: `turn ${recommended.join(" and ")} on (Ceph RGW before Reef refuses PutObject with BlockPublicAcls on: keep it off there)`,
        refuses: false,
      });
  }

  const tlsOnly = statements.some(
    (s) =>
      s.Effect === "Deny" &&
      anyone(s.Principal) &&
      Object.values(s.Condition ?? {}).some((cond) => {
        const v = cond["aws:SecureTransport"];
        return v === false || v === "false";
      }),
  );
  if (!tlsOnly)
    out.push({
      rule: "storage.no-tls-only-policy",
      severity: "medium",
      prowler: "s3_bucket_secure_transport_policy",
      what: `bucket ${bucket}'s policy does not deny requests without TLS`,
      why: "other clients of the bucket (backups, tools) may send credentials and data in the clear",
      fix: `add a statement {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::${bucket}","arn:aws:s3:::${bucket}/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}`,
      refuses: false,
    });

  const versioning = await ask(client.send(new GetBucketVersioningCommand(B)));
  if (versioning.ok && versioning.value.Status === "Enabled") {
    const lc = await ask(client.send(new GetBucketLifecycleConfigurationCommand(B)), [
      "NoSuchLifecycleConfiguration",
    ]);
    const expires =
      lc.ok &&
      (lc.value.Rules ?? []).some(
        (r) => r.Status === "Enabled" && r.NoncurrentVersionExpiration?.NoncurrentDays !== undefined,
      );
    if (!expires)
      out.push({
        rule: "storage.versions-never-expire",
        severity: "medium",
        what: `bucket ${bucket} keeps old versions and no lifecycle rule expires them`,
        why: "deleted ciphertext stays as old versions (undecryptable after a shred, but it piles up and shows what existed)",
        fix: `add a lifecycle rule with NoncurrentVersionExpiration (NoncurrentDays: 1) and ExpiredObjectDeleteMarker, or suspend versioning`,
        refuses: false,
      });
  }

  const logging = await ask(client.send(new GetBucketLoggingCommand(B)));
  if (logging.ok && !logging.value.LoggingEnabled)
    out.push({
      rule: "storage.access-logging-off",
      severity: "low",
      prowler: "s3_bucket_server_access_logging_enabled",
      what: `bucket ${bucket} has no server access logging`,
      why: "after a breach nobody can tell which objects were read, by whom",
      fix: `aws s3api put-bucket-logging --bucket ${bucket} --bucket-logging-status '{"LoggingEnabled":{"TargetBucket":"LOGS","TargetPrefix":"${bucket}/"}}'`,
      refuses: false,
    });
  return out;
}

/** At every open: the vault refuses a bucket that is or could silently become public. */
export async function refuseUnsafeBucket(client: S3Client, bucket: string): Promise<void> {
  const refused = (await bucketPosture(client, bucket)).filter((p) => p.refuses);
  if (refused.length > 0)
    throw new VaultError(
      "INSECURE_CONFIG",
      `refusing bucket ${bucket}: ${refused.map((p) => `${p.what} (fix: ${p.fix})`).join("; ")}`,
    );
}
