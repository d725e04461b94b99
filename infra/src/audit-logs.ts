import { Construct } from 'constructs';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js';
import type { DataAwsIamPolicyDocumentStatement } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js';
import { FlowLog } from '@cdktf/provider-aws/lib/flow-log/index.js';
import { S3Bucket } from '@cdktf/provider-aws/lib/s3-bucket/index.js';
import { S3BucketLifecycleConfiguration } from '@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration/index.js';
import { privateBucket } from './private-bucket.js';
import { S3BucketPolicy } from '@cdktf/provider-aws/lib/s3-bucket-policy/index.js';
import { S3BucketServerSideEncryptionConfigurationA } from '@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration/index.js';
import { S3BucketVersioningA } from '@cdktf/provider-aws/lib/s3-bucket-versioning/index.js';

/** Where each kind of log lands in the log bucket. */
export const AUDIT_LOG_PREFIXES = {
  /** ALB access logs: `alb/AWSLogs/<account>/elasticloadbalancing/<region>/...`. */
  alb: 'alb',
  /** S3 server access logs of the recordings bucket. */
  recordingsAccess: 's3-access/recordings/',
  /** VPC flow logs: `vpc-flow/AWSLogs/<account>/vpcflowlogs/<region>/...`. */
  vpcFlow: 'vpc-flow',
} as const;

/**
 * Elastic Load Balancing's log-writing account per region, for regions opened before August 2022
 * (AWS's "Enable access logs for your Application Load Balancer", step 2). Regions opened since
 * then accept only the `logdelivery.elasticloadbalancing.amazonaws.com` service principal, which the
 * policy always grants as well.
 */
export const ELB_LOG_ACCOUNTS: Readonly<Record<string, string>> = {
  'us-east-1': '127311923021',
  'us-east-2': '033677994240',
  'us-west-1': '027434742980',
  'us-west-2': '797873946194',
  'af-south-1': '098369216593',
  'ap-east-1': '754344448648',
  'ap-south-1': '718504428378',
  'ap-northeast-1': '582318560864',
  'ap-northeast-2': '600734575887',
  'ap-northeast-3': '383597477331',
  'ap-southeast-1': '114774131450',
  'ap-southeast-2': '783225319266',
  'ca-central-1': '985666609251',
  'eu-central-1': '054676820928',
  'eu-west-1': '156460612806',
  'eu-west-2': '652711504416',
  'eu-west-3': '009996457667',
  'eu-south-1': '635631232127',
  'eu-north-1': '897822967062',
  'me-south-1': '076674570225',
  'sa-east-1': '507241528517',
};

export interface AuditLogsProps {
  readonly name: string;
  readonly accountId: string;
  readonly region: string;
  readonly vpcId: string;
  /** The recordings bucket whose every request is logged (name and ARN). */
  readonly recordingsBucketArn: string;
  readonly retentionDays: number;
  readonly forceDestroy: boolean;
}

/**
 * The audit trail HIPAA's audit controls ask for, in one log bucket: ALB access logs (every HTTP
 * request: time, client address, URL, status, target), S3 server access logs of the recordings
 * bucket (every object request with the caller's identity) and VPC flow logs (every connection in
 * and out of the VPC). None of them carries a request or response body, so no audio or transcript
 * text; but an ALB log line holds the whole URL, and `GET /api/transcriptions?q=` carries the
 * search text a reviewer typed, which can be a patient's name. So the bucket is kept like PHI:
 * TLS only, no public access, versioned, readable only by whom IAM allows, expired after the
 * retention. Encryption is SSE-S3 (AES256): ALB access logs and S3 server access logs are delivered
 * only to buckets whose default encryption is SSE-S3, never SSE-KMS.
 */
export class AuditLogs extends Construct {
  readonly bucket: S3Bucket;
  readonly policy: S3BucketPolicy;
  readonly flowLog: FlowLog;

