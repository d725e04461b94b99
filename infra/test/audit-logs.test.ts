import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { beforeAll, describe, expect, it } from 'vitest';
import { ELB_LOG_ACCOUNTS } from '../src/audit-logs.js';
import { ResolvedStack } from './support/policies.js';
import { resource, resources, synthStack, testParams } from './support/stack.js';
import type { Synthesized } from './support/stack.js';

/**
 * The audit trail (ALB access logs, S3 server access logs of the recordings bucket, VPC flow logs)
 * read from the synthesized Terraform, and the log bucket's policy simulated for each AWS delivery
 * service: each may write only its own prefix, only for this account's resources.
 */
const params = testParams();
const ACCOUNT = params.accountId;
const LOG_BUCKET = `arogya-staging-logs-${ACCOUNT}`;
let s: Synthesized;
let stack: ResolvedStack;

type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

/** A request to the log bucket from `principal` (a service principal or a foreign account's role), judged by the bucket policy alone. */
async function decide(principal: string, action: string, key: string | undefined, context: Record<string, string>): Promise<Decision> {
  const foreign = /^arn:aws:iam::(\d{12}):/.exec(principal)?.[1];
  const simulation: Simulation = {
    request: {
      principal,
      action,
      resource: { resource: key === undefined ? `arn:aws:s3:::${LOG_BUCKET}` : `arn:aws:s3:::${LOG_BUCKET}/${key}`, accountId: ACCOUNT },
      contextVariables: { 'aws:SecureTransport': 'true', ...(foreign ? { 'aws:PrincipalAccount': foreign } : {}), ...context },
    },
    identityPolicies: foreign ? [{ name: 'elb', policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:PutObject', Resource: '*' }] } }] : [],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: stack.policyOf('aws_s3_bucket_policy', 'audit-logs'),
  };
  const response = await runSimulation(simulation, {});
  if (response.resultType !== 'single') throw new Error(`simulation did not run: ${JSON.stringify(response)}`);
  const ignored = (response.result.ignoredContextKeys ?? []).filter((k: string) => !k.startsWith('aws:Principal'));
  if (ignored.length > 0) throw new Error(`${action}: the simulator ignored ${ignored.join(', ')}`);
  return response.overallResult as Decision;
}

const ELB = `arn:aws:iam::${ELB_LOG_ACCOUNTS['eu-west-1']}:root`;
const albKey = `alb/AWSLogs/${ACCOUNT}/elasticloadbalancing/eu-west-1/2026/11/30/${ACCOUNT}_elasticloadbalancing_eu-west-1_app.arogya-staging.log.gz`;
const flowKey = `vpc-flow/AWSLogs/${ACCOUNT}/vpcflowlogs/eu-west-1/2026/11/30/${ACCOUNT}_vpcflowlogs_eu-west-1_fl-0123_20261130T0900Z_abcd.log.gz`;
const fromLogs = { 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': `arn:aws:logs:eu-west-1:${ACCOUNT}:*` };
const fromRecordings = { 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': `arn:aws:s3:::arogya-staging-recordings-${ACCOUNT}` };

describe('Audit logs: ALB access, recordings S3 access, VPC flow', () => {
  beforeAll(() => {
    s = synthStack(params);
    stack = new ResolvedStack(s.json, params);
  });

  it('delivers ALB access logs to the log bucket under alb/, after the bucket policy exists (AWS checks it when the ALB is created)', () => {
    const lb = resource(s.json, 'aws_lb');
    expect(lb.access_logs).toEqual({ bucket: expect.stringMatching(/^\$\{aws_s3_bucket\.audit-logs_bucket_\w+\.id\}$/), prefix: 'alb', enabled: true });
    expect(lb.depends_on).toEqual([expect.stringMatching(/^aws_s3_bucket_policy\.audit-logs_policy_\w+$/)]);
    expect(stack.resolve(lb.access_logs.bucket)).toBe(LOG_BUCKET);
  });

  it('logs every request to the recordings bucket into the log bucket under s3-access/recordings/', () => {
    const logging = resource(s.json, 'aws_s3_bucket_logging');
    expect(stack.resolve(logging.bucket)).toBe(`arogya-staging-recordings-${ACCOUNT}`);
    expect(stack.resolve(logging.target_bucket)).toBe(LOG_BUCKET);
    expect(logging.target_prefix).toBe('s3-access/recordings/');
  });

  it('records every connection of the VPC (accepted and rejected) as flow logs in the log bucket', () => {
    const flow = resource(s.json, 'aws_flow_log');
    expect(flow).toMatchObject({ traffic_type: 'ALL', log_destination_type: 's3', vpc_id: expect.stringContaining('aws_vpc.network_vpc') });
    expect(stack.resolve(flow.log_destination)).toBe(`arn:aws:s3:::${LOG_BUCKET}/vpc-flow/`);
    expect(flow.depends_on).toEqual([expect.stringContaining('aws_s3_bucket_policy.audit-logs_policy')]);
  });

  it('keeps the log bucket like PHI (URLs carry search text): SSE-S3 (the only encryption ALB and S3 log delivery accept), no public access, versioned, expired after the retention', () => {
    const id = (type: string) => stack.resolve(resource(s.json, type, 'audit-logs').bucket);
    expect(id('aws_s3_bucket_server_side_encryption_configuration')).toBe(LOG_BUCKET);
    expect(resource(s.json, 'aws_s3_bucket_server_side_encryption_configuration', 'audit-logs').rule).toEqual([{ apply_server_side_encryption_by_default: { sse_algorithm: 'AES256' } }]);
    expect(resource(s.json, 'aws_s3_bucket_public_access_block', 'audit-logs')).toMatchObject({ block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: true });
    expect(resource(s.json, 'aws_s3_bucket_versioning', 'audit-logs').versioning_configuration).toEqual({ status: 'Enabled' });
    expect(resource(s.json, 'aws_s3_bucket_lifecycle_configuration', 'audit-logs').rule).toEqual([
      expect.objectContaining({ status: 'Enabled', filter: [{ prefix: '' }], expiration: [{ days: 90 }] }),
    ]);
    const production = synthStack(testParams({ name: 'production', deletionProtection: true, auditLogRetentionDays: 2192 }));
    expect(resource(production.json, 'aws_s3_bucket_lifecycle_configuration', 'audit-logs').rule[0].expiration).toEqual([{ days: 2192 }]);
    expect(resource(production.json, 'aws_s3_bucket', 'audit-logs').force_destroy).toBe(false);
  });

  it.each([
    ['the region\'s ELB account writes ALB logs', ELB, 's3:PutObject', albKey, {}],
    ['the ELB log-delivery service writes ALB logs', 'logdelivery.elasticloadbalancing.amazonaws.com', 's3:PutObject', albKey, {}],
    ['S3 writes the recordings bucket\'s access logs', 'logging.s3.amazonaws.com', 's3:PutObject', 's3-access/recordings/2026-11-30-09-00-00-ABCDEF', fromRecordings],
    ['log delivery writes VPC flow logs', 'delivery.logs.amazonaws.com', 's3:PutObject', flowKey, { ...fromLogs, 's3:x-amz-acl': 'bucket-owner-full-control' }],
    ['log delivery checks the bucket ACL', 'delivery.logs.amazonaws.com', 's3:GetBucketAcl', undefined, fromLogs],
  ] as const)('allows: %s', async (_name, principal, action, key, context) => {
    expect(await decide(principal, action, key, context)).toBe('Allowed');
  });

  it.each([
    ['ALB logs over plain HTTP', ELB, 's3:PutObject', albKey, { 'aws:SecureTransport': 'false' }],
    ['the ELB account writing outside alb/', ELB, 's3:PutObject', `s3-access/recordings/forged`, {}],
    ['the ELB account writing another account\'s ALB logs', ELB, 's3:PutObject', `alb/AWSLogs/210987654321/x.log.gz`, {}],
    ['the ELB account reading logs', ELB, 's3:GetObject', albKey, {}],
    ['another account\'s bucket logging here', 'logging.s3.amazonaws.com', 's3:PutObject', 's3-access/recordings/x', { 'aws:SourceAccount': '210987654321', 'aws:SourceArn': 'arn:aws:s3:::someone-else' }],
    ['another bucket of this account logging here', 'logging.s3.amazonaws.com', 's3:PutObject', 's3-access/recordings/x', { ...fromRecordings, 'aws:SourceArn': 'arn:aws:s3:::arogya-staging-other' }],
    ['another account\'s flow logs', 'delivery.logs.amazonaws.com', 's3:PutObject', flowKey, { 'aws:SourceAccount': '210987654321', 'aws:SourceArn': 'arn:aws:logs:eu-west-1:210987654321:*', 's3:x-amz-acl': 'bucket-owner-full-control' }],
    ['flow logs writing into the ALB prefix', 'delivery.logs.amazonaws.com', 's3:PutObject', albKey, { ...fromLogs, 's3:x-amz-acl': 'bucket-owner-full-control' }],
    ['a log service deleting logs', 'delivery.logs.amazonaws.com', 's3:DeleteObject', flowKey, fromLogs],
  ] as const)('denies: %s', async (_name, principal, action, key, context) => {
    expect(await decide(principal, action, key, context)).not.toBe('Allowed');
  });

  it('grants only the log-delivery services and the ELB account (no other principal, no wildcard Allow)', () => {
    const allows = stack.policyOf('aws_s3_bucket_policy', 'audit-logs').Statement.filter((st) => st.Effect === 'Allow');
    const principals = allows.flatMap((st) => Object.values(st.Principal as Record<string, string[]>).flat()).sort();
    expect(principals).toEqual([ELB, 'delivery.logs.amazonaws.com', 'delivery.logs.amazonaws.com', 'logdelivery.elasticloadbalancing.amazonaws.com', 'logging.s3.amazonaws.com'].sort());
  });

  it('names no ELB account where AWS has none (regions opened since August 2022 use the service principal only)', () => {
    const jakarta = synthStack(testParams({ region: 'ap-southeast-3', transcribeRegion: 'ap-southeast-2', availabilityZones: ['ap-southeast-3a', 'ap-southeast-3b'], certificateArn: 'arn:aws:acm:ap-southeast-3:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-123456789abc' }));
    const policy = new ResolvedStack(jakarta.json, testParams({ region: 'ap-southeast-3' })).policyOf('aws_s3_bucket_policy', 'audit-logs');
    expect(policy.Statement.map((st) => st.Sid)).not.toContain('AlbAccessLogs');
    expect(resources(jakarta.json, 'aws_lb')).toHaveLength(1);
  });
});
