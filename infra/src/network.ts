import { Construct } from 'constructs';
import { InternetGateway } from '@cdktf/provider-aws/lib/internet-gateway/index.js';
import { Route } from '@cdktf/provider-aws/lib/route/index.js';
import { RouteTable } from '@cdktf/provider-aws/lib/route-table/index.js';
import { RouteTableAssociation } from '@cdktf/provider-aws/lib/route-table-association/index.js';
import { SecurityGroup } from '@cdktf/provider-aws/lib/security-group/index.js';
import { Subnet } from '@cdktf/provider-aws/lib/subnet/index.js';
import { Vpc } from '@cdktf/provider-aws/lib/vpc/index.js';
import { VpcEndpoint } from '@cdktf/provider-aws/lib/vpc-endpoint/index.js';

export interface NetworkProps {
  readonly name: string;
  readonly region: string;
  /** Transcribe streaming's region; its endpoint is cross-region PrivateLink when it differs. */
  readonly transcribeRegion: string;
  readonly cidr: string;
  readonly availabilityZones: readonly string[];
}

/**
 * Interface endpoints the tasks need. The private subnets have no route to the internet (no NAT):
 * everything a task talks to is an AWS API reached through these, so patient audio can only leave
 * the VPC towards AWS services, and no NAT gateway per zone is paid for.
 */
export const INTERFACE_ENDPOINTS = [
  'ecr.api', // image manifest (execution role pull)
  'ecr.dkr', // image layers are then fetched from S3 through the gateway endpoint
  'logs', // awslogs driver
  'secretsmanager', // DB_SECRET_ID at start-up, SESSION_SECRET injection
  'kms', // SSE-KMS data keys for recordings
  'transcribestreaming', // Transcribe Medical streaming (HTTP/2)
] as const;

/**
 * VPC over the given zones: one public subnet per zone (ALB, internet gateway route) and one private
 * subnet per zone (tasks, RDS) whose only ways out are VPC endpoints.
 */
export class Network extends Construct {
  readonly vpc: Vpc;
  readonly publicSubnetIds: string[];
  readonly privateSubnetIds: string[];
  readonly endpointSecurityGroup: SecurityGroup;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const [a, b] = props.cidr.split('.');
    const subnetCidr = (third: number) => `${a}.${b}.${third}.0/24`;

    this.vpc = new Vpc(this, 'vpc', {
      cidrBlock: props.cidr,
      enableDnsHostnames: true, // required for private DNS on interface endpoints
      enableDnsSupport: true,
      tags: { Name: `arogya-${props.name}` },
    });

    const igw = new InternetGateway(this, 'igw', { vpcId: this.vpc.id });
    const publicRoutes = new RouteTable(this, 'public-routes', { vpcId: this.vpc.id, tags: { Name: `arogya-${props.name}-public` } });
    new Route(this, 'public-default', { routeTableId: publicRoutes.id, destinationCidrBlock: '0.0.0.0/0', gatewayId: igw.id });
    const privateRoutes = new RouteTable(this, 'private-routes', { vpcId: this.vpc.id, tags: { Name: `arogya-${props.name}-private` } });

    this.publicSubnetIds = [];
    this.privateSubnetIds = [];
    props.availabilityZones.forEach((zone, i) => {
      const pub = new Subnet(this, `public-${i}`, {
        vpcId: this.vpc.id,
        availabilityZone: zone,
        cidrBlock: subnetCidr(i),
        mapPublicIpOnLaunch: false,
        tags: { Name: `arogya-${props.name}-public-${zone}`, tier: 'public' },
      });
      new RouteTableAssociation(this, `public-${i}-routes`, { subnetId: pub.id, routeTableId: publicRoutes.id });
      this.publicSubnetIds.push(pub.id);

      const priv = new Subnet(this, `private-${i}`, {
        vpcId: this.vpc.id,
        availabilityZone: zone,
        cidrBlock: subnetCidr(16 + i),
        mapPublicIpOnLaunch: false,
        tags: { Name: `arogya-${props.name}-private-${zone}`, tier: 'private' },
      });
      new RouteTableAssociation(this, `private-${i}-routes`, { subnetId: priv.id, routeTableId: privateRoutes.id });
      this.privateSubnetIds.push(priv.id);
    });

    this.endpointSecurityGroup = new SecurityGroup(this, 'endpoints-sg', {
      name: `arogya-${props.name}-endpoints`,
      description: 'HTTPS from inside the VPC to the interface endpoints',
      vpcId: this.vpc.id,
      ingress: [{ description: 'HTTPS from the VPC', protocol: 'tcp', fromPort: 443, toPort: 443, cidrBlocks: [props.cidr] }],
      egress: [],
    });

    new VpcEndpoint(this, 'endpoint-s3', {
      vpcId: this.vpc.id,
      serviceName: `com.amazonaws.${props.region}.s3`,
      vpcEndpointType: 'Gateway',
      routeTableIds: [privateRoutes.id],
      tags: { Name: `arogya-${props.name}-s3` },
    });
    for (const service of INTERFACE_ENDPOINTS) {
      // Transcribe streaming follows AWS_TRANSCRIBE_REGION; the private subnets have no other way out.
      const region = service === 'transcribestreaming' ? props.transcribeRegion : props.region;
      new VpcEndpoint(this, `endpoint-${service.replace('.', '-')}`, {
        vpcId: this.vpc.id,
        serviceName: `com.amazonaws.${region}.${service}`,
        ...(region !== props.region ? { serviceRegion: region } : {}),
        vpcEndpointType: 'Interface',
        privateDnsEnabled: true,
        subnetIds: this.privateSubnetIds,
        securityGroupIds: [this.endpointSecurityGroup.id],
        tags: { Name: `arogya-${props.name}-${service}` },
      });
    }
  }
}
