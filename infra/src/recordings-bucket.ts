import { Construct } from 'constructs';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket/index.js';
import { S3BucketLoggingA } from '@cdktf/provider-aws/lib/s3-bucket-logging/index.js';
import { S3BucketLifecycleConfiguration } from '@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration/index.js';
import { privateBucket } from './private-bucket.js';
import { S3BucketPolicy } from '@cdktf/provider-aws/lib/s3-bucket-policy/index.js';
import { S3BucketServerSideEncryptionConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration/index.js';
import { S3BucketVersioningA } from '@cdktf/provider-aws/lib/s3-bucket-versioning/index.js';

export interface RecordingsBucketProps {
  readonly bucketName: string;
  readonly kmsKeyArn: string;
  readonly prefix: string;
  readonly retentionDays: number;
  /** Production keeps the bucket when the stack is destroyed with objects in it. */
  readonly forceDestroy: boolean;
  /** S3 server access logs of every request to this bucket go to this bucket, under this prefix. */
  readonly accessLogs: { readonly bucket: string; readonly prefix: string };
}

/**
 * Durable checkpoints (src/recordings/checkpoints.ts) are `<prefix>checkpoints/<uuid>` objects,
 * deleted by the service once the session's recording is stored. What lifecycle does with them:
 * - a deleted checkpoint's noncurrent version goes after 1 day (not the 30 days of recordings): a
 *   live session writes one every 5 s, ~115 MB per session-hour that are dead once the recording is
 *   stored (docs/recordings.md, cost table);
 * - a checkpoint still current after 14 days is an orphan: the session ran at most MAX_SESSION_MS
 *   (30 min) and a crashed one is continued by its client or by start-up recovery within minutes of
 *   a task starting; 14 days leave two weekends of outage or of a broken recovery release before the
 *   only copy of that audio goes, and cost pennies.
 * When the recordings rule also matches (same prefix), S3 applies whichever expiration is due first.
 */
export const CHECKPOINT_LIFECYCLE = { orphanDays: 14, noncurrentDays: 1 } as const;

/**
 * The recordings bucket: SSE-KMS with the customer key by default, no public access, TLS-only,
 * versioned, with incomplete multipart uploads aborted and recordings expired after the retention.
 */
export class RecordingsBucket extends Construct {
  readonly bucket: S3Bucket;

  constructor(scope: Construct, id: string, props: RecordingsBucketProps) {
    super(scope, id);
    this.bucket = privateBucket(this, { bucket: props.bucketName, forceDestroy: props.forceDestroy });
    const bucket = this.bucket.id;

    new S3BucketServerSideEncryptionConfigurationA(this, 'encryption', {
      bucket,
      rule: [
        {
          applyServerSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: props.kmsKeyArn },
          bucketKeyEnabled: true, // fewer KMS calls per object
        },
      ],
    });
    new S3BucketVersioningA(this, 'versioning', { bucket, versioningConfiguration: { status: 'Enabled' } });
    new S3BucketLifecycleConfiguration(this, 'lifecycle', {
      bucket,
      rule: [
        {
          id: 'abort-incomplete-multipart-uploads',
          status: 'Enabled',
          filter: [{ prefix: '' }],
          abortIncompleteMultipartUpload: [{ daysAfterInitiation: 1 }],
        },
        {
          id: 'expire-recordings',
          status: 'Enabled',
          filter: [{ prefix: props.prefix }],
          expiration: [{ days: props.retentionDays }],
          noncurrentVersionExpiration: [{ noncurrentDays: 30 }],
        },
        {
          id: 'expire-checkpoints',
          status: 'Enabled',
          filter: [{ prefix: `${props.prefix}checkpoints/` }],
          expiration: [{ days: CHECKPOINT_LIFECYCLE.orphanDays }],
          noncurrentVersionExpiration: [{ noncurrentDays: CHECKPOINT_LIFECYCLE.noncurrentDays }],
        },
      ],
    });
    // Who read, wrote or deleted which recording, and when (HIPAA audit controls); keys are UUIDs, no PHI.
    new S3BucketLoggingA(this, 'access-logs', { bucket, targetBucket: props.accessLogs.bucket, targetPrefix: props.accessLogs.prefix });

    const tlsOnly = new DataAwsIamPolicyDocument(this, 'tls-only', {
      statement: [
        {
          sid: 'DenyInsecureTransport',
          effect: 'Deny',
          principals: [{ type: '*', identifiers: ['*'] }],
          actions: ['s3:*'],
          resources: [this.bucket.arn, `${this.bucket.arn}/*`],
          condition: [{ test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] }],
        },
        // Only requests that carry an encryption header are judged: UploadPart and
        // CompleteMultipartUpload are authorised as s3:PutObject with no SSE header (the upload's
        // encryption applies), and a headerless PutObject gets the default key. An `...IfExists`
        // condition here denied every part upload (the IAM simulation test shows it).
        {
          sid: 'DenyAnotherKmsKey',
          effect: 'Deny',
          principals: [{ type: '*', identifiers: ['*'] }],
          actions: ['s3:PutObject'],
          resources: [`${this.bucket.arn}/*`],
          condition: [
            { test: 'StringNotEquals', variable: 's3:x-amz-server-side-encryption-aws-kms-key-id', values: [props.kmsKeyArn] },
            { test: 'Null', variable: 's3:x-amz-server-side-encryption-aws-kms-key-id', values: ['false'] },
          ],
        },
        {
          sid: 'DenyEncryptionOtherThanKms',
          effect: 'Deny',
          principals: [{ type: '*', identifiers: ['*'] }],
          actions: ['s3:PutObject'],
          resources: [`${this.bucket.arn}/*`],
          condition: [
            { test: 'StringNotEquals', variable: 's3:x-amz-server-side-encryption', values: ['aws:kms'] },
            { test: 'Null', variable: 's3:x-amz-server-side-encryption', values: ['false'] },
          ],
        },
      ],
    });
    new S3BucketPolicy(this, 'policy', { bucket, policy: tlsOnly.json });
  }
}
