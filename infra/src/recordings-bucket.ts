import { Construct } from 'constructs';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket/index.js';
import { S3BucketLifecycleConfiguration } from '@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration/index.js';
import { S3BucketOwnershipControls } from '@cdktf/provider-aws/lib/s3-bucket-ownership-controls/index.js';
import { S3BucketPolicy } from '@cdktf/provider-aws/lib/s3-bucket-policy/index.js';
import { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block/index.js';
import { S3BucketServerSideEncryptionConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration/index.js';
import { S3BucketVersioningA } from '@cdktf/provider-aws/lib/s3-bucket-versioning/index.js';

export interface RecordingsBucketProps {
  readonly bucketName: string;
  readonly kmsKeyArn: string;
  readonly prefix: string;
  readonly retentionDays: number;
  /** Production keeps the bucket when the stack is destroyed with objects in it. */
  readonly forceDestroy: boolean;
}

/**
 * The recordings bucket: SSE-KMS with the customer key by default, no public access, TLS-only,
 * versioned, with incomplete multipart uploads aborted and recordings expired after the retention.
 */
export class RecordingsBucket extends Construct {
  readonly bucket: S3Bucket;

  constructor(scope: Construct, id: string, props: RecordingsBucketProps) {
    super(scope, id);
    this.bucket = new S3Bucket(this, 'bucket', { bucket: props.bucketName, forceDestroy: props.forceDestroy });
    const bucket = this.bucket.id;

    new S3BucketOwnershipControls(this, 'ownership', { bucket, rule: { objectOwnership: 'BucketOwnerEnforced' } });
    new S3BucketPublicAccessBlock(this, 'public-access', {
      bucket,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
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
      ],
    });

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
