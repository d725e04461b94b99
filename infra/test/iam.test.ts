import { beforeAll, describe, expect, it } from 'vitest';
import { dataSource, resource, synthStack, testParams } from './support/stack.js';
import type { Synthesized } from './support/stack.js';

type Statement = { sid?: string; effect?: string; actions: string[]; resources?: string[] };

/** What each call of the task role may do is simulated in iam-simulation.test.ts; these cover the rest. */
describe('IamRoles', () => {
  let s: Synthesized;
  let task: Statement[];
  let execution: Statement[];
  beforeAll(() => {
    s = synthStack(testParams());
    task = dataSource(s.json, 'aws_iam_policy_document', 'iam_task-policy').statement;
    execution = dataSource(s.json, 'aws_iam_policy_document', 'iam_execution-policy').statement;
  });
  const bySid = (statements: Statement[], sid: string) => statements.find((st) => st.sid === sid)!;

  it('uses no wildcard action, and a wildcard resource only for actions without a resource type', () => {
    for (const st of [...task, ...execution]) {
      for (const action of st.actions) expect(action).not.toContain('*');
      if (st.resources?.includes('*')) expect(st.actions).toEqual([expect.stringMatching(/^(transcribe:StartMedicalStreamTranscription|transcribe:CreateMedicalVocabulary|ecr:GetAuthorizationToken)$/)]);
    }
  });

  it('keeps the execution role separate: image pull, logs and the session secret for injection', () => {
    expect(resource(s.json, 'aws_iam_role_policy', 'task-role').role).toContain('iam_task-role');
    expect(resource(s.json, 'aws_iam_role_policy', 'execution-role').role).toContain('iam_execution-role');
    expect(bySid(execution, 'PullImage').resources).toEqual([expect.stringContaining('aws_ecr_repository.')]);
    expect(bySid(execution, 'WriteLogs').resources).toEqual([expect.stringMatching(/aws_cloudwatch_log_group\..+\.arn\}:\*$/)]);
    expect(bySid(execution, 'InjectSessionSecret').resources).toEqual([expect.stringContaining('aws_secretsmanager_secret.session-secret')]);
    // The task role cannot read the session secret; the execution role cannot read the database secret.
    expect(JSON.stringify(task)).not.toContain('session-secret');
    expect(JSON.stringify(execution)).not.toContain('database_credentials');
  });

  it('lets only ECS tasks of this account assume the roles', () => {
    const assume = dataSource(s.json, 'aws_iam_policy_document', 'assume-ecs-tasks').statement[0];
    expect(assume).toMatchObject({ actions: ['sts:AssumeRole'], principals: [{ type: 'Service', identifiers: ['ecs-tasks.amazonaws.com'] }] });
    expect(assume.condition).toContainEqual({ test: 'StringEquals', variable: 'aws:SourceAccount', values: ['123456789012'] });
  });
});
