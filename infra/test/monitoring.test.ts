import { beforeAll, describe, expect, it } from 'vitest';
import { CloudwatchLogMetricFilter } from '@cdktf/provider-aws/lib/cloudwatch-log-metric-filter/index.js';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm/index.js';
import { SnsTopicSubscription } from '@cdktf/provider-aws/lib/sns-topic-subscription/index.js';
import { ALARMS } from '../src/monitoring.js';
import { resource, resources, synthStack, testParams } from './support/stack.js';
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
});
