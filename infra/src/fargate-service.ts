import { Construct } from 'constructs';
import { EcsCluster } from '@cdktf/provider-aws/lib/ecs-cluster/index.js';
import { EcsService } from '@cdktf/provider-aws/lib/ecs-service/index.js';
import { EcsTaskDefinition } from '@cdktf/provider-aws/lib/ecs-task-definition/index.js';

export interface FargateServiceProps {
  readonly name: string;
  readonly region: string;
  readonly cpu: number;
  readonly memoryMiB: number;
  /** Image reference for the first revision; `deploy rollout` registers revisions with a digest. */
  readonly image: string;
  readonly containerPort: number;
  /** Plain settings (never secrets). */
  readonly environment: Record<string, string>;
  /** Variable name → Secrets Manager secret ARN, injected by ECS at start. */
  readonly secrets: Record<string, string>;
  readonly stopTimeoutSeconds: number;
  readonly taskRoleArn: string;
  readonly executionRoleArn: string;
  readonly logGroupName: string;
  readonly subnetIds: string[];
  readonly securityGroupId: string;
  readonly targetGroupArn: string;
  readonly desiredCount: number;
}

/** Name of the one container in the task definition; the deploy command looks it up by this name. */
export const CONTAINER_NAME = 'app';

/**
 * ECS cluster, task definition and Fargate service behind the target group. Deployments use the
 * circuit breaker with rollback. Terraform creates the service; afterwards `deploy rollout` owns the
 * task-definition revision and autoscaling owns the task count, so Terraform ignores both.
 */
export class FargateService extends Construct {
  readonly cluster: EcsCluster;
  readonly taskDefinition: EcsTaskDefinition;
  readonly service: EcsService;

  constructor(scope: Construct, id: string, props: FargateServiceProps) {
    super(scope, id);
    const family = `arogya-${props.name}`;
    this.cluster = new EcsCluster(this, 'cluster', {
      name: family,
      setting: [{ name: 'containerInsights', value: 'enhanced' }],
    });

    const container = {
      name: CONTAINER_NAME,
      image: props.image,
      essential: true,
      portMappings: [{ containerPort: props.containerPort, protocol: 'tcp', name: 'http' }],
      environment: Object.entries(props.environment)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, value]) => ({ name, value })),
      secrets: Object.entries(props.secrets)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, valueFrom]) => ({ name, valueFrom })),
      stopTimeout: props.stopTimeoutSeconds,
      readonlyRootFilesystem: false, // DATA_DIR spool lives on the task's ephemeral storage
      user: '10001:10001',
      linuxParameters: { initProcessEnabled: true },
      logConfiguration: {
        logDriver: 'awslogs',
        options: { 'awslogs-group': props.logGroupName, 'awslogs-region': props.region, 'awslogs-stream-prefix': 'app' },
      },
      // Same probe as the image's HEALTHCHECK; ECS replaces a task that fails it.
      healthCheck: {
        command: ['CMD', 'node', '-e', `fetch('http://127.0.0.1:${props.containerPort}/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`],
        interval: 30,
        timeout: 5,
        retries: 3,
        startPeriod: 60,
      },
    };
    this.taskDefinition = new EcsTaskDefinition(this, 'task', {
      family,
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: String(props.cpu),
      memory: String(props.memoryMiB),
      runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: 'X86_64' },
      taskRoleArn: props.taskRoleArn,
      executionRoleArn: props.executionRoleArn,
      containerDefinitions: JSON.stringify([container]),
      // Keep old revisions registered so `deploy rollback` can return to them.
      skipDestroy: true,
    });

    this.service = new EcsService(this, 'service', {
      name: 'arogya-live',
      cluster: this.cluster.arn,
      taskDefinition: this.taskDefinition.arn,
      launchType: 'FARGATE',
      platformVersion: 'LATEST',
      desiredCount: props.desiredCount,
      deploymentMinimumHealthyPercent: 100,
      deploymentMaximumPercent: 200,
      deploymentCircuitBreaker: { enable: true, rollback: true },
      // Rebalancing moves tasks between zones by stopping them, which ends their live sessions.
      availabilityZoneRebalancing: 'DISABLED',
      deploymentController: { type: 'ECS' },
      healthCheckGracePeriodSeconds: 60,
      propagateTags: 'SERVICE',
      enableExecuteCommand: false,
      networkConfiguration: {
        subnets: props.subnetIds,
        securityGroups: [props.securityGroupId],
        assignPublicIp: false,
      },
      loadBalancer: [{ targetGroupArn: props.targetGroupArn, containerName: CONTAINER_NAME, containerPort: props.containerPort }],
      lifecycle: { ignoreChanges: ['task_definition', 'desired_count'] },
    });
  }
}
