/**
 * The vault's bucket as an attacker would look at it, on a real RGW: a public policy, public
 * ACLs and a missing public-access block each stop the vault from opening (INSECURE_CONFIG,
 * naming what is wrong and the fix); weaker findings (no TLS-only policy, versions that never
 * expire, no access logging) go to `voxvault doctor` with their Prowler check. Each fixed state
 * passes.
 */
import {
  DeleteBucketPolicyCommand,
  DeletePublicAccessBlockCommand,
  PutBucketAclCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
} from "@aws-sdk/client-s3";
import { afterEach, describe, expect, it } from "vitest";
import { openS3Store } from "../../src/store/blob/s3/driver.js";
import { bucketPosture } from "../../src/store/blob/s3/posture.js";
import { blockPublicAccess, freshBucket, HAVE_S3, s3Env } from "../support/s3.js";

describe.runIf(HAVE_S3)("the vault's bucket posture (Ceph RGW)", () => {
  let bucket: Awaited<ReturnType<typeof freshBucket>>;
  afterEach(async () => {
    await bucket.drop();
  });

  const open = async () => {
    const store = await openS3Store(bucket.config, { env: s3Env() });
    return store;
  };
  const refusal = async () => {
    try {
      await open();
      return undefined;
    } catch (e) {
      return e as { code: string; message: string };
    }
  };
  const rules = async () =>
    (await bucketPosture(bucket.client, bucket.config.bucket)).map((p) => p.rule).sort();
  const policy = (statements: unknown[]) =>
    new PutBucketPolicyCommand({
      Bucket: bucket.config.bucket,
      Policy: JSON.stringify({ Version: "2012-10-17", Statement: statements }),
    });

  it("opens a private bucket with a full public-access block; doctor still lists the weaker findings", async () => {
    bucket = await freshBucket();
    const store = await open();
    const found = await store.posture!();
    expect(found.map((p) => [p.rule, p.severity, p.prowler])).toEqual([
      ["storage.partial-public-access-block", "medium", "s3_bucket_level_public_access_block"],
      ["storage.no-tls-only-policy", "medium", "s3_bucket_secure_transport_policy"],
      ["storage.access-logging-off", "low", "s3_bucket_server_access_logging_enabled"],
    ]);
    // A TLS-only policy clears the first.
    const b = bucket.config.bucket;
    await bucket.client.send(
      policy([
        {
          Effect: "Deny",
          Principal: "*",
          Action: "s3:*",
          Resource: [`arn:aws:s3:::${b}`, `arn:aws:s3:::${b}/*`],
          Condition: { Bool: { "aws:SecureTransport": "false" } },
        },
      ]),
    );
    expect(await rules()).toEqual(["storage.access-logging-off", "storage.partial-public-access-block"]);
    await open(); // a deny-only policy is no reason to refuse
  });

  it("refuses a bucket without a public-access block, and opens once it has one", async () => {
    bucket = await freshBucket();
    await bucket.client.send(new DeletePublicAccessBlockCommand({ Bucket: bucket.config.bucket }));
    const e = await refusal();
    expect(e?.code).toBe("INSECURE_CONFIG");
    expect(e?.message).toMatch(/no public-access block that neutralises.*put-public-access-block/);
    await blockPublicAccess(bucket.client, bucket.config.bucket);
    expect(await refusal()).toBeUndefined();
  });

  it("refuses a bucket whose policy lets anyone read, or write", async () => {
    bucket = await freshBucket();
    const b = bucket.config.bucket;
    await bucket.client.send(new DeletePublicAccessBlockCommand({ Bucket: b })); // else the policy is blocked
    await bucket.client.send(
      policy([
        { Effect: "Allow", Principal: "*", Action: ["s3:GetObject"], Resource: [`arn:aws:s3:::${b}/*`] },
      ]),
    );
    const found = await bucketPosture(bucket.client, b);
    expect(found.find((p) => p.rule === "storage.public-policy")).toMatchObject({
      severity: "critical",
      prowler: "s3_bucket_public_access",
      refuses: true,
    });
    expect((await refusal())?.message).toMatch(/policy grants access to anyone.*delete-bucket-policy/);
    await bucket.client.send(
      policy([
        { Effect: "Allow", Principal: { AWS: "*" }, Action: "s3:PutObject", Resource: `arn:aws:s3:::${b}/*` },
      ]),
    );
    expect(
      (await bucketPosture(bucket.client, b)).find((p) => p.rule === "storage.public-write-policy")?.prowler,
    ).toBe("s3_bucket_policy_public_write_access");
    await bucket.client.send(new DeleteBucketPolicyCommand({ Bucket: b }));
    await blockPublicAccess(bucket.client, b);
    expect(await refusal()).toBeUndefined();
  });

  it("refuses a bucket whose ACL lets anyone list it or write to it", async () => {
    bucket = await freshBucket();
    const b = bucket.config.bucket;
    await bucket.client.send(new DeletePublicAccessBlockCommand({ Bucket: b }));
    await bucket.client.send(new PutBucketAclCommand({ Bucket: b, ACL: "public-read" }));
    expect(await rules()).toContain("storage.public-list-acl");
    expect((await refusal())?.message).toMatch(/ACL lets anyone list it/);
    await bucket.client.send(new PutBucketAclCommand({ Bucket: b, ACL: "public-read-write" }));
    const found = await bucketPosture(bucket.client, b);
    expect(found.filter((p) => p.refuses).map((p) => p.prowler)).toEqual(
      expect.arrayContaining(["s3_bucket_public_list_acl", "s3_bucket_public_write_acl"]),
    );
    await bucket.client.send(new PutBucketAclCommand({ Bucket: b, ACL: "private" }));
    await blockPublicAccess(bucket.client, b);
    expect(await refusal()).toBeUndefined();
  });

  it("reports versions that nothing expires, until a lifecycle rule does", async () => {
    bucket = await freshBucket();
    const b = bucket.config.bucket;
    await bucket.client.send(
      new PutBucketVersioningCommand({ Bucket: b, VersioningConfiguration: { Status: "Enabled" } }),
    );
    expect(await rules()).toContain("storage.versions-never-expire");
    await bucket.client.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: b,
        LifecycleConfiguration: {
          Rules: [
            {
              ID: "expire-noncurrent",
              Status: "Enabled",
              Filter: { Prefix: "" },
              NoncurrentVersionExpiration: { NoncurrentDays: 1 },
            },
          ],
        },
      }),
    );
    expect(await rules()).not.toContain("storage.versions-never-expire");
    await open(); // versioning is a doctor finding, not a refusal
  });
});
