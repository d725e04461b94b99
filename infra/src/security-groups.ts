import { Construct } from 'constructs';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group/index.js';
import { VpcSecurityGroupEgressRule } from '@cdktf/provider-aws/lib/vpc-security-group-egress-rule/index.js';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule/index.js';

export interface SecurityGroupsProps {
  readonly name: string;
  readonly vpcId: string;
  readonly vpcCidr: string;
  readonly containerPort: number;
}

/**
 * The three traffic boundaries: internet → ALB (80, 443), ALB → tasks (container port), tasks → RDS
 * (5432). Tasks may also reach HTTPS inside the VPC (the endpoints) and S3's gateway endpoint.
 */
export class SecurityGroups extends Construct {
  readonly alb: SecurityGroup;
  readonly service: SecurityGroup;
  readonly database: SecurityGroup;

  constructor(scope: Construct, id: string, props: SecurityGroupsProps) {
    super(scope, id);
    const group = (key: string, description: string) =>
      new SecurityGroup(this, key, { name: `arogya-${props.name}-${key}`, description, vpcId: props.vpcId });
    this.alb = group('alb', 'Public HTTPS (and HTTP for the redirect) to the load balancer');
    this.service = group('service', 'Load balancer to the arogya-live tasks');
    this.database = group('database', 'arogya-live tasks to PostgreSQL');

    for (const port of [80, 443]) {
      new VpcSecurityGroupIngressRule(this, `alb-in-${port}`, {
        securityGroupId: this.alb.id,
        description: port === 443 ? 'HTTPS from anywhere' : 'HTTP from anywhere, redirected to HTTPS',
        ipProtocol: 'tcp',
        fromPort: port,
        toPort: port,
        cidrIpv4: '0.0.0.0/0',
      });
    }
    new VpcSecurityGroupEgressRule(this, 'alb-out-service', {
      securityGroupId: this.alb.id,
      description: 'To the tasks',
      ipProtocol: 'tcp',
      fromPort: props.containerPort,
      toPort: props.containerPort,
      referencedSecurityGroupId: this.service.id,
    });
    new VpcSecurityGroupIngressRule(this, 'service-in-alb', {
      securityGroupId: this.service.id,
      description: 'From the load balancer',
      ipProtocol: 'tcp',
      fromPort: props.containerPort,
      toPort: props.containerPort,
      referencedSecurityGroupId: this.alb.id,
    });
    new VpcSecurityGroupEgressRule(this, 'service-out-https', {
      securityGroupId: this.service.id,
      description: 'HTTPS to the VPC endpoints and, through the gateway endpoint, S3',
      ipProtocol: 'tcp',
      fromPort: 443,
      toPort: 443,
      cidrIpv4: '0.0.0.0/0',
    });
    new VpcSecurityGroupEgressRule(this, 'service-out-database', {
      securityGroupId: this.service.id,
      description: 'To PostgreSQL',
      ipProtocol: 'tcp',
      fromPort: 5432,
      toPort: 5432,
      referencedSecurityGroupId: this.database.id,
    });
    new VpcSecurityGroupIngressRule(this, 'database-in-service', {
      securityGroupId: this.database.id,
      description: 'From the tasks',
      ipProtocol: 'tcp',
      fromPort: 5432,
      toPort: 5432,
      referencedSecurityGroupId: this.service.id,
    });
  }
}
