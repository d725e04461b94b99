import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsCalls, type AwsCall, type AwsTarget } from '../../src/lib/aws-calls.js';
import { RECORDINGS_PREFIX } from '../src/params.js';
import { ResolvedStack } from './support/policies.js';
import { synthStack, testParams } from './support/stack.js';

/**
 * Every AWS request the service makes (src/lib/aws-calls.ts, the one list) evaluated offline
 * against what the synthesized stack would put in AWS: the task role's identity policy, the
 * recordings bucket policy and the recordings KMS key policy. Same-account requests: an Allow in
 * the identity policy suffices unless a resource policy denies; a KMS key policy must delegate to
 * the account for the identity policy to count.
 */
type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

const params = testParams({ transcribeRegion: 'eu-central-1' });
let stack: ResolvedStack;
let target: AwsTarget;
let principal: string;
const figures: string[] = [];

async function decide(call: Pick<AwsCall, 'action' | 'resource' | 'context'>): Promise<Decision> {
  const service = call.action.split(':')[0];
  const resourcePolicy =
    service === 's3'
      ? stack.policyOf('aws_s3_bucket_policy', 'recordings')
      : service === 'kms' && call.resource === target.kmsKeyArn
        ? stack.policyOf('aws_kms_key', 'recordings-key')
        : undefined;
  const simulation: Simulation = {
    request: {
      principal,
      action: call.action,
      resource: { resource: call.resource, accountId: params.accountId },
      contextVariables: { 'aws:PrincipalAccount': params.accountId, 'aws:PrincipalArn': `arn:aws:iam::${params.accountId}:role/arogya-staging-task`, ...call.context },
    },
    identityPolicies: [{ name: 'task-role', policy: stack.policyOf('aws_iam_role_policy', 'task-role') }],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(resourcePolicy ? { resourcePolicy } : {}),
  };
  const response = await runSimulation(simulation, {});
  if (response.resultType !== 'single') throw new Error(`simulation of ${call.action} on ${call.resource} did not run: ${JSON.stringify(response)}`);
  // A context key the simulator does not know for the action is dropped silently; here it fails.
  const ignored = (response.result.ignoredContextKeys ?? []).filter((k: string) => !k.startsWith('aws:Principal'));
  if (ignored.length > 0) throw new Error(`${call.action}: the simulator ignored ${ignored.join(', ')}`);
  return response.overallResult as Decision;
}

