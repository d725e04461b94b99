import { beforeAll, describe, expect, it } from 'vitest';
import { AppautoscalingPolicy } from '@cdktf/provider-aws/lib/appautoscaling-policy/index.js';
import { AppautoscalingTarget } from '@cdktf/provider-aws/lib/appautoscaling-target/index.js';
import { CloudwatchLogGroup } from '@cdktf/provider-aws/lib/cloudwatch-log-group/index.js';
import { EcsService } from '@cdktf/provider-aws/lib/ecs-service/index.js';
import { EcsTaskDefinition } from '@cdktf/provider-aws/lib/ecs-task-definition/index.js';
import { resource, synthStack, testParams } from './support/stack.js';
import type { Synthesized } from './support/stack.js';

describe('FargateService', () => {
  let s: Synthesized;
  let container: Record<string, any>;
  let env: Record<string, string>;
  const params = testParams({ taskCpu: 2048, taskMemoryMiB: 4096, minTasks: 2, maxTasks: 6, sessionsTargetPerTask: 70 });
  beforeAll(() => {
    s = synthStack(params);
    const defs = JSON.parse(resource(s.json, 'aws_ecs_task_definition').container_definitions) as Record<string, any>[];
    expect(defs).toHaveLength(1);
    container = defs[0]!;
    env = Object.fromEntries((container.environment as { name: string; value: string }[]).map((e) => [e.name, e.value]));
  });

  it('sizes the Fargate task from the parameters, with separate task and execution roles', () => {
    expect(s.text).toHaveResourceWithProperties(EcsTaskDefinition, {
      family: 'arogya-staging',
      requires_compatibilities: ['FARGATE'],
      network_mode: 'awsvpc',
      cpu: '2048',
      memory: '4096',
      task_role_arn: expect.stringContaining('iam_task-role'),
      execution_role_arn: expect.stringContaining('iam_execution-role'),
      skip_destroy: true,
    });
  });

  it('runs the image from the ECR repository as the non-root user', () => {
    expect(container.image).toMatch(/^\$\{aws_ecr_repository\.registry_repository_\w+\.repository_url\}:initial$/);
    expect(container.user).toBe('10001:10001');
    expect(container.portMappings).toEqual([{ containerPort: 3000, protocol: 'tcp', name: 'http' }]);
  });

  it('gives the container longer to stop than the app drains, within Fargate\'s limit', () => {
    expect(container.stopTimeout).toBeGreaterThanOrEqual(params.shutdownTimeoutMs / 1000);
    expect(container.stopTimeout).toBeLessThanOrEqual(120);
    expect(env['SHUTDOWN_TIMEOUT_MS']).toBe('25000');
  });

  it('injects the production settings the app reads', () => {
    expect(env).toMatchObject({
      NODE_ENV: 'production',
      HOST: '0.0.0.0',
      PORT: '3000',
      TRANSCRIBE_ENGINE: 'aws',
      AWS_REGION: 'eu-west-1',
      DB_SSL: 'verify-full',
      S3_PREFIX: 'recordings/',
      TRUST_PROXY: '10.20.0.0/16',
      ALLOWED_ORIGINS: 'https://live.staging.example.org',
      MAX_SESSIONS: '100',
    });
    expect(env['DB_SECRET_ID']).toMatch(/^\$\{aws_secretsmanager_secret\.database_credentials_secret_\w+\.arn\}$/);
    expect(env['S3_BUCKET']).toMatch(/^\$\{aws_s3_bucket\.recordings_bucket_\w+\.bucket\}$/);
    expect(env['S3_KMS_KEY_ID']).toMatch(/^\$\{aws_kms_key\.recordings-key_\w+\.arn\}$/);
  });

  it('injects SESSION_SECRET from Secrets Manager and no secret as plain text', () => {
    expect(container.secrets).toEqual([{ name: 'SESSION_SECRET', valueFrom: expect.stringMatching(/^\$\{aws_secretsmanager_secret\.session-secret_\w+\.arn\}$/) }]);
    expect(Object.keys(env)).not.toContain('SESSION_SECRET');
    for (const name of Object.keys(env)) expect(name).not.toMatch(/PASSWORD|SECRET$|TOKEN|DATABASE_URL/);
  });

  it('logs to a CloudWatch log group with retention', () => {
    expect(s.text).toHaveResourceWithProperties(CloudwatchLogGroup, { name: '/arogya/staging/service', retention_in_days: 30 });
    expect(container.logConfiguration).toEqual({
      logDriver: 'awslogs',
      options: { 'awslogs-group': expect.stringContaining('aws_cloudwatch_log_group.logs_group'), 'awslogs-region': 'eu-west-1', 'awslogs-stream-prefix': 'app' },
    });
  });

  it('probes /health inside the container too, with values ECS accepts', () => {
    expect(container.healthCheck.command.join(' ')).toContain('http://127.0.0.1:3000/health');
    const h = container.healthCheck as { interval: number; timeout: number; retries: number; startPeriod: number };
    expect(h.interval).toBeGreaterThanOrEqual(5);
    expect(h.interval).toBeLessThanOrEqual(300);
    expect(h.timeout).toBeGreaterThanOrEqual(2);
    expect(h.timeout).toBeLessThan(h.interval);
    expect(h.retries).toBeGreaterThanOrEqual(1);
    expect(h.retries).toBeLessThanOrEqual(10);
    expect(h.startPeriod).toBeLessThanOrEqual(300);
  });

  it('asks nothing Fargate rejects: no privileged mode, no host devices, a stopTimeout within 120 s', () => {
    expect(container.privileged ?? false).toBe(false);
    expect(container.linuxParameters?.devices ?? []).toEqual([]);
    expect(container.linuxParameters?.capabilities?.add ?? []).toEqual([]);
    expect(container.stopTimeout).toBeLessThanOrEqual(120);
  });

  it('can deploy and never moves tasks on its own: room above 100 % for new tasks, zone rebalancing off', () => {
    const svc = resource(s.json, 'aws_ecs_service');
    // With 100 % minimum healthy, ECS can only start a new task if the maximum leaves room for it.
    expect(svc.deployment_maximum_percent).toBeGreaterThan(svc.deployment_minimum_healthy_percent);
    expect(svc.deployment_maximum_percent).toBeLessThanOrEqual(200);
    expect(svc.availability_zone_rebalancing).toBe('DISABLED');
  });

  it('starts no task on the first apply before the listener, the database and its secret value exist', () => {
    const dependsOn = resource(s.json, 'aws_ecs_service').depends_on as string[];
    // Terraform's JSON syntax: plain references, and each names a resource of this stack.
    for (const d of dependsOn) expect(s.json.resource[d.split('.')[0]!]?.[d.split('.')[1]!]).toBeDefined();
    expect(dependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/^aws_lb_listener\.load-balancer_https/), expect.stringMatching(/^aws_db_instance\.database_instance/), expect.stringMatching(/^aws_secretsmanager_secret_version\.database_credentials_value/)]));
  });

  it('deploys behind the target group in private subnets with the circuit breaker rolling back', () => {
    expect(s.text).toHaveResourceWithProperties(EcsService, {
      launch_type: 'FARGATE',
      desired_count: 2,
      deployment_circuit_breaker: { enable: true, rollback: true },
      deployment_minimum_healthy_percent: 100,
      network_configuration: { assign_public_ip: false, subnets: [expect.stringContaining('network_private-0'), expect.stringContaining('network_private-1')] },
      load_balancer: [{ container_name: 'app', container_port: 3000, target_group_arn: expect.stringContaining('aws_lb_target_group.') }],
      // The deploy command owns the revision and autoscaling owns the count.
      lifecycle: { ignore_changes: ['task_definition', 'desired_count'] },
    });
  });

  it('scales between the bounds on CPU and on live sessions per task', () => {
    expect(s.text).toHaveResourceWithProperties(AppautoscalingTarget, {
      min_capacity: 2,
      max_capacity: 6,
      scalable_dimension: 'ecs:service:DesiredCount',
      resource_id: expect.stringMatching(/^service\/\$\{aws_ecs_cluster\..+\.name\}\/\$\{aws_ecs_service\..+\.name\}$/),
    });
    expect(s.text).toHaveResourceWithProperties(AppautoscalingPolicy, {
      policy_type: 'TargetTrackingScaling',
      target_tracking_scaling_policy_configuration: {
        predefined_metric_specification: { predefined_metric_type: 'ECSServiceAverageCPUUtilization' },
        target_value: 60,
      },
    });
    expect(s.text).toHaveResourceWithProperties(AppautoscalingPolicy, {
      policy_type: 'TargetTrackingScaling',
      target_tracking_scaling_policy_configuration: {
        customized_metric_specification: { namespace: 'Arogya/staging', metric_name: 'LiveSessions', statistic: 'Average' },
        target_value: 70,
      },
    });
  });
});
