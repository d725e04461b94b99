import { runSimulation } from '@cloud-copilot/iam-simulate';
import { beforeAll, describe, expect, it } from 'vitest';
import { deployCalls, type DeployCall, type DeployTarget } from '../../src/deploy/deploy-calls.js';
import { ResolvedStack } from './support/policies.js';
import { synthStack, testParams } from './support/stack.js';

/**
 * The deploy identity's policy (`arogya-<env>-deploy`, DEPLOYMENT.md "The deploy identity")
 * simulated for every request `arogya-live deploy` and its `docker push` make
 * (src/deploy/deploy-calls.ts), and for requests it must not be able to make.
 */
const params = testParams();
let stack: ResolvedStack;
let target: DeployTarget;
const figures: string[] = [];

async function decide(call: Pick<DeployCall, 'action' | 'resource' | 'context'>): Promise<string> {
  const response = await runSimulation(
    {
      request: {
        principal: `arn:aws:sts::${params.accountId}:assumed-role/ci-deploy/run-1`,
        action: call.action,
        resource: { resource: call.resource, accountId: params.accountId },
        contextVariables: { 'aws:PrincipalAccount': params.accountId, ...call.context },
      },
      identityPolicies: [{ name: 'deploy', policy: stack.policyOf('aws_iam_policy', 'deploy') }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    },
    {},
  );
  if (response.resultType !== 'single') throw new Error(`simulation of ${call.action} did not run: ${JSON.stringify(response)}`);
  const ignored = (response.result.ignoredContextKeys ?? []).filter((k: string) => !k.startsWith('aws:Principal'));
  if (ignored.length > 0) throw new Error(`${call.action}: the simulator ignored ${ignored.join(', ')}`);
  return response.overallResult;
}

describe('The deploy identity\'s policy', () => {
  beforeAll(() => {
    const s = synthStack(params);
    stack = new ResolvedStack(s.json, params);
    const name = (type: string, attr: string) => stack.resolve(`\${${type}.${Object.keys(s.json.resource[type]!)[0]}.${attr}}`) as string;
    target = {
      region: params.region,
      accountId: params.accountId,
      cluster: name('aws_ecs_cluster', 'name'),
      service: name('aws_ecs_service', 'name'),
      repository: stack.resolve(Object.values(s.json.resource['aws_ecr_repository']!)[0]!.name) as string,
      family: name('aws_ecs_task_definition', 'family'),
      taskRoleArn: `arn:aws:iam::${params.accountId}:role/arogya-staging-task`,
      executionRoleArn: `arn:aws:iam::${params.accountId}:role/arogya-staging-execution`,
    };
  });

  it('is told the names the stack creates', () => {
    expect(target).toMatchObject({ cluster: 'arogya-staging', service: 'arogya-live', repository: 'arogya-live-staging', family: 'arogya-staging' });
    expect(stack.json.output['deploy_policy_arn']).toBeDefined();
  });

  it('allows every request deploy push, rollout, rollback, history and status make', async () => {
    const results: string[] = [];
    for (const call of deployCalls(target)) {
      const d = await decide(call);
      figures.push(`${d.padEnd(16)} ${call.by}: ${call.action} on ${call.resource}`);
      if (d !== 'Allowed') results.push(`${call.id}: ${d}`);
    }
    expect(results).toEqual([]);
  });

  const call = (id: string) => deployCalls(target).find((c) => c.id === id)!;
  it.each([
    ['updating another service', () => ({ ...call('ecs-update-service'), resource: `arn:aws:ecs:eu-west-1:123456789012:service/arogya-production/arogya-live` })],
    ['deleting the service', () => ({ ...call('ecs-update-service'), action: 'ecs:DeleteService' })],
    ['pushing to another repository', () => ({ ...call('docker-PutImage'), resource: 'arn:aws:ecr:eu-west-1:123456789012:repository/arogya-live-production' })],
    ['deleting images', () => ({ ...call('docker-PutImage'), action: 'ecr:BatchDeleteImage' })],
    ['passing an admin role to a task', () => ({ ...call('pass-task-role'), resource: 'arn:aws:iam::123456789012:role/admin' })],
    ['passing the task role to Lambda', () => ({ ...call('pass-task-role'), context: { ...call('pass-task-role').context, 'iam:PassedToService': 'lambda.amazonaws.com' } })],
    ['tagging another family\'s revisions', () => ({ ...call('ecs-tag-revision'), resource: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/other:1' })],
    ['running a one-off task', () => ({ ...call('ecs-register-task-definition'), action: 'ecs:RunTask', resource: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/arogya-staging:7' })],
    ['reading the database secret', () => ({ action: 'secretsmanager:GetSecretValue', resource: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:arogya/staging/database-AbCdEf', context: { 'aws:SecureTransport': 'true' } })],
  ])('denies %s', async (name, make) => {
    const d = await decide(make());
    figures.push(`${d.padEnd(16)} (must be denied) ${name}`);
    expect(d).not.toBe('Allowed');
  });

  it('grants nothing the deploy command does not call', () => {
    const used = new Set(deployCalls(target).map((c) => c.action));
    const granted = stack.policyOf('aws_iam_policy', 'deploy').Statement.flatMap((st) => st.Action as string[]);
    expect(granted.filter((a) => !used.has(a))).toEqual([]);
    if (figures.length > 0) console.info(`deploy identity, simulated:\n  ${figures.join('\n  ')}`);
  });
});
