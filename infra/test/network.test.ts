import { beforeAll, describe, expect, it } from 'vitest';
import { Subnet } from '@cdktf/provider-aws/lib/subnet/index.js';
import { Vpc } from '@cdktf/provider-aws/lib/vpc/index.js';
import { VpcEndpoint } from '@cdktf/provider-aws/lib/vpc-endpoint/index.js';
import { INTERFACE_ENDPOINTS } from '../src/network.js';
import { resources, synthStack, testParams } from './support/stack.js';
import type { Synthesized } from './support/stack.js';

describe('Network', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synthStack(testParams({ availabilityZones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'] }));
  });

  it('spans a VPC with DNS hostnames (needed by private endpoint DNS)', () => {
    expect(s.text).toHaveResourceWithProperties(Vpc, { cidr_block: '10.20.0.0/16', enable_dns_hostnames: true, enable_dns_support: true });
  });

  it('puts one public and one private subnet in every zone', () => {
    for (const [i, zone] of ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'].entries()) {
      expect(s.text).toHaveResourceWithProperties(Subnet, { availability_zone: zone, cidr_block: `10.20.${i}.0/24`, tags: { tier: 'public' } });
      expect(s.text).toHaveResourceWithProperties(Subnet, { availability_zone: zone, cidr_block: `10.20.${16 + i}.0/24`, tags: { tier: 'private' } });
    }
    expect(resources(s.json, 'aws_subnet')).toHaveLength(6);
  });

  it('routes only the public subnets to the internet gateway and has no NAT', () => {
    const routes = resources(s.json, 'aws_route');
    expect(routes).toHaveLength(1);
    expect(routes[0]![1]).toMatchObject({ destination_cidr_block: '0.0.0.0/0', gateway_id: expect.stringContaining('aws_internet_gateway.') });
    expect(routes[0]![1].route_table_id).toContain('public-routes');
    expect(s.json.resource['aws_nat_gateway']).toBeUndefined();
    for (const [id, assoc] of resources(s.json, 'aws_route_table_association')) {
      expect(assoc.route_table_id).toContain(id.includes('public') ? 'public-routes' : 'private-routes');
    }
  });

  it('reaches S3 through a gateway endpoint on the private route table', () => {
    expect(s.text).toHaveResourceWithProperties(VpcEndpoint, {
      service_name: 'com.amazonaws.eu-west-1.s3',
      vpc_endpoint_type: 'Gateway',
      route_table_ids: [expect.stringContaining('private-routes')],
    });
  });

  it.each(INTERFACE_ENDPOINTS)('has a private-DNS interface endpoint for %s in every private subnet', (service) => {
    const endpoint = resources(s.json, 'aws_vpc_endpoint').find(([, e]) => e.service_name === `com.amazonaws.eu-west-1.${service}`)?.[1];
    expect(endpoint).toMatchObject({ vpc_endpoint_type: 'Interface', private_dns_enabled: true });
    expect(endpoint!.subnet_ids).toHaveLength(3);
    for (const id of endpoint!.subnet_ids) expect(id).toContain('network_private-');
  });

  it('covers what the tasks call: ECR, logs, Secrets Manager, KMS and Transcribe streaming', () => {
    expect([...INTERFACE_ENDPOINTS].sort()).toEqual(['ecr.api', 'ecr.dkr', 'kms', 'logs', 'secretsmanager', 'transcribestreaming']);
  });
});
