/**
 * The throwaway S3 service (scripts/s3-throwaway.sh: Ceph RGW on loopback). Tests that need it
 * skip with a reason when VOXVAULT_TEST_S3_ENDPOINT is not set, or fail under VOXVAULT_REQUIRE_TOOLS=1.
 */
import { randomBytes } from "node:crypto";
import {
  CreateBucketCommand,
  PutPublicAccessBlockCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectVersionsCommand,
  ListMultipartUploadsCommand,
  AbortMultipartUploadCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import type { S3Config } from "../../src/store/blob/s3/config.js";
import { need } from "./tools.js";

const E = process.env;
export const S3_ENDPOINT = E.VOXVAULT_TEST_S3_ENDPOINT;
export const HAVE_S3 = need(
  "S3 (Ceph RGW)",
  S3_ENDPOINT !== undefined,
  "VOXVAULT_TEST_S3_ENDPOINT is not set (eval $(scripts/s3-throwaway.sh start))",
);

/** The environment a vault reads S3 credentials from. */
export function s3Env(other = false): NodeJS.ProcessEnv {
  return {
    VOXVAULT_S3_ACCESS_KEY_ID: other
      ? E.VOXVAULT_TEST_S3_OTHER_ACCESS_KEY_ID
      : E.VOXVAULT_TEST_S3_ACCESS_KEY_ID,
    VOXVAULT_S3_SECRET_ACCESS_KEY: other
      ? E.VOXVAULT_TEST_S3_OTHER_SECRET_ACCESS_KEY
      : E.VOXVAULT_TEST_S3_SECRET_ACCESS_KEY,
  };
}

export function testClient(other = false): S3Client {
  const env = s3Env(other);
  return new S3Client({
    region: E.VOXVAULT_TEST_S3_REGION ?? "us-east-1",
    endpoint: S3_ENDPOINT!,
    forcePathStyle: true,
    credentials: {
      accessKeyId: env.VOXVAULT_S3_ACCESS_KEY_ID!,
      secretAccessKey: env.VOXVAULT_S3_SECRET_ACCESS_KEY!,
    },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/**
 * The bucket-level public-access block, with BlockPublicAcls off: Debian's RGW 16 refuses every
 * PutObject while it is on (a Ceph bug; AWS, MinIO and later RGW take all four).
 */
export async function blockPublicAccess(client: S3Client, bucket: string): Promise<void> {
  await client.send(
    new PutPublicAccessBlockCommand({
      Bucket: bucket,
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: false,
        IgnorePublicAcls: true,
        BlockPublicPolicy: true,
        RestrictPublicBuckets: true,
      },
    }),
  );
}

/** A fresh bucket and the vault.json entry that uses it; `drop` empties and removes it. */
export async function freshBucket(): Promise<{ config: S3Config; client: S3Client; drop(): Promise<void> }> {
  const client = testClient();
  const bucket = `vv-${randomBytes(6).toString("hex")}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  await blockPublicAccess(client, bucket); // as every vault bucket must be (the vault refuses others)
  return {
    client,
    config: {
      driver: "s3",
      bucket,
      region: E.VOXVAULT_TEST_S3_REGION ?? "us-east-1",
      endpoint: S3_ENDPOINT!,
      forcePathStyle: true,
      partSizeMiB: 5,
      // Debian's RGW 16 ignores If-None-Match on CompleteMultipartUpload (AWS, MinIO, R2 honour it)
      conditionalMultipart: process.env.VOXVAULT_TEST_S3_CONDITIONAL_MULTIPART === "1",
    },
    async drop() {
      const ups = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      for (const u of ups.Uploads ?? [])
        await client.send(
          new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key!, UploadId: u.UploadId! }),
        );
      const v = await client.send(new ListObjectVersionsCommand({ Bucket: bucket }));
      const all = [...(v.Versions ?? []), ...(v.DeleteMarkers ?? [])].map((o) => ({
        Key: o.Key!,
        VersionId: o.VersionId,
      }));
      if (all.length)
        await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: all } }));
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
      client.destroy();
    },
  };
}
