import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EcrRepository } from '@cdktf/provider-aws/lib/ecr-repository/index.js';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key/index.js';
import { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block/index.js';
import { S3BucketServerSideEncryptionConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration/index.js';
import { S3BucketVersioningA } from '@cdktf/provider-aws/lib/s3-bucket-versioning/index.js';
import { RECORDINGS_PREFIX } from '../src/params.js';
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
    expect(resource(s.json, 'aws_s3_bucket', 'recordings').bucket).toBe('arogya-staging-recordings-123456789012');
  });

  it('aborts incomplete multipart uploads and expires recordings after the retention', () => {
    const rules = resource(s.json, 'aws_s3_bucket_lifecycle_configuration', 'recordings').rule as Record<string, any>[];
    expect(rules.find((r) => r.id === 'abort-incomplete-multipart-uploads')).toMatchObject({ status: 'Enabled', filter: [{ prefix: '' }], abort_incomplete_multipart_upload: [{ days_after_initiation: 1 }] });
    expect(rules.find((r) => r.id === 'expire-recordings')).toMatchObject({ status: 'Enabled', filter: [{ prefix: 'recordings/' }], expiration: [{ days: 90 }], noncurrent_version_expiration: [{ noncurrent_days: 30 }] });
  });

  it('expires deleted checkpoints\' old versions after 1 day and orphaned checkpoints after 14 days, on the key prefix the service writes them under', () => {
    // The key layout comes from the service: `${S3_PREFIX}checkpoints/<uuid>` (src/recordings/checkpoints.ts).
    const source = fs.readFileSync(new URL('../../src/recordings/checkpoints.ts', import.meta.url), 'utf8');
    expect(source).toContain('objectKey: `${this.d.store.prefix}checkpoints/${randomUUID()}`');
    const rules = resource(s.json, 'aws_s3_bucket_lifecycle_configuration', 'recordings').rule as Record<string, any>[];
    const rule = rules.find((r) => r.filter?.[0]?.prefix === `${RECORDINGS_PREFIX}checkpoints/`);
    expect(rule).toMatchObject({ status: 'Enabled', expiration: [{ days: 14 }], noncurrent_version_expiration: [{ noncurrent_days: 1 }] });
    // Deleted checkpoints must go sooner than the recordings' 30 days, and orphans long after a session (30 min) and its recovery.
    expect(rule!.noncurrent_version_expiration[0].noncurrent_days).toBeLessThan(30);
    expect(rule!.expiration[0].days).toBeGreaterThanOrEqual(7);
    // Lifecycle accepts at most 1000 rules and S3 refuses two rules with the same id.
    expect(new Set(rules.map((r) => r.id)).size).toBe(rules.length);
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
