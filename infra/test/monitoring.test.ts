import { beforeAll, describe, expect, it } from 'vitest';
import { CloudwatchLogMetricFilter } from '@cdktf/provider-aws/lib/cloudwatch-log-metric-filter/index.js';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm/index.js';
import { SnsTopicSubscription } from '@cdktf/provider-aws/lib/sns-topic-subscription/index.js';
import fs from 'node:fs';
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { ALARMS, EVENT_NOTIFICATIONS, defaultMaxConnections } from '../src/monitoring.js';
import { ResolvedStack } from './support/policies.js';
import { ref, resource, resources, synthStack, testParams } from './support/stack.js';
import type { Synthesized } from './support/stack.js';

describe('Monitoring', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthStack(testParams({ transcribeConcurrentStreamsQuota: 200 }));
  });
  const alarm = (key: string) => resources(s.json, 'aws_cloudwatch_metric_alarm').find(([, a]) => a.alarm_name === `arogya-staging-${key}`)?.[1];

  it('counts error log lines by the pino level label', () => {
    expect(s.text).toHaveResourceWithProperties(CloudwatchLogMetricFilter, {
      pattern: '{ $.level = "error" }',
      log_group_name: expect.stringContaining('aws_cloudwatch_log_group.'),
      metric_transformation: { name: 'ErrorLogs', namespace: 'Arogya/staging', value: '1' },
    });
  });

  it.each([
    ['LiveSessions', '$.liveSessions'],
    ['ChunkAckP99Ms', '$.chunkAckP99Ms'],
    ['CaptionLatencyP95Ms', '$.captionLatencyP95Ms'],
    ['EngineErrors', '$.engineErrors'],
    ['DependenciesDown', '$.dependenciesDown'],
  ])('turns service_metrics lines into %s from %s', (name, value) => {
    expect(s.text).toHaveResourceWithProperties(CloudwatchLogMetricFilter, {
      pattern: '{ $.msg = "service_metrics" }',
      metric_transformation: { name, namespace: 'Arogya/staging', value },
    });
  });

  it('has one alarm per runbook entry, each notifying the SNS topic on alarm and on recovery', () => {
    const names = resources(s.json, 'aws_cloudwatch_metric_alarm').map(([, a]) => a.alarm_name).sort();
    expect(names).toEqual(ALARMS.map((k) => `arogya-staging-${k}`).sort());
    for (const key of ALARMS) {
      const a = alarm(key)!;
      expect(a.alarm_actions).toEqual([expect.stringMatching(/^\$\{aws_sns_topic\.monitoring_alarms_\w+\.arn\}$/)]);
      expect(a.ok_actions).toEqual(a.alarm_actions);
      expect(a.alarm_description).toContain(`DEPLOYMENT.md, alarm ${key}`);
    }
    expect(s.text).toHaveResourceWithProperties(SnsTopicSubscription, { protocol: 'email', endpoint: 'oncall@example.org' });
  });

  it('alarms on the 5xx rate from target and load-balancer 5xx over requests', () => {
    const a = alarm('alb-5xx-rate')!;
    expect(a.threshold).toBe(5);
    const expression = a.metric_query.find((q: { return_data?: boolean }) => q.return_data)!.expression;
    expect(expression).toContain('target5xx');
    expect(expression).toContain('elb5xx');
    expect(expression).toContain('/ requests');
    const metrics = a.metric_query.filter((q: { metric?: unknown }) => q.metric).map((q: { metric: { metric_name: string } }) => q.metric.metric_name).sort();
    expect(metrics).toEqual(['HTTPCode_ELB_5XX_Count', 'HTTPCode_Target_5XX_Count', 'RequestCount']);
  });

  it('alarms on unhealthy and missing healthy targets of the target group', () => {
    expect(s.text).toHaveResourceWithProperties(CloudwatchMetricAlarm, {
      alarm_name: 'arogya-staging-unhealthy-hosts',
      namespace: 'AWS/ApplicationELB',
      metric_name: 'UnHealthyHostCount',
      comparison_operator: 'GreaterThanThreshold',
      threshold: 0,
      dimensions: { TargetGroup: expect.stringContaining('arn_suffix'), LoadBalancer: expect.stringContaining('arn_suffix') },
    });
    expect(alarm('no-healthy-hosts')).toMatchObject({ metric_name: 'HealthyHostCount', comparison_operator: 'LessThanThreshold', threshold: 1, treat_missing_data: 'breaching' });
  });

  it('alarms when a shared dependency is down on any task for 2 minutes, though /health stays 200', () => {
    expect(alarm('dependency-down')).toMatchObject({ namespace: 'Arogya/staging', metric_name: 'DependenciesDown', statistic: 'Maximum', comparison_operator: 'GreaterThanThreshold', threshold: 0, evaluation_periods: 2 });
  });

  it('alarms on the latency the app reports and on sessions nearing the Transcribe quota', () => {
    expect(alarm('chunk-ack-latency')).toMatchObject({ namespace: 'Arogya/staging', metric_name: 'ChunkAckP99Ms', threshold: 1000 });
    expect(alarm('caption-latency')).toMatchObject({ namespace: 'Arogya/staging', metric_name: 'CaptionLatencyP95Ms', threshold: 3000 });
    expect(alarm('engine-errors')).toMatchObject({ metric_name: 'EngineErrors', statistic: 'Sum' });
    expect(alarm('error-logs')).toMatchObject({ metric_name: 'ErrorLogs', statistic: 'Sum', threshold: 10 });
    expect(alarm('sessions-near-transcribe-quota')).toMatchObject({ metric_name: 'LiveSessions', statistic: 'Sum', threshold: 160 });
  });

  it('draws a dashboard of the same signals', () => {
    const body = JSON.parse(resource(s.json, 'aws_cloudwatch_dashboard').dashboard_body) as { widgets: { properties: { metrics?: string[][] } }[] };
    const metricNames = body.widgets.flatMap((w) => (w.properties.metrics ?? []).map((m) => m[1]));
    for (const name of ['LiveSessions', 'ChunkAckP99Ms', 'CaptionLatencyP95Ms', 'ErrorLogs', 'EngineErrors', 'HTTPCode_Target_5XX_Count', 'UnHealthyHostCount', 'CPUUtilization']) {
      expect(metricNames).toContain(name);
    }
  });

  it('alarms when fewer tasks run than desired for 5 minutes (desired minus running, from Container Insights)', () => {
    const a = alarm('running-tasks-below-desired')!;
    expect(a).toMatchObject({ comparison_operator: 'GreaterThanThreshold', threshold: 0, evaluation_periods: 5, datapoints_to_alarm: 5 });
    const q = (id: string) => a.metric_query.find((m: { id: string }) => m.id === id);
    expect(a.metric_query.find((m: { return_data?: boolean }) => m.return_data).expression).toBe('desired - running');
    for (const [id, name] of [['desired', 'DesiredTaskCount'], ['running', 'RunningTaskCount']] as const) {
      expect(q(id).metric).toMatchObject({ namespace: 'ECS/ContainerInsights', metric_name: name, dimensions: { ClusterName: expect.stringContaining('aws_ecs_cluster.'), ServiceName: expect.stringContaining('aws_ecs_service.') } });
    }
    // Container Insights must be on for those metrics to exist.
    expect(resource(s.json, 'aws_ecs_cluster').setting).toContainEqual({ name: 'containerInsights', value: 'enhanced' });
  });

  it('alarms on service CPU and memory above 85% (autoscaling holds CPU at its 60% target) and on database CPU', () => {
    expect(alarm('service-cpu-high')).toMatchObject({ namespace: 'AWS/ECS', metric_name: 'CPUUtilization', threshold: 85, dimensions: { ServiceName: expect.stringContaining('aws_ecs_service.') } });
    expect(alarm('service-memory-high')).toMatchObject({ namespace: 'AWS/ECS', metric_name: 'MemoryUtilization', statistic: 'Maximum', threshold: 85 });
    expect(alarm('service-cpu-high')!.threshold).toBeGreaterThan(resource(s.json, 'aws_appautoscaling_policy', 'cpu').target_tracking_scaling_policy_configuration.target_value);
    expect(alarm('database-cpu-high')).toMatchObject({ namespace: 'AWS/RDS', metric_name: 'CPUUtilization', threshold: 80, dimensions: { DBInstanceIdentifier: expect.stringContaining('aws_db_instance.') } });
  });

  it('alarms on database connections at 80% of the instance class\'s max_connections (db.t4g.small: 225, so 180)', () => {
    expect(defaultMaxConnections('db.t4g.small')).toBe(225);
    expect(defaultMaxConnections('db.m7g.large')).toBe(901);
    expect(alarm('database-connections-high')).toMatchObject({ namespace: 'AWS/RDS', metric_name: 'DatabaseConnections', threshold: 180 });
    const production = synthStack(testParams({ name: 'production', dbInstanceClass: 'db.m7g.large', deletionProtection: true }));
    const prodAlarm = resources(production.json, 'aws_cloudwatch_metric_alarm').find(([, a]) => a.alarm_name === 'arogya-production-database-connections-high')![1];
    expect(prodAlarm.threshold).toBe(720);
  });

  it('sends RDS failover, failure and storage events of the instance to the topic', () => {
    const sub = resource(s.json, 'aws_db_event_subscription');
    expect(sub).toMatchObject({ source_type: 'db-instance', sns_topic: expect.stringContaining('aws_sns_topic.monitoring_alarms'), source_ids: [expect.stringContaining('aws_db_instance.database_instance')] });
    for (const category of ['failover', 'failure', 'low storage']) expect(sub.event_categories).toContain(category);
  });

  it('sends a failed ECS deployment (circuit breaker) of the service to the topic through EventBridge', () => {
    const rule = resource(s.json, 'aws_cloudwatch_event_rule');
    expect(JSON.parse(rule.event_pattern)).toEqual({
      source: ['aws.ecs'],
      'detail-type': ['ECS Deployment State Change'],
      resources: [`\${${ref(s.json, 'aws_ecs_service')}.id}`],
      detail: { eventName: ['SERVICE_DEPLOYMENT_FAILED'] },
    });
    const target = resource(s.json, 'aws_cloudwatch_event_target');
    expect(target.rule).toBe(`\${${ref(s.json, 'aws_cloudwatch_event_rule')}.name}`);
    expect(target.arn).toBe(`\${${ref(s.json, 'aws_sns_topic')}.arn}`);
  });

  it.each([
    ['this stack\'s alarms', 'cloudwatch.amazonaws.com', { 'aws:SourceArn': 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:arogya-staging-unhealthy-hosts', 'aws:SourceAccount': '123456789012' }, true],
    ['RDS events of this account', 'events.rds.amazonaws.com', { 'aws:SourceArn': 'arn:aws:rds:eu-west-1:123456789012:db:arogya-staging', 'aws:SourceAccount': '123456789012' }, true],
    ['the deployment-failed rule', 'events.amazonaws.com', { 'aws:SourceArn': 'arn:aws:events:eu-west-1:123456789012:rule/arogya-staging-deployment-failed' }, true],
    ['another account\'s alarms', 'cloudwatch.amazonaws.com', { 'aws:SourceArn': 'arn:aws:cloudwatch:eu-west-1:210987654321:alarm:arogya-staging-x', 'aws:SourceAccount': '210987654321' }, false],
    ['another account\'s RDS events', 'events.rds.amazonaws.com', { 'aws:SourceArn': 'arn:aws:rds:eu-west-1:210987654321:db:x', 'aws:SourceAccount': '210987654321' }, false],
    ['another EventBridge rule', 'events.amazonaws.com', { 'aws:SourceArn': 'arn:aws:events:eu-west-1:123456789012:rule/someone-else' }, false],
  ] as const)('topic policy: may %s publish (%s)? %s', async (_name, principal, context, allowed) => {
    const stack = new ResolvedStack(s.json, testParams({ transcribeConcurrentStreamsQuota: 200 }));
    const topicArn = 'arn:aws:sns:eu-west-1:123456789012:arogya-staging-alarms';
    expect(stack.resolve(`\${${ref(s.json, 'aws_sns_topic')}.arn}`)).toBe(topicArn);
    const response = await runSimulation(
      {
        request: { principal, action: 'sns:Publish', resource: { resource: topicArn, accountId: '123456789012' }, contextVariables: { 'aws:SecureTransport': 'true', ...context } },
        identityPolicies: [],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: stack.policyOf('aws_sns_topic_policy', 'alarms-policy'),
      },
      {},
    );
    if (response.resultType !== 'single') throw new Error(JSON.stringify(response));
    expect(response.overallResult === 'Allowed').toBe(allowed);
  });

  it('has a runbook entry in DEPLOYMENT.md for every alarm and event notification', () => {
    const doc = fs.readFileSync(new URL('../../DEPLOYMENT.md', import.meta.url), 'utf8');
    const headings = [...doc.matchAll(/^### (\S+)$/gm)].map((m) => m[1]);
    for (const key of [...ALARMS, ...EVENT_NOTIFICATIONS]) expect(headings).toContain(key);
  });
});
