import { Construct } from 'constructs';
import type { ITerraformDependable } from 'cdktf';
import { Lb } from '@cdktf/provider-aws/lib/lb/index.js';
import { LbListener } from '@cdktf/provider-aws/lib/lb-listener/index.js';
import { LbTargetGroup } from '@cdktf/provider-aws/lib/lb-target-group/index.js';

/** TLS 1.3 with TLS 1.2 fallback and forward-secret ciphers only. */
export const TLS_POLICY = 'ELBSecurityPolicy-TLS13-1-2-2021-06';

export interface LoadBalancerProps {
  readonly name: string;
  readonly vpcId: string;
  readonly subnetIds: string[];
  readonly securityGroupId: string;
  readonly certificateArn: string;
  readonly containerPort: number;
  readonly idleTimeoutSeconds: number;
  /** Covers noticing the stop, the app's drain and the browsers moving (params.ts). */
  readonly deregistrationDelaySeconds: number;
  readonly deletionProtection: boolean;
  /** Access logs to this bucket under `prefix`; AWS checks the bucket policy when the ALB is created, so it comes first. */
  readonly accessLogs: { readonly bucket: string; readonly prefix: string; readonly after: ITerraformDependable };
}

/**
 * Internet-facing ALB: HTTPS with the ACM certificate, HTTP redirected to HTTPS, a long idle timeout
 * for WebSockets, sticky sessions for Socket.IO's long-polling fallback (each poll must reach the
 * task that holds the session), health checks on `/health`.
 */
export class LoadBalancer extends Construct {
  readonly lb: Lb;
  readonly targetGroup: LbTargetGroup;
  readonly httpsListener: LbListener;

  constructor(scope: Construct, id: string, props: LoadBalancerProps) {
    super(scope, id);
    this.lb = new Lb(this, 'alb', {
      name: `arogya-${props.name}`,
      loadBalancerType: 'application',
      internal: false,
      subnets: props.subnetIds,
      securityGroups: [props.securityGroupId],
      idleTimeout: props.idleTimeoutSeconds,
      dropInvalidHeaderFields: true,
      enableDeletionProtection: props.deletionProtection,
      accessLogs: { bucket: props.accessLogs.bucket, prefix: props.accessLogs.prefix, enabled: true },
      dependsOn: [props.accessLogs.after],
    });
    this.targetGroup = new LbTargetGroup(this, 'targets', {
      name: `arogya-${props.name}`,
      vpcId: props.vpcId,
      targetType: 'ip', // Fargate awsvpc
      port: props.containerPort,
      protocol: 'HTTP',
      deregistrationDelay: String(props.deregistrationDelaySeconds),
      healthCheck: {
        enabled: true,
        path: '/health',
        matcher: '200',
        interval: 15,
        timeout: 5,
        healthyThreshold: 2,
        unhealthyThreshold: 3,
      },
      stickiness: { enabled: true, type: 'lb_cookie', cookieDuration: 86400 },
    });
    new LbListener(this, 'http', {
      loadBalancerArn: this.lb.arn,
      port: 80,
      protocol: 'HTTP',
      defaultAction: [{ type: 'redirect', redirect: { protocol: 'HTTPS', port: '443', statusCode: 'HTTP_301' } }],
    });
    this.httpsListener = new LbListener(this, 'https', {
      loadBalancerArn: this.lb.arn,
      port: 443,
      protocol: 'HTTPS',
      sslPolicy: TLS_POLICY,
      certificateArn: props.certificateArn,
      defaultAction: [{ type: 'forward', targetGroupArn: this.targetGroup.arn }],
    });
  }
}
