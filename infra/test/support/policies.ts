import type { EnvironmentParams } from '../../src/params.js';
import type { TerraformJson } from './stack.js';

/**
 * The synthesized stack's policies as AWS would see them after an apply: Terraform references
 * (`${aws_kms_key.x.arn}`) are replaced by the ARNs AWS would assign, and `aws_iam_policy_document`
 * data sources are rendered to IAM JSON. An unknown reference throws, so a policy that points at
 * something this resolver does not understand is noticed instead of silently simulated wrong.
 */
export class ResolvedStack {
  constructor(
    readonly json: TerraformJson,
    readonly params: EnvironmentParams,
  ) {}

  /** The ARN AWS would give a KMS key (its id made up from the logical id). */
  keyArn(logicalId: string): string {
    let h = 0;
    for (const c of logicalId) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    const hex = h.toString(16).padStart(8, '0');
    return `arn:aws:kms:${this.params.region}:${this.params.accountId}:key/${hex}-0000-4000-8000-${hex}0000`;
  }

  /** Replaces every `${…}` reference in `value` (strings, arrays, objects). */
  resolve<T>(value: T): T {
    if (typeof value === 'string') return this.resolveString(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.resolve(v)) as T;
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.resolve(v)])) as T;
    return value;
  }

  private resolveString(s: string): unknown {
    const whole = /^\$\{([^}]+)\}$/.exec(s);
    if (whole) return this.lookup(whole[1]!);
    return s.replace(/\$\{([^}]+)\}/g, (_, ref: string) => String(this.lookup(ref)));
  }

  private lookup(ref: string): unknown {
    const { region, accountId } = this.params;
    const parts = ref.split('.');
    if (parts[0] === 'data') {
      const [, type, id, attr] = parts;
      if (type === 'aws_iam_policy_document' && attr === 'json') return JSON.stringify(this.policyDocument(id!));
      throw new Error(`unresolved reference ${ref}`);
    }
    const [type, id, attr] = parts as [string, string, string];
    const config = this.json.resource[type]?.[id];
    if (!config) throw new Error(`reference to a missing resource ${ref}`);
    const name = (key: string) => this.resolve(config[key]) as string;
    switch (`${type}.${attr}`) {
      case 'aws_s3_bucket.arn':
        return `arn:aws:s3:::${name('bucket')}`;
      case 'aws_s3_bucket.bucket':
      case 'aws_s3_bucket.id':
        return name('bucket');
      case 'aws_kms_key.arn':
        return this.keyArn(id);
      case 'aws_kms_key.key_id':
        return this.keyArn(id).split('/')[1];
      case 'aws_secretsmanager_secret.arn':
      case 'aws_secretsmanager_secret.id':
        return `arn:aws:secretsmanager:${region}:${accountId}:secret:${name('name')}-AbCdEf`;
      case 'aws_ecr_repository.arn':
        return `arn:aws:ecr:${region}:${accountId}:repository/${name('name')}`;
      case 'aws_cloudwatch_log_group.arn':
        return `arn:aws:logs:${region}:${accountId}:log-group:${name('name')}`;
      case 'aws_cloudwatch_log_group.name':
        return name('name');
      case 'aws_sns_topic.arn':
        return `arn:aws:sns:${region}:${accountId}:${name('name')}`;
      case 'aws_cloudwatch_event_rule.arn':
        return `arn:aws:events:${region}:${accountId}:rule/${name('name')}`;
      case 'aws_ecs_cluster.name':
      case 'aws_ecs_service.name':
        return name('name');
      case 'aws_ecs_task_definition.family':
        return name('family');
      case 'aws_iam_role.arn':
        return `arn:aws:iam::${accountId}:role/${name('name')}`;
      case 'aws_iam_role.id':
      case 'aws_iam_role.name':
        return name('name');
      default:
        throw new Error(`unresolved reference ${ref}`);
    }
  }

  /** An `aws_iam_policy_document` data source rendered as the IAM JSON AWS stores. */
  policyDocument(id: string): { Version: string; Statement: Record<string, unknown>[] } {
    const doc = this.json.data['aws_iam_policy_document']?.[id];
    if (!doc) throw new Error(`no aws_iam_policy_document ${id}`);
    const statements = (doc.statement ?? []) as Record<string, any>[];
    return {
      Version: '2012-10-17',
      Statement: statements.map((st) => {
        const out: Record<string, unknown> = { Effect: st.effect ?? 'Allow' };
        if (st.sid) out.Sid = st.sid;
        if (st.actions) out.Action = this.resolve(st.actions);
        if (st.not_actions) out.NotAction = this.resolve(st.not_actions);
        if (st.resources) out.Resource = this.resolve(st.resources);
        if (st.not_resources) out.NotResource = this.resolve(st.not_resources);
        if (st.principals) {
          const principals = st.principals as { type: string; identifiers: string[] }[];
          out.Principal =
            principals.length === 1 && principals[0]!.type === '*'
              ? '*'
              : Object.fromEntries(principals.map((p) => [p.type, this.resolve(p.identifiers)]));
        }
        if (st.condition) {
          const condition: Record<string, Record<string, string[]>> = {};
          for (const c of st.condition as { test: string; variable: string; values: string[] }[]) {
            (condition[c.test] ??= {})[c.variable] = this.resolve(c.values);
          }
          out.Condition = condition;
        }
        return out;
      }),
    };
  }

  /** The policy JSON an attribute such as `aws_s3_bucket_policy.policy` holds. */
  policyOf(type: string, idPart: string, attribute = 'policy'): { Version: string; Statement: Record<string, unknown>[] } {
    const found = Object.entries(this.json.resource[type] ?? {}).filter(([id]) => id.includes(idPart));
    if (found.length !== 1) throw new Error(`expected one ${type} matching "${idPart}", found ${found.length}`);
    const raw = found[0]![1][attribute];
    if (raw === undefined) throw new Error(`${type} ${found[0]![0]} has no ${attribute}`);
    return JSON.parse(this.resolve(raw) as string);
  }

  /** The logical id of the one resource of `type` matching `idPart`. */
  logicalId(type: string, idPart: string): string {
    const found = Object.keys(this.json.resource[type] ?? {}).filter((id) => id.includes(idPart));
    if (found.length !== 1) throw new Error(`expected one ${type} matching "${idPart}"`);
    return found[0]!;
  }
}
