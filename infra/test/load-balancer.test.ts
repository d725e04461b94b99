import { beforeAll, describe, expect, it } from 'vitest';
import { Lb } from '@cdktf/provider-aws/lib/lb/index.js';
import { LbListener } from '@cdktf/provider-aws/lib/lb-listener/index.js';
import { LbTargetGroup } from '@cdktf/provider-aws/lib/lb-target-group/index.js';
import { VpcSecurityGroupIngressRule } from '@cdktf/provider-aws/lib/vpc-security-group-ingress-rule/index.js';
import { HTTP_KEEP_ALIVE_TIMEOUT_MS, SOCKET_IO_PING_INTERVAL_MS } from '../../src/lib/timeouts.js';
import { ALB_DEREGISTRATION_DELAY_RANGE, ALB_IDLE_TIMEOUT_RANGE, drainSeconds } from '../src/params.js';
import { resource, synthStack, testParams } from './support/stack.js';
import type { Synthesized } from './support/stack.js';

describe('LoadBalancer', () => {
  let s: Synthesized;
  const params = testParams({ shutdownTimeoutMs: 40_000 });
  beforeAll(() => {
    s = synthStack(params);
  });

  it('is internet-facing in the public subnets', () => {
    expect(s.text).toHaveResourceWithProperties(Lb, {
      internal: false,
      load_balancer_type: 'application',
      subnets: [expect.stringContaining('network_public-0'), expect.stringContaining('network_public-1')],
      drop_invalid_header_fields: true,
    });
  });

  it('closes idle connections before the service does (no 502 race), but never a WebSocket between Socket.IO pings', () => {
    const idle = resource(s.json, 'aws_lb').idle_timeout as number;
    expect(idle).toBeGreaterThanOrEqual(ALB_IDLE_TIMEOUT_RANGE[0]);
    expect(idle).toBeLessThanOrEqual(ALB_IDLE_TIMEOUT_RANGE[1]);
    expect(idle * 1000).toBeLessThan(HTTP_KEEP_ALIVE_TIMEOUT_MS);
    expect(idle * 1000).toBeGreaterThan(SOCKET_IO_PING_INTERVAL_MS);
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

  it('health-checks /health (200 also when degraded) and sticks clients to a task', () => {
    expect(s.text).toHaveResourceWithProperties(LbTargetGroup, {
      target_type: 'ip',
      port: 3000,
      protocol: 'HTTP',
      health_check: { enabled: true, path: '/health', matcher: '200' },
      stickiness: { enabled: true, type: 'lb_cookie' },
    });
  });

  it('keeps a stopping task\'s connections open until its drain (started at DesiredStatus STOPPED) has told and moved every client', () => {
    const delay = Number(resource(s.json, 'aws_lb_target_group').deregistration_delay);
    expect(delay).toBeGreaterThanOrEqual(ALB_DEREGISTRATION_DELAY_RANGE[0]);
    expect(delay).toBeLessThanOrEqual(ALB_DEREGISTRATION_DELAY_RANGE[1]);
    // 1 s metadata poll + the app's drain (SHUTDOWN_TIMEOUT_MS 40000) + the browsers reconnecting.
    expect(delay).toBeGreaterThan(1 + drainSeconds(params) + 1);
  });

  it('admits only 80 and 443 from the internet', () => {
    expect(s.text).toHaveResourceWithProperties(VpcSecurityGroupIngressRule, { from_port: 443, to_port: 443, cidr_ipv4: '0.0.0.0/0' });
    expect(s.text).toHaveResourceWithProperties(VpcSecurityGroupIngressRule, { from_port: 80, to_port: 80, cidr_ipv4: '0.0.0.0/0' });
    const open = Object.values(s.json.resource['aws_vpc_security_group_ingress_rule']!).filter((r) => r.cidr_ipv4 === '0.0.0.0/0');
    expect(open.map((r) => r.from_port).sort((a, b) => a - b)).toEqual([80, 443]);
  });
});
