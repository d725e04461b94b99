import { Construct } from 'constructs';
import { CloudwatchDashboard } from '@cdktf/provider-aws/lib/cloudwatch-dashboard/index.js';
import { CloudwatchLogMetricFilter } from '@cdktf/provider-aws/lib/cloudwatch-log-metric-filter/index.js';
import { CloudwatchMetricAlarm } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm/index.js';
import type { CloudwatchMetricAlarmConfig } from '@cdktf/provider-aws/lib/cloudwatch-metric-alarm/index.js';
import { CloudwatchEventRule } from '@cdktf/provider-aws/lib/cloudwatch-event-rule/index.js';
import { CloudwatchEventTarget } from '@cdktf/provider-aws/lib/cloudwatch-event-target/index.js';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js';
import { DbEventSubscription } from '@cdktf/provider-aws/lib/db-event-subscription/index.js';
import { SnsTopic } from '@cdktf/provider-aws/lib/sns-topic/index.js';
import { SnsTopicPolicy } from '@cdktf/provider-aws/lib/sns-topic-policy/index.js';
import { SnsTopicSubscription } from '@cdktf/provider-aws/lib/sns-topic-subscription/index.js';

export interface MonitoringProps {
  readonly name: string;
  readonly region: string;
  readonly accountId: string;
  readonly logGroupName: string;
  readonly loadBalancerArnSuffix: string;
  readonly targetGroupArnSuffix: string;
  readonly clusterName: string;
  readonly serviceName: string;
  readonly databaseIdentifier: string;
  /** The RDS instance class: its memory sets PostgreSQL's default max_connections. */
  readonly databaseInstanceClass: string;
  /** The ECS service's ARN (EventBridge deployment events name it). */
  readonly serviceArn: string;
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
  'running-tasks-below-desired',
  'service-cpu-high',
  'service-memory-high',
  'database-cpu-high',
  'database-connections-high',
] as const;

/**
 * Events (not metrics) that also go to the alarm topic, each with a runbook entry in DEPLOYMENT.md:
 * RDS instance events (a Multi-AZ failover, a failure, storage full) through an RDS event
 * subscription, and a deployment the circuit breaker failed through EventBridge.
 */
export const EVENT_NOTIFICATIONS = ['database-events', 'deployment-failed'] as const;
/** RDS event categories that reach the topic (RDS "Working with Amazon RDS event notification"). */
export const DATABASE_EVENT_CATEGORIES = ['failover', 'failure', 'low storage', 'maintenance', 'notification', 'recovery', 'restoration'] as const;

