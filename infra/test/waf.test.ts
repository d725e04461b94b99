import { beforeAll, describe, expect, it } from 'vitest';
import { LOGIN_PATH } from '../src/web-acl.js';
import { resource, synthStack } from './support/stack.js';
import type { Synthesized } from './support/stack.js';

/**
 * AWS WAF read from the synthesized Terraform: what it blocks, and that it never blocks a live
 * session's traffic (Socket.IO long-polling posts audio chunks up to ~1 MB; transcript saves are up
 * to 64 KB of JSON).
 */
describe('WebAcl', () => {
  let s: Synthesized;
  let acl: Record<string, any>;
  let rules: Record<string, any>[];
  beforeAll(() => {
    s = synthStack();
    acl = resource(s.json, 'aws_wafv2_web_acl');
    rules = acl.rule;
  });
  const managed = (name: string): Record<string, any> => rules.find((r) => r.statement?.managed_rule_group_statement?.name === name)!;

  it('is a regional ACL associated with the load balancer, allowing what no rule blocks', () => {
    expect(acl).toMatchObject({ scope: 'REGIONAL', default_action: { allow: {} }, name: 'arogya-staging' });
    const association = resource(s.json, 'aws_wafv2_web_acl_association');
    expect(association.resource_arn).toMatch(/^\$\{aws_lb\.load-balancer_alb_\w+\.arn\}$/);
    expect(association.web_acl_arn).toMatch(/^\$\{aws_wafv2_web_acl\.waf_acl_\w+\.arn\}$/);
  });

  it.each(['AWSManagedRulesAmazonIpReputationList', 'AWSManagedRulesKnownBadInputsRuleSet', 'AWSManagedRulesCommonRuleSet'])('applies the AWS managed rule group %s with its own actions (override none)', (name) => {
    const rule = managed(name);
    expect(rule).toMatchObject({ override_action: { none: {} }, statement: { managed_rule_group_statement: { vendor_name: 'AWS', name } } });
    // `override_action.count` would turn the whole group into a log-only rule.
    expect(rule.override_action.count).toBeUndefined();
  });

  it('only counts the common rule set\'s 8 KB body limit, so audio chunks over long-polling and transcript saves pass; every other rule of the group blocks', () => {
    const overrides = managed('AWSManagedRulesCommonRuleSet').statement.managed_rule_group_statement.rule_action_override;
    expect(overrides).toEqual([{ name: 'SizeRestrictions_BODY', action_to_use: { count: {} } }]);
    // No rule of our own inspects body size or the Socket.IO path.
    const own = JSON.stringify(rules.filter((r) => !r.statement.managed_rule_group_statement));
    expect(own).not.toContain('size_constraint_statement');
    expect(own).not.toContain('/socket.io');
  });

  it('limits login requests per address, on the login path only (a rate rule on every path would count each long-poll of a live session)', () => {
    const rate = rules.find((r) => r.statement.rate_based_statement)!;
    expect(rate.action).toEqual({ block: {} });
    const statement = rate.statement.rate_based_statement;
    expect(statement).toMatchObject({ aggregate_key_type: 'IP', evaluation_window_sec: 300 });
    // WAF accepts 10..2,000,000,000; one clinic NAT of 50 clinicians signing in at shift start stays far below.
    expect(statement.limit).toBeGreaterThanOrEqual(100);
    expect(statement.limit).toBeLessThanOrEqual(2_000_000_000);
    const match = statement.scope_down_statement.byte_match_statement;
    expect(match).toMatchObject({ search_string: LOGIN_PATH, positional_constraint: 'STARTS_WITH', field_to_match: { uri_path: {} } });
    // Express matches routes case-insensitively: /API/Auth/Login must be counted too.
    expect(match.text_transformation.map((t: { type: string }) => t.type)).toContain('LOWERCASE');
    expect(LOGIN_PATH).toBe(LOGIN_PATH.toLowerCase());
  });

  it('has the login path API.md documents', async () => {
    const fs = await import('node:fs');
    const api = fs.readFileSync(new URL('../../../shared/API.md', import.meta.url), 'utf8');
    expect(api).toContain(`POST ${LOGIN_PATH}`);
  });

  it('gives every rule a unique priority, name and CloudWatch metric (WAF refuses duplicates)', () => {
    for (const key of ['priority', 'name'] as const) expect(new Set(rules.map((r) => r[key])).size).toBe(rules.length);
    expect(new Set(rules.map((r) => r.visibility_config.metric_name)).size).toBe(rules.length);
    for (const r of rules) expect(r.visibility_config).toMatchObject({ cloudwatch_metrics_enabled: true, sampled_requests_enabled: true });
    // IP reputation first: a known-bad address is dropped before any other rule spends WCUs on it.
    expect(rules.reduce((a, b) => (a.priority < b.priority ? a : b)).name).toBe('AWSManagedRulesAmazonIpReputationList');
  });
});
