import { Construct } from 'constructs';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js';
import { KmsAlias } from '@cdktf/provider-aws/lib/kms-alias/index.js';
import { KmsKey } from '@cdktf/provider-aws/lib/kms-key/index.js';

export interface EncryptionKeyProps {
  readonly accountId: string;
  readonly alias: string;
  readonly description: string;
}

/**
 * A customer-managed symmetric KMS key with yearly automatic rotation. Its key policy is written
 * out (not left to AWS's default) so the infra tests simulate against what AWS will hold: it
 * delegates to the account's IAM policies, so only roles granted the key explicitly (the task role,
 * through S3 only) can use it, and the account can never lock itself out of the key.
 */
export class EncryptionKey extends Construct {
  readonly key: KmsKey;

  constructor(scope: Construct, id: string, props: EncryptionKeyProps) {
    super(scope, id);
    const policy = new DataAwsIamPolicyDocument(this, 'policy', {
      statement: [
        {
          sid: 'DelegateToAccountIam',
          actions: ['kms:*'],
          resources: ['*'],
          principals: [{ type: 'AWS', identifiers: [`arn:aws:iam::${props.accountId}:root`] }],
        },
      ],
    });
    this.key = new KmsKey(this, 'key', {
      description: props.description,
      policy: policy.json,
      enableKeyRotation: true,
      rotationPeriodInDays: 365,
      deletionWindowInDays: 30,
    });
    new KmsAlias(this, 'alias', { name: `alias/${props.alias}`, targetKeyId: this.key.keyId });
  }
}