describe('IAM simulation of the service\'s AWS calls against the synthesized stack', () => {
  beforeAll(() => {
    const s = synthStack(params);
    stack = new ResolvedStack(s.json, params);
    const container = (JSON.parse(Object.values(s.json.resource['aws_ecs_task_definition']!)[0]!.container_definitions) as { environment: { name: string; value: string }[] }[])[0]!;
    const env = Object.fromEntries(container.environment.map((e) => [e.name, stack.resolve(e.value)]));
    // What the running task is told (its environment) decides what it calls.
    target = {
      region: env['AWS_REGION']!,
      transcribeRegion: env['AWS_TRANSCRIBE_REGION'] ?? env['AWS_REGION']!,
      bucket: env['S3_BUCKET']!,
      prefix: env['S3_PREFIX']!,
      kmsKeyArn: env['S3_KMS_KEY_ID']!,
      databaseSecretArn: env['DB_SECRET_ID']!,
      vocabularyPrefix: env['TRANSCRIBE_VOCABULARY_PREFIX']!,
    };
    principal = `arn:aws:sts::${params.accountId}:assumed-role/arogya-staging-task/0123456789abcdef0123456789abcdef`;
  });
  afterAll(() => {
    if (figures.length > 0) console.info(`simulated calls:\n  ${figures.join('\n  ')}`);
  });

  it('the task is told the bucket, prefix, key and secret the stack creates', () => {
    expect(target.prefix).toBe(RECORDINGS_PREFIX);
    expect(target.bucket).toBe('arogya-staging-recordings-123456789012');
    expect(target.kmsKeyArn).toBe(stack.keyArn(stack.logicalId('aws_kms_key', 'recordings-key')));
    expect(target.databaseSecretArn).toMatch(/^arn:aws:secretsmanager:eu-west-1:123456789012:secret:arogya\/staging\/database-/);
    expect(target.transcribeRegion).toBe('eu-central-1');
  });

  it('allows every call the service makes', async () => {
    const results: [string, Decision][] = [];
    for (const call of awsCalls(target).filter((c) => !c.embeddedOnly)) {
      const d = await decide(call);
      results.push([`${call.id} (${call.action} ${call.resource})`, d]);
      figures.push(`${d.padEnd(16)} ${call.id}: ${call.action} on ${call.resource}`);
    }
    expect(results.filter(([, d]) => d !== 'Allowed')).toEqual([]);
  });

  it.each([
    ['plain HTTP (an UploadPart without TLS)', (c: AwsCall[]) => ({ ...byId(c, 'upload-part'), context: { ...byId(c, 'upload-part').context, 'aws:SecureTransport': 'false' } })],
    ['a plain-HTTP read', (c: AwsCall[]) => ({ ...byId(c, 'object-read'), context: { ...byId(c, 'object-read').context, 'aws:SecureTransport': 'false' } })],
    ['an upload naming another KMS key', (c: AwsCall[]) => withContext(byId(c, 'upload-start'), { 's3:x-amz-server-side-encryption-aws-kms-key-id': otherKey() })],
    ['an upload asking for SSE-S3 instead of the key', (c: AwsCall[]) => withContext(byId(c, 'upload-start'), { 's3:x-amz-server-side-encryption': 'AES256', 's3:x-amz-server-side-encryption-aws-kms-key-id': undefined })],
    ['a data key from another KMS key', (c: AwsCall[]) => ({ ...byId(c, 'sse-data-key'), resource: otherKey() })],
    ['the recordings key used directly, not through S3', (c: AwsCall[]) => withContext(byId(c, 'sse-decrypt'), { 'kms:ViaService': undefined })],
    ['a write outside the recordings prefix', (c: AwsCall[]) => ({ ...byId(c, 'upload-part'), resource: `arn:aws:s3:::${target.bucket}/other/x.wav` })],
    ['a read outside the recordings prefix', (c: AwsCall[]) => ({ ...byId(c, 'object-read'), resource: `arn:aws:s3:::${target.bucket}/other/x.wav` })],
    ['DeleteBucket', (c: AwsCall[]) => ({ ...byId(c, 'storage-check'), action: 's3:DeleteBucket' })],
    ['another secret', (c: AwsCall[]) => ({ ...byId(c, 'database-secret'), resource: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:arogya/staging/session-secret-AbCdEf` })],
    ['Transcribe in a region the deployment did not choose', (c: AwsCall[]) => withContext(byId(c, 'transcribe-stream'), { 'aws:RequestedRegion': 'us-east-1' })],
    ['a vocabulary created in a region the deployment did not choose', (c: AwsCall[]) => withContext(byId(c, 'vocabulary-create'), { 'aws:RequestedRegion': 'us-east-1' })],
    ['an update of another deployment\'s vocabulary', (c: AwsCall[]) => ({ ...byId(c, 'vocabulary-update'), resource: byId(c, 'vocabulary-update').resource.replace('arogya-staging-', 'arogya-production-') })],
  ] as const)('denies %s', async (name, make) => {
    const d = await decide(make(awsCalls(target)));
    figures.push(`${d.padEnd(16)} (must be denied) ${name}`);
    expect(d).not.toBe('Allowed');
  });

  it('grants nothing the service does not call (least privilege, checked both ways)', () => {
    const used = new Set(awsCalls(target).filter((c) => !c.embeddedOnly).map((c) => c.action));
    const granted = stack.policyOf('aws_iam_role_policy', 'task-role').Statement.flatMap((st) => st.Action as string[]);
    expect(granted.filter((a) => !used.has(a))).toEqual([]);
  });
});

const byId = (calls: AwsCall[], id: string): AwsCall => {
  const c = calls.find((x) => x.id === id);
  if (!c) throw new Error(`no call ${id}`);
  return c;
};
const otherKey = () => `arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-4333-8444-555555555555`;
/** The call with context keys changed; `undefined` removes a key (the request does not carry it). */
function withContext(call: AwsCall, changes: Record<string, string | undefined>): AwsCall {
  const context = { ...call.context };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete context[k];
    else context[k] = v;
  }
  return { ...call, context };
}
