import { Construct } from 'constructs';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js';
import { IamPolicy } from '@cdktf/provider-aws/lib/iam-policy/index.js';

export interface DeployPolicyProps {
  readonly name: string;
  readonly region: string;
  readonly accountId: string;
  readonly repositoryArn: string;
  readonly clusterName: string;
  readonly serviceName: string;
  readonly taskFamily: string;
  readonly taskRoleArn: string;
  readonly executionRoleArn: string;
}

/**
 * What CI (or a person) needs to release: `arogya-live deploy push|rollout|rollback|history|status`
 * and the `docker push` it runs (src/deploy/deploy-calls.ts lists every request). Nothing of
 * Terraform's: applying the stack is a separate, more powerful identity. Attach the policy
 * `arogya-<env>-deploy` (output `deploy_policy_arn`) to the CI role.
 * ListTaskDefinitions has no resource type, and whether Register/DescribeTaskDefinition are
 * authorised against the family has changed over time, hence `*` for those three: a revision
 * registered by this identity can only run as the stack's two roles (PassRole below) and only this
 * service can be pointed at it (UpdateService below).
 */
export class DeployPolicy extends Construct {
  readonly policy: IamPolicy;

  constructor(scope: Construct, id: string, props: DeployPolicyProps) {
    super(scope, id);
    const { region, accountId } = props;
    const document = new DataAwsIamPolicyDocument(this, 'document', {
      statement: [
        { sid: 'EcrLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] },
        {
          sid: 'EcrPushAndDescribe',
          actions: [
            'ecr:DescribeRepositories',
            'ecr:DescribeImages',
            'ecr:BatchCheckLayerAvailability',
            'ecr:InitiateLayerUpload',
            'ecr:UploadLayerPart',
            'ecr:CompleteLayerUpload',
            'ecr:PutImage',
            'ecr:BatchGetImage',
          ],
          resources: [props.repositoryArn],
        },
        { sid: 'TaskDefinitions', actions: ['ecs:DescribeTaskDefinition', 'ecs:ListTaskDefinitions', 'ecs:RegisterTaskDefinition'], resources: ['*'] },
        {
          sid: 'DeployHistoryTags',
          actions: ['ecs:TagResource'],
          resources: [`arn:aws:ecs:${region}:${accountId}:task-definition/${props.taskFamily}:*`],
        },
        {
          sid: 'Service',
          actions: ['ecs:DescribeServices', 'ecs:UpdateService'],
          resources: [`arn:aws:ecs:${region}:${accountId}:service/${props.clusterName}/${props.serviceName}`],
        },
        {
          sid: 'PassTheStacksRolesToEcsTasks',
          actions: ['iam:PassRole'],
          resources: [props.taskRoleArn, props.executionRoleArn],
          condition: [{ test: 'StringEquals', variable: 'iam:PassedToService', values: ['ecs-tasks.amazonaws.com'] }],
        },
      ],
    });
    this.policy = new IamPolicy(this, 'policy', {
      name: `arogya-${props.name}-deploy`,
      description: `arogya-live ${props.name}: release with arogya-live deploy (ECR push, ECS rollout/rollback); attach to the CI role`,
      policy: document.json,
    });
  }
}