/** Memory (GiB) of the RDS instance classes the stack accepts. */
export const DB_INSTANCE_MEMORY_GIB: Readonly<Record<string, number>> = Object.fromEntries([
  ...['micro', 'small', 'medium', 'large', 'xlarge', '2xlarge'].map((size, i) => [`db.t4g.${size}`, 2 ** i]),
  ...['m6g', 'm7g', 'm6i', 'm7i'].flatMap((family) => ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge'].map((size, i) => [`db.${family}.${size}`, 8 * 2 ** i])),
  ...['r6g', 'r7g', 'r6i', 'r7i'].flatMap((family) => ['large', 'xlarge', '2xlarge', '4xlarge', '8xlarge'].map((size, i) => [`db.${family}.${size}`, 16 * 2 ** i])),
]);

/**
 * RDS for PostgreSQL's default `max_connections`: LEAST(DBInstanceClassMemory / 9531392, 5000).
 * DBInstanceClassMemory is a little below the class's nominal memory, so the real limit is a few
 * percent lower than this (db.t4g.small: 225 here).
 */
export function defaultMaxConnections(instanceClass: string): number {
  const gib = DB_INSTANCE_MEMORY_GIB[instanceClass];
  if (gib === undefined) throw new Error(`unknown RDS instance class ${instanceClass}`);
  return Math.min(Math.floor((gib * 1024 ** 3) / 9531392), 5000);
}

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
    const { accountId, region } = props;
    // Who may publish: this stack's alarms, RDS events of this account, and the deployment rule.
    // (A topic policy replaces the default one, so CloudWatch is named as well.)
    const deploymentFailed = new CloudwatchEventRule(this, 'deployment-failed', {
      name: `${prefix}-deployment-failed`,
      description: 'ECS deployment of the arogya-live service failed (circuit breaker). Runbook: DEPLOYMENT.md, deployment-failed.',
      eventPattern: JSON.stringify({
        source: ['aws.ecs'],
        'detail-type': ['ECS Deployment State Change'],
        resources: [props.serviceArn],
        detail: { eventName: ['SERVICE_DEPLOYMENT_FAILED'] },
      }),
    });
    const topicPolicy = new DataAwsIamPolicyDocument(this, 'topic-policy', {
      statement: [
        {
          sid: 'CloudWatchAlarms',
          principals: [{ type: 'Service', identifiers: ['cloudwatch.amazonaws.com'] }],
          actions: ['sns:Publish'],
          resources: [this.topic.arn],
          condition: [
            { test: 'ArnLike', variable: 'aws:SourceArn', values: [`arn:aws:cloudwatch:${region}:${accountId}:alarm:${prefix}-*`] },
            { test: 'StringEquals', variable: 'aws:SourceAccount', values: [accountId] },
          ],
        },
        {
          sid: 'DatabaseEvents',
          principals: [{ type: 'Service', identifiers: ['events.rds.amazonaws.com'] }],
          actions: ['sns:Publish'],
          resources: [this.topic.arn],
          condition: [
            { test: 'ArnLike', variable: 'aws:SourceArn', values: [`arn:aws:rds:${region}:${accountId}:*`] },
            { test: 'StringEquals', variable: 'aws:SourceAccount', values: [accountId] },
          ],
        },
        {
          sid: 'DeploymentFailedEvents',
          principals: [{ type: 'Service', identifiers: ['events.amazonaws.com'] }],
          actions: ['sns:Publish'],
          resources: [this.topic.arn],
          condition: [{ test: 'ArnEquals', variable: 'aws:SourceArn', values: [deploymentFailed.arn] }],
        },
      ],
    });
    new SnsTopicPolicy(this, 'alarms-policy', { arn: this.topic.arn, policy: topicPolicy.json });
    new CloudwatchEventTarget(this, 'deployment-failed-target', { rule: deploymentFailed.name, arn: this.topic.arn, targetId: 'alarm-topic' });
    new DbEventSubscription(this, 'database-events', {
      name: `${prefix}-database`,
      snsTopic: this.topic.arn,
      sourceType: 'db-instance',
      sourceIds: [props.databaseIdentifier],
      eventCategories: [...DATABASE_EVENT_CATEGORIES],
    });
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

    const service = { ClusterName: props.clusterName, ServiceName: props.serviceName };
    alarm('running-tasks-below-desired', 'Fewer tasks running than desired for 5 minutes: tasks fail to start or keep stopping.', {
      threshold: 0,
      evaluationPeriods: 5,
      datapointsToAlarm: 5,
      metricQuery: [
        { id: 'missing', label: 'desired - running', returnData: true, expression: 'desired - running' },
        { id: 'desired', metric: { namespace: 'ECS/ContainerInsights', metricName: 'DesiredTaskCount', stat: 'Maximum', period: 60, dimensions: service } },
        { id: 'running', metric: { namespace: 'ECS/ContainerInsights', metricName: 'RunningTaskCount', stat: 'Minimum', period: 60, dimensions: service } },
      ],
    });
    // Autoscaling holds CPU near its 60 % target; 85 % for 10 minutes means it cannot (maxTasks reached).
    alarm('service-cpu-high', 'Service CPU above 85% for 10 minutes: autoscaling is not keeping up (maxTasks?).', {
      namespace: 'AWS/ECS',
      metricName: 'CPUUtilization',
      statistic: 'Average',
      period: 300,
      threshold: 85,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      dimensions: service,
    });
    alarm('service-memory-high', 'Service memory above 85% for 10 minutes: a task may be killed out of memory, ending its sessions.', {
      namespace: 'AWS/ECS',
      metricName: 'MemoryUtilization',
      statistic: 'Maximum',
      period: 300,
      threshold: 85,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      dimensions: service,
    });
    const db = { DBInstanceIdentifier: props.databaseIdentifier };
    alarm('database-cpu-high', 'Database CPU above 80% for 15 minutes.', {
      namespace: 'AWS/RDS',
      metricName: 'CPUUtilization',
      statistic: 'Average',
      period: 300,
      threshold: 80,
      evaluationPeriods: 3,
      datapointsToAlarm: 3,
      dimensions: db,
    });
    alarm('database-connections-high', 'Database connections above 80% of max_connections for 10 minutes.', {
      namespace: 'AWS/RDS',
      metricName: 'DatabaseConnections',
      statistic: 'Maximum',
      period: 300,
      threshold: Math.floor(defaultMaxConnections(props.databaseInstanceClass) * 0.8),
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
      dimensions: db,
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
