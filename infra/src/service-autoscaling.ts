import { Construct } from 'constructs';
import { AppautoscalingPolicy } from '@cdktf/provider-aws/lib/appautoscaling-policy/index.js';
import { AppautoscalingTarget } from '@cdktf/provider-aws/lib/appautoscaling-target/index.js';

export interface ServiceAutoscalingProps {
  readonly clusterName: string;
  readonly serviceName: string;
  readonly minTasks: number;
  readonly maxTasks: number;
  readonly cpuTargetPercent: number;
  /** The per-task live-sessions metric (from the app's `service_metrics` log line). */
  readonly sessionsMetric: { namespace: string; name: string };
  readonly sessionsTargetPerTask: number;
}

/**
 * Target tracking on two signals; the service scales out when either asks. Live sessions is the
 * average of what each task reports once a minute, i.e. sessions per task. Scale-in is slow: a
 * removed task drains its sessions, which ends them for the clinician.
 */
export class ServiceAutoscaling extends Construct {
  constructor(scope: Construct, id: string, props: ServiceAutoscalingProps) {
    super(scope, id);
    const target = new AppautoscalingTarget(this, 'target', {
      serviceNamespace: 'ecs',
      resourceId: `service/${props.clusterName}/${props.serviceName}`,
      scalableDimension: 'ecs:service:DesiredCount',
      minCapacity: props.minTasks,
      maxCapacity: props.maxTasks,
    });
    const common = {
      policyType: 'TargetTrackingScaling',
      resourceId: target.resourceId,
      scalableDimension: target.scalableDimension,
      serviceNamespace: target.serviceNamespace,
    };
    new AppautoscalingPolicy(this, 'cpu', {
      ...common,
      name: 'cpu',
      targetTrackingScalingPolicyConfiguration: {
        predefinedMetricSpecification: { predefinedMetricType: 'ECSServiceAverageCPUUtilization' },
        targetValue: props.cpuTargetPercent,
        scaleOutCooldown: 60,
        scaleInCooldown: 600,
      },
    });
    new AppautoscalingPolicy(this, 'live-sessions', {
      ...common,
      name: 'live-sessions',
      targetTrackingScalingPolicyConfiguration: {
        customizedMetricSpecification: {
          namespace: props.sessionsMetric.namespace,
          metricName: props.sessionsMetric.name,
          statistic: 'Average',
          unit: 'Count',
        },
        targetValue: props.sessionsTargetPerTask,
        scaleOutCooldown: 60,
        scaleInCooldown: 900,
      },
    });
  }
}
