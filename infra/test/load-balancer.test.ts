import { beforeAll, describe, expect, it } from 'vitest';
import { Lb } from '@cdktf/provider-aws/lib/lb/index.js';
import { LbListener } from '@cdktf/provider-aws/lib/lb-listener/index.js';
import { LbTargetGroup } from '@cdktf/provider-aws/lib/lb-target-group/index.js';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule/index.js';
import { synthStack, testParams } from './support/stack.js';
import type { Synthesized } from './support/stack.js';

describe('LoadBalancer', () => {
  let s: Synthesized;
  const params = testParams({ shutdownTimeoutMs: 40_000 });
  beforeAll(() => {
    s = synthStack(params);
  });

  it('is internet-facing in the public subnets with an idle timeout that lets WebSockets idle between pings', () => {
    expect(s.text).toHaveResourceWithProperties(Lb, {
      internal: false,
      load_balancer_type: 'application',
      subnets: [expect.stringContaining('network_public-0'), expect.stringContaining('network_public-1')],
      drop_invalid_header_fields: true,
    });
    const lb = Object.values(s.json.resource['aws_lb']!)[0]!;
    expect(lb.idle_timeout).toBeGreaterThanOrEqual(300);
  });

  it('terminates HTTPS with the certificate parameter and a TLS 1.2+/1.3 policy', () => {
    expect(s.text).toHaveResourceWithProperties(LbListener, {
      port: 443,
      protocol: 'HTTPS',
      certificate_arn: params.certificateArn,
      ssl_policy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
      default_action: [{ type: 'forward', target_group_arn: expect.stringContaining('aws_lb_target_group.') }],
    });
  });

  it('redirects HTTP to HTTPS permanently', () => {
    expect(s.text).toHaveResourceWithProperties(LbListener, {
      port: 80,
      protocol: 'HTTP',
      default_action: [{ type: 'redirect', redirect: { protocol: 'HTTPS', port: '443', status_code: 'HTTP_301' } }],
    });
  });

  it('health-checks /health, sticks clients to a task and drains for as long as the app does', () => {
    expect(s.text).toHaveResourceWithProperties(LbTargetGroup, {
      target_type: 'ip',
      port: 3000,
      protocol: 'HTTP',
      health_check: { enabled: true, path: '/health', matcher: '200' },
      stickiness: { enabled: true, type: 'lb_cookie' },
      deregistration_delay: '40', // SHUTDOWN_TIMEOUT_MS 40000
    });
  });

  it('admits only 80 and 443 from the internet', () => {
    expect(s.text).toHaveResourceWithProperties(VpcSecurityGroupIngressRule, { from_port: 443, to_port: 443, cidr_ipv4: '0.0.0.0/0' });
    expect(s.text).toHaveResourceWithProperties(VpcSecurityGroupIngressRule, { from_port: 80, to_port: 80, cidr_ipv4: '0.0.0.0/0' });
    const open = Object.values(s.json.resource['aws_vpc_security_group_ingress_rule']!).filter((r) => r.cidr_ipv4 === '0.0.0.0/0');
    expect(open.map((r) => r.from_port).sort((a, b) => a - b)).toEqual([80, 443]);
  });
});
