import { describe, expect, it } from 'vitest';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket/index.js';
import { Testing } from 'cdktf';

describe('vitest cdktf matchers', () => {
  const text = Testing.synthScope((scope) => {
    new S3Bucket(scope, 'b', { bucket: 'one', tags: { a: '1', b: '2' } });
  });

  it('passes on a subset of properties, camelCase or snake_case, with asymmetric matchers', () => {
    expect(text).toHaveResourceWithProperties(S3Bucket, { bucket: 'one', tags: { a: '1' } });
    expect(text).toHaveResourceWithProperties(S3Bucket, { bucket: expect.stringMatching(/^o/), tags: { b: '2' } });
  });

  it('fails on a different value or a missing property', () => {
    expect(text).not.toHaveResourceWithProperties(S3Bucket, { bucket: 'two' });
    expect(text).not.toHaveResourceWithProperties(S3Bucket, { tags: { c: '3' } });
    expect(text).not.toHaveResourceWithProperties(S3Bucket, { object_lock_enabled: true });
    expect(() => expect(text).toHaveResourceWithProperties(S3Bucket, { bucket: 'two' })).toThrow(/aws_s3_bucket containing/);
  });
});
