/**
 * Every AWS request `arogya-live deploy` (and the `docker push` it runs) makes, as IAM authorises
 * it: the one list behind the deploy identity's policy.
 *
 * `test/integration/deploy.test.ts` checks that every request the CLI sent to the ECS/ECR stand-in
 * is here; `infra/test/deploy-policy.test.ts` evaluates each entry with `@cloud-copilot/iam-simulate`
 * against the `arogya-<env>-deploy` policy the stack creates (and some requests that must be
 * denied). Pure data, no imports: the infra package reads it too.
 */

export interface DeployTarget {
  region: string;
  accountId: string;
  /** ECS cluster and service names (terraform outputs cluster_name, service_name). */
  cluster: string;
  service: string;
  /** ECR repository name. */
  repository: string;
  /** Task-definition family. */
  family: string;
  /** The roles the task definition names; registering a revision passes them to ECS. */
  taskRoleArn: string;
  executionRoleArn: string;
}

export interface DeployCall {
  id: string;
  /** The CLI command or step that makes it. */
  by: 'push' | 'rollout' | 'rollback' | 'history' | 'status' | 'docker push';
  /** The IAM action. */
  action: string;
  /** The resource ARN, or `*` for actions without resource-level permissions. */
  resource: string;
  context: Record<string, string>;
  /** The API operation (X-Amz-Target suffix) the CLI sends; absent for docker's registry calls and IAM's implicit checks. */
  operation?: string;
}

export function deployCalls(t: DeployTarget): DeployCall[] {
  const tls = { 'aws:SecureTransport': 'true' };
  const repo = `arn:aws:ecr:${t.region}:${t.accountId}:repository/${t.repository}`;
  const service = `arn:aws:ecs:${t.region}:${t.accountId}:service/${t.cluster}/${t.service}`;
  const revision = `arn:aws:ecs:${t.region}:${t.accountId}:task-definition/${t.family}:7`;
  const passRole = (role: string) => ({ action: 'iam:PassRole', resource: role, context: { ...tls, 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
  return [
    { id: 'ecr-describe-repository', by: 'push', operation: 'DescribeRepositories', action: 'ecr:DescribeRepositories', resource: repo, context: tls },
    { id: 'ecr-token', by: 'push', operation: 'GetAuthorizationToken', action: 'ecr:GetAuthorizationToken', resource: '*', context: tls },
    // What `docker push` asks the registry for, with the token above.
    ...['ecr:BatchCheckLayerAvailability', 'ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload', 'ecr:PutImage', 'ecr:BatchGetImage'].map((action) => ({
      id: `docker-${action.slice(4)}`,
      by: 'docker push' as const,
      action,
      resource: repo,
      context: tls,
    })),
    { id: 'ecr-describe-images', by: 'rollout', operation: 'DescribeImages', action: 'ecr:DescribeImages', resource: repo, context: tls },
    { id: 'ecs-describe-service', by: 'rollout', operation: 'DescribeServices', action: 'ecs:DescribeServices', resource: service, context: tls },
    { id: 'ecs-describe-task-definition', by: 'rollout', operation: 'DescribeTaskDefinition', action: 'ecs:DescribeTaskDefinition', resource: '*', context: tls },
    { id: 'ecs-list-task-definitions', by: 'rollback', operation: 'ListTaskDefinitions', action: 'ecs:ListTaskDefinitions', resource: '*', context: tls },
    { id: 'ecs-register-task-definition', by: 'rollout', operation: 'RegisterTaskDefinition', action: 'ecs:RegisterTaskDefinition', resource: revision, context: tls },
    // Tags given to RegisterTaskDefinition are authorised as TagResource on the new revision too.
    { id: 'ecs-tag-on-register', by: 'rollout', action: 'ecs:TagResource', resource: revision, context: { ...tls, 'ecs:CreateAction': 'RegisterTaskDefinition' } },
    { id: 'pass-task-role', by: 'rollout', ...passRole(t.taskRoleArn) },
    { id: 'pass-execution-role', by: 'rollout', ...passRole(t.executionRoleArn) },
    { id: 'ecs-update-service', by: 'rollout', operation: 'UpdateService', action: 'ecs:UpdateService', resource: service, context: tls },
    // The deploy history: steady time after a rollout, rolled-back time after a rollback.
    { id: 'ecs-tag-revision', by: 'rollout', operation: 'TagResource', action: 'ecs:TagResource', resource: revision, context: tls },
  ];
}