  constructor(scope: Construct, id: string, props: AuditLogsProps) {
    super(scope, id);
    this.bucket = privateBucket(this, { bucket: `arogya-${props.name}-logs-${props.accountId}`, forceDestroy: props.forceDestroy });
    const bucket = this.bucket.id;
    const arn = this.bucket.arn;

    new S3BucketServerSideEncryptionConfigurationA(this, 'encryption', {
      bucket,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }],
    });
    new S3BucketVersioningA(this, 'versioning', { bucket, versioningConfiguration: { status: 'Enabled' } });
    new S3BucketLifecycleConfiguration(this, 'lifecycle', {
      bucket,
      rule: [
        {
          id: 'expire-audit-logs',
          status: 'Enabled',
          filter: [{ prefix: '' }],
          expiration: [{ days: props.retentionDays }],
          noncurrentVersionExpiration: [{ noncurrentDays: 30 }],
        },
      ],
    });

    const { accountId, region } = props;
    const albLogs = `${arn}/${AUDIT_LOG_PREFIXES.alb}/AWSLogs/${accountId}/*`;
    const flowLogs = `${arn}/${AUDIT_LOG_PREFIXES.vpcFlow}/AWSLogs/${accountId}/*`;
    const fromThisAccountsLogs = [
      { test: 'StringEquals', variable: 'aws:SourceAccount', values: [accountId] },
      { test: 'ArnLike', variable: 'aws:SourceArn', values: [`arn:aws:logs:${region}:${accountId}:*`] },
    ];
    const elbAccount = ELB_LOG_ACCOUNTS[region];
    const statement: DataAwsIamPolicyDocumentStatement[] = [
      {
        sid: 'DenyInsecureTransport',
        effect: 'Deny',
        principals: [{ type: '*', identifiers: ['*'] }],
        actions: ['s3:*'],
        resources: [arn, `${arn}/*`],
        condition: [{ test: 'Bool', variable: 'aws:SecureTransport', values: ['false'] }],
      },
      ...(elbAccount
        ? [{ sid: 'AlbAccessLogs', principals: [{ type: 'AWS', identifiers: [`arn:aws:iam::${elbAccount}:root`] }], actions: ['s3:PutObject'], resources: [albLogs] }]
        : []),
      {
        sid: 'AlbAccessLogsDelivery',
        principals: [{ type: 'Service', identifiers: ['logdelivery.elasticloadbalancing.amazonaws.com'] }],
        actions: ['s3:PutObject'],
        resources: [albLogs],
      },
      {
        sid: 'RecordingsServerAccessLogs',
        principals: [{ type: 'Service', identifiers: ['logging.s3.amazonaws.com'] }],
        actions: ['s3:PutObject'],
        resources: [`${arn}/${AUDIT_LOG_PREFIXES.recordingsAccess}*`],
        // Confused-deputy guard: only the recordings bucket of this account logs here.
        condition: [
          { test: 'ArnLike', variable: 'aws:SourceArn', values: [props.recordingsBucketArn] },
          { test: 'StringEquals', variable: 'aws:SourceAccount', values: [accountId] },
        ],
      },
      {
        sid: 'VpcFlowLogsWrite',
        principals: [{ type: 'Service', identifiers: ['delivery.logs.amazonaws.com'] }],
        actions: ['s3:PutObject'],
        resources: [flowLogs],
        condition: [...fromThisAccountsLogs, { test: 'StringEquals', variable: 's3:x-amz-acl', values: ['bucket-owner-full-control'] }],
      },
      {
        sid: 'VpcFlowLogsAclCheck',
        principals: [{ type: 'Service', identifiers: ['delivery.logs.amazonaws.com'] }],
        actions: ['s3:GetBucketAcl', 's3:ListBucket'],
        resources: [arn],
        condition: fromThisAccountsLogs,
      },
    ];
    const document = new DataAwsIamPolicyDocument(this, 'policy-document', { statement });
    this.policy = new S3BucketPolicy(this, 'policy', { bucket, policy: document.json });

    // Flow logs are delivered to S3 (no IAM role needed); metadata only: addresses, ports, bytes, accept/reject.
    this.flowLog = new FlowLog(this, 'vpc-flow-log', {
      vpcId: props.vpcId,
      trafficType: 'ALL',
      logDestinationType: 's3',
      logDestination: `${arn}/${AUDIT_LOG_PREFIXES.vpcFlow}/`,
      maxAggregationInterval: 600,
      tags: { Name: `arogya-${props.name}` },
      dependsOn: [this.policy],
    });
  }
}
