import { describe, expect, it } from 'vitest';
import { EcrRepository } from '@cdktf/provider-aws/lib/ecr-repository/index.js';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key/index.js';
import { S3BucketLifecycleConfiguration } from '@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration/index.js';
import { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block/index.js';
import { S3BucketServerSideEncryptionConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration/index.js';
import { S3BucketVersioningA } from '@cdktf/provider-aws/lib/s3-bucket-versioning/index.js';
import { resource, synthStack, testParams } from './support/stack.js';

describe('RecordingsBucket, EncryptionKey, ContainerRegistry', () => {
  const s = synthStack(testParams({ recordingRetentionDays: 90 }));
  const keyRef = expect.stringMatching(/^\$\{aws_kms_key\.recordings-key_\w+\.arn\}$/);

  it('uses customer KMS keys with rotation on', () => {
    expect(s.text).toHaveResourceWithProperties(KmsKey, { enable_key_rotation: true, description: expect.stringContaining('recordings') });
    for (const key of Object.values(s.json.resource['aws_kms_key']!)) expect(key.enable_key_rotation).toBe(true);
  });

  it('encrypts recordings with SSE-KMS and the recordings key by default', () => {
    expect(s.text).toHaveResourceWithProperties(S3BucketServerSideEncryptionConfigurationA, {
      rule: [{ apply_server_side_encryption_by_default: { sse_algorithm: 'aws:kms', kms_master_key_id: keyRef }, bucket_key_enabled: true }],
    });
  });

  it('blocks every kind of public access and keeps versions', () => {
    expect(s.text).toHaveResourceWithProperties(S3BucketPublicAccessBlock, {
      block_public_acls: true,
      block_public_policy: true,
      ignore_public_acls: true,
      restrict_public_buckets: true,
    });
    expect(s.text).toHaveResourceWithProperties(S3BucketVersioningA, { versioning_configuration: { status: 'Enabled' } });
    expect(resource(s.json, 'aws_s3_bucket').bucket).toBe('arogya-staging-recordings-123456789012');
  });

  it('aborts incomplete multipart uploads and expires recordings after the retention', () => {
    expect(s.text).toHaveResourceWithProperties(S3BucketLifecycleConfiguration, {
      rule: [
        { id: 'abort-incomplete-multipart-uploads', status: 'Enabled', abort_incomplete_multipart_upload: [{ days_after_initiation: 1 }] },
        { id: 'expire-recordings', status: 'Enabled', filter: [{ prefix: 'recordings/' }], expiration: [{ days: 90 }] },
      ],
    });
  });

  it('has an ECR repository that scans on push, with immutable tags and a lifecycle policy', () => {
    expect(s.text).toHaveResourceWithProperties(EcrRepository, {
      name: 'arogya-live-staging',
      image_tag_mutability: 'IMMUTABLE',
      image_scanning_configuration: { scan_on_push: true },
    });
    const policy = JSON.parse(resource(s.json, 'aws_ecr_lifecycle_policy').policy) as { rules: { selection: Record<string, unknown> }[] };
    expect(policy.rules.map((r) => r.selection)).toEqual([
      expect.objectContaining({ tagStatus: 'untagged', countType: 'sinceImagePushed' }),
      expect.objectContaining({ tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 30 }),
    ]);
  });
});
