import { Construct } from 'constructs';
import { Wafv2WebAcl } from '@cdktf/provider-aws/lib/wafv2-web-acl/index.js';
import { Wafv2WebAclAssociation } from '@cdktf/provider-aws/lib/wafv2-web-acl-association/index.js';

export interface WebAclProps {
  readonly name: string;
  readonly loadBalancerArn: string;
}

/** The path `POST /api/auth/login` (API.md); the rate rule counts only requests to it. */
export const LOGIN_PATH = '/api/auth/login';
/**
 * Login requests one address may send in 5 minutes before WAF blocks it (for the rest of the
 * window). The app's own throttle (LOGIN_MAX_PER_IP, LOGIN_MAX_PER_USER: slows, never locks) judges
 * guesses; this is the outer wall against floods. 300 (one a second) leaves a clinic of 50
 * clinicians behind one NAT address, all signing in at the start of a shift with a few typos each,
 * far below it.
 */
export const LOGIN_RATE_LIMIT_PER_5_MIN = 300;

/**
 * Managed rule groups, in evaluation order. The common rule set's `SizeRestrictions_BODY` (blocks
 * any body over 8 KB) only counts: Socket.IO's long-polling fallback posts audio chunks of up to
 * ~1 MB to `/socket.io/` (maxHttpBufferSize) and a reviewer's transcript save is a JSON body of up
 * to 64 KB (express.json limit); the app enforces both limits itself. WebSocket frames are never
 * seen by WAF (it inspects the upgrade request only).
 */
export const MANAGED_RULE_GROUPS = [
  { name: 'AWSManagedRulesAmazonIpReputationList', countOnly: [] as string[] },
  { name: 'AWSManagedRulesKnownBadInputsRuleSet', countOnly: [] as string[] },
  { name: 'AWSManagedRulesCommonRuleSet', countOnly: ['SizeRestrictions_BODY'] },
] as const;

/**
 * AWS WAF in front of the ALB: IP reputation, known bad inputs (Log4Shell and the like), the
 * common rule set, and a per-address rate limit on the login path only (a rate rule over every
 * path would count each Socket.IO long-poll of a live session and block a busy clinic's NAT).
 * Requests no rule blocks are allowed. Metrics per rule in CloudWatch (`AWS/WAFV2`), sampled
 * requests in the console; sampled requests show headers, never bodies.
 */
export class WebAcl extends Construct {
  readonly acl: Wafv2WebAcl;

  constructor(scope: Construct, id: string, props: WebAclProps) {
    super(scope, id);
    const metric = (name: string) => ({ cloudwatchMetricsEnabled: true, metricName: name, sampledRequestsEnabled: true });
    const prefix = `arogya-${props.name}`;
    // `statement` is typed `any` by the provider bindings: written in Terraform's snake_case.
    const managed = MANAGED_RULE_GROUPS.map((g, i) => ({
      name: g.name,
      priority: i === 0 ? 0 : i + 1,
      overrideAction: { none: {} },
      statement: {
        managed_rule_group_statement: {
          vendor_name: 'AWS',
          name: g.name,
          ...(g.countOnly.length > 0 ? { rule_action_override: g.countOnly.map((name) => ({ name, action_to_use: { count: {} } })) } : {}),
        },
      },
      visibilityConfig: metric(`${prefix}-${g.name}`),
    }));
    const loginRate = {
      name: 'login-rate-per-ip',
      priority: 1,
      action: { block: {} },
      statement: {
        rate_based_statement: {
          limit: LOGIN_RATE_LIMIT_PER_5_MIN,
          evaluation_window_sec: 300,
          aggregate_key_type: 'IP',
          scope_down_statement: {
            byte_match_statement: {
              search_string: LOGIN_PATH,
              positional_constraint: 'STARTS_WITH',
              field_to_match: { uri_path: {} },
              // Express routes ignore case and decode nothing: /API/Auth/Login reaches the route too.
              text_transformation: [
                { priority: 0, type: 'URL_DECODE' },
                { priority: 1, type: 'LOWERCASE' },
              ],
            },
          },
        },
      },
      visibilityConfig: metric(`${prefix}-login-rate`),
    };

    this.acl = new Wafv2WebAcl(this, 'acl', {
      name: prefix,
      description: `arogya-live ${props.name}: managed rule groups and a login rate limit`,
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      rule: [...managed, loginRate].sort((a, b) => a.priority - b.priority),
      visibilityConfig: metric(prefix),
    });
    new Wafv2WebAclAssociation(this, 'alb', { resourceArn: props.loadBalancerArn, webAclArn: this.acl.arn });
  }
}
