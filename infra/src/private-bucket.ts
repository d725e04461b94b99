import type { Construct } from 'constructs';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket/index.js';
import { S3BucketOwnershipControls } from '@cdktf/provider-aws/lib/s3-bucket-ownership-controls/index.js';
import { S3BucketPublicAccessBlock } from '@cdktf/provider-aws/lib/s3-bucket-public-access-block/index.js';

/**
 * A bucket no ACL and no public policy can open: ACLs disabled (the bucket owner owns every object)
 * and all four public-access blocks on. Created in `scope` as `bucket`, `ownership` and
 * `public-access`, so the Terraform addresses are the construct's own.
 */
export function privateBucket(scope: Construct, props: { bucket: string; forceDestroy?: boolean }): S3Bucket {
  const created = new S3Bucket(scope, 'bucket', { bucket: props.bucket, forceDestroy: props.forceDestroy });
  const bucket = created.id;
  new S3BucketOwnershipControls(scope, 'ownership', { bucket, rule: { objectOwnership: 'BucketOwnerEnforced' } });
  new S3BucketPublicAccessBlock(scope, 'public-access', {
    bucket,
    blockPublicAcls: true,
    blockPublicPolicy: true,
    ignorePublicAcls: true,
    restrictPublicBuckets: true,
  });
  return created;
}
