import { Construct } from 'constructs';
import { CloudwatchDashboard } from '@cdktf/provider-aws/lib/cloudwatch-dashboard/index.js';
import { CloudwatchLogMetricFilter } from '@cdktf/provider-aws/lib/cloudwatch-log-metric-filter/index.js';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm/index.js';
import type { CloudwatchMetricAlarmConfig } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm/index.js';
import { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic/index.js';
import { SnsTopicSubscription } from '@cdktf/provider-aws/lib/sns-topic-subscription/index.js';

export interface MonitoringProps {
  readonly name: string;
  readonly region: string;
  readonly logGroupName: string;
  readonly loadBalancerArnSuffix: string;
  readonly targetGroupArnSuffix: string;
  readonly clusterName: string;
  readonly serviceName: string;
  readonly databaseIdentifier: string;
  readonly alarmEmail: string;
  readonly transcribeConcurrentStreamsQuota: number;
}

/** Metrics made from the app's log lines (see DEPLOYMENT.md, "Dashboards and alarms"). */
export const APP_METRICS = {
  errorLogs: 'ErrorLogs',
  liveSessions: 'LiveSessions',
  chunkAckP99Ms: 'ChunkAckP99Ms',
  captionLatencyP95Ms: 'CaptionLatencyP95Ms',
  engineErrors: 'EngineErrors',
  dependenciesDown: 'DependenciesDown',
} as const;

/** Alarm names without the `arogya-<env>-` prefix; DEPLOYMENT.md has a runbook for each. */
export const ALARMS = [
  'alb-5xx-rate',
  'unhealthy-hosts',
  'dependency-down',
  'no-healthy-hosts',
  'error-logs',
  'chunk-ack-latency',
  'caption-latency',
  'engine-errors',
  'sessions-near-transcribe-quota',
  'database-storage-low',
] as const;

export function metricsNamespace(envName: string): string {
  return `Arogya/${envName}`;
}

/**
 * Log metric filters on the app's JSON lines, an SNS topic, one alarm per failure mode, and a
 * dashboard of the same signals.
 */
export class Monitoring extends Construct {
  readonly topic: SnsTopic;
  readonly namespace: string;
  readonly dashboardName: string;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const ns = (this.namespace = metricsNamespace(props.name));
    const prefix = `arogya-${props.name}`;

    this.topic = new SnsTopic(this, 'alarms', { name: `${prefix}-alarms` });
    if (props.alarmEmail !== '') {
      new SnsTopicSubscription(this, 'alarm-email', { topicArn: this.topic.arn, protocol: 'email', endpoint: props.alarmEmail });
    }

    const filter = (key: string, metricName: string, pattern: string, value: string, unit: string) =>
      new CloudwatchLogMetricFilter(this, `filter-${key}`, {
        name: `${prefix}-${key}`,
        logGroupName: props.logGroupName,
        pattern,
        metricTransformation: { name: metricName, namespace: ns, value, unit },
      });
    const serviceMetrics = '{ $.msg = "service_metrics" }';
    filter('error-logs', APP_METRICS.errorLogs, '{ $.level = "error" }', '1', 'Count');
    filter('live-sessions', APP_METRICS.liveSessions, serviceMetrics, '$.liveSessions', 'Count');
    filter('chunk-ack-p99', APP_METRICS.chunkAckP99Ms, serviceMetrics, '$.chunkAckP99Ms', 'Milliseconds');
    filter('caption-latency-p95', APP_METRICS.captionLatencyP95Ms, serviceMetrics, '$.captionLatencyP95Ms', 'Milliseconds');
    filter('engine-errors', APP_METRICS.engineErrors, serviceMetrics, '$.engineErrors', 'Count');
    filter('dependencies-down', APP_METRICS.dependenciesDown, serviceMetrics, '$.dependenciesDown', 'Count');

    const actions = { alarmActions: [this.topic.arn], okActions: [this.topic.arn] };
    const alarmArns: string[] = [];
    const alarm = (key: (typeof ALARMS)[number], description: string, config: Partial<CloudwatchMetricAlarmConfig>) => {
      const created = new CloudwatchMetricAlarm(this, `alarm-${key}`, {
        alarmName: `${prefix}-${key}`,
        alarmDescription: `${description} Runbook: DEPLOYMENT.md, alarm ${key}.`,
        comparisonOperator: 'GreaterThanThreshold',
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        threshold: 0,
        treatMissingData: 'notBreaching',
        ...actions,
        ...config,
      });
      alarmArns.push(created.arn);
    };
    const lb = { LoadBalancer: props.loadBalancerArnSuffix };
    const tg = { LoadBalancer: props.loadBalancerArnSuffix, TargetGroup: props.targetGroupArnSuffix };
    const appMetric = (metricName: string, statistic: string) => ({ namespace: ns, metricName, statistic, period: 60 });

    alarm('alb-5xx-rate', 'More than 5% of requests answered 5xx for 3 minutes.', {
      threshold: 5,
      metricQuery: [
        {
          id: 'rate',
          label: '5xx per 100 requests',
          returnData: true,
          expression: 'IF(FILL(requests, 0) > 0, 100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests, 0)',
        },
        { id: 'requests', metric: { namespace: 'AWS/ApplicationELB', metricName: 'RequestCount', stat: 'Sum', period: 60, dimensions: lb } },
        { id: 'target5xx', metric: { namespace: 'AWS/ApplicationELB', metricName: 'HTTPCode_Target_5XX_Count', stat: 'Sum', period: 60, dimensions: lb } },
        { id: 'elb5xx', metric: { namespace: 'AWS/ApplicationELB', metricName: 'HTTPCode_ELB_5XX_Count', stat: 'Sum', period: 60, dimensions: lb } },
      ],
    });
    alarm('unhealthy-hosts', 'A task has failed the /health check for 2 minutes.', {
      namespace: 'AWS/ApplicationELB',
      metricName: 'UnHealthyHostCount',
      statistic: 'Maximum',
      period: 60,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      dimensions: tg,
    });
    // A shared outage keeps /health at 200 `degraded` (replacing tasks would not cure it), so the
    // target-group alarms stay quiet: this one reports it, from what each task's health check saw.
    alarm('dependency-down', 'A dependency every task shares (database, S3/KMS, Transcribe) has been down for 2 minutes; /health says degraded.', {
      ...appMetric(APP_METRICS.dependenciesDown, 'Maximum'),
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
    });
    alarm('no-healthy-hosts', 'No task is healthy: the service is down.', {
      namespace: 'AWS/ApplicationELB',
      metricName: 'HealthyHostCount',
      statistic: 'Minimum',
      period: 60,
      comparisonOperator: 'LessThanThreshold',
      threshold: 1,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      treatMissingData: 'breaching',
      dimensions: tg,
    });
    alarm('error-logs', 'More than 10 error log lines in 5 minutes.', {
      ...appMetric(APP_METRICS.errorLogs, 'Sum'),
      period: 300,
      threshold: 10,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
    });
    alarm('chunk-ack-latency', 'p99 audio-chunk ack above 1 s for 3 minutes: clients buffer audio.', {
      ...appMetric(APP_METRICS.chunkAckP99Ms, 'Maximum'),
      threshold: 1000,
    });
    alarm('caption-latency', 'p95 caption latency above 3 s for 3 minutes.', {
      ...appMetric(APP_METRICS.captionLatencyP95Ms, 'Maximum'),
      threshold: 3000,
    });
    alarm('engine-errors', 'More than 5 transcription engine errors in 5 minutes.', {
      ...appMetric(APP_METRICS.engineErrors, 'Sum'),
      period: 300,
      threshold: 5,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
    });
    alarm('sessions-near-transcribe-quota', 'Live sessions above 80% of the account Transcribe streaming quota.', {
      // Each task logs its count once a minute, so the per-minute sum is the service-wide total.
      ...appMetric(APP_METRICS.liveSessions, 'Sum'),
      threshold: Math.floor(props.transcribeConcurrentStreamsQuota * 0.8),
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
    });
    alarm('database-storage-low', 'Less than 2 GiB free on the database volume.', {
      namespace: 'AWS/RDS',
      metricName: 'FreeStorageSpace',
      statistic: 'Minimum',
      period: 300,
      comparisonOperator: 'LessThanThreshold',
      threshold: 2 * 1024 ** 3,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      dimensions: { DBInstanceIdentifier: props.databaseIdentifier },
    });

    this.dashboardName = prefix;
    const widget = (title: string, metrics: unknown[][], x: number, y: number, stat = 'Sum') => ({
      type: 'metric',
      x,
      y,
      width: 12,
      height: 6,
      properties: { title, region: props.region, stat, period: 60, view: 'timeSeries', metrics },
    });
    new CloudwatchDashboard(this, 'dashboard', {
      dashboardName: this.dashboardName,
      dashboardBody: JSON.stringify({
        widgets: [
          widget('Live sessions (total)', [[ns, APP_METRICS.liveSessions]], 0, 0),
          widget('Latency (ms): chunk ack p99, caption p95', [[ns, APP_METRICS.chunkAckP99Ms], [ns, APP_METRICS.captionLatencyP95Ms]], 12, 0, 'Maximum'),
          widget('Errors: log lines, engine errors', [[ns, APP_METRICS.errorLogs], [ns, APP_METRICS.engineErrors]], 0, 6),
          widget(
            'Load balancer: requests, 5xx',
            [
              ['AWS/ApplicationELB', 'RequestCount', 'LoadBalancer', props.loadBalancerArnSuffix],
              ['AWS/ApplicationELB', 'HTTPCode_Target_5XX_Count', 'LoadBalancer', props.loadBalancerArnSuffix],
              ['AWS/ApplicationELB', 'HTTPCode_ELB_5XX_Count', 'LoadBalancer', props.loadBalancerArnSuffix],
            ],
            12,
            6,
          ),
          widget(
            'Targets: healthy, unhealthy',
            [
              ['AWS/ApplicationELB', 'HealthyHostCount', 'TargetGroup', props.targetGroupArnSuffix, 'LoadBalancer', props.loadBalancerArnSuffix],
              ['AWS/ApplicationELB', 'UnHealthyHostCount', 'TargetGroup', props.targetGroupArnSuffix, 'LoadBalancer', props.loadBalancerArnSuffix],
            ],
            0,
            12,
            'Maximum',
          ),
          widget(
            'Service CPU and memory (%)',
            [
              ['AWS/ECS', 'CPUUtilization', 'ClusterName', props.clusterName, 'ServiceName', props.serviceName],
              ['AWS/ECS', 'MemoryUtilization', 'ClusterName', props.clusterName, 'ServiceName', props.serviceName],
            ],
            12,
            12,
            'Average',
          ),
          { type: 'alarm', x: 0, y: 18, width: 24, height: 4, properties: { title: 'Alarms', alarms: alarmArns } },
        ],
      }),
    });
  }
}
