import { describe, expect, it } from 'vitest';
import { Testing } from 'cdktf';
import { environments } from '../environments.js';
import { ArogyaStack } from '../src/arogya-stack.js';
import { validateParams } from '../src/params.js';
import { synthStack, testParams } from './support/stack.js';

describe('ArogyaStack', () => {
  it('keeps state in the S3 backend, encrypted and locked, one key per environment', () => {
    const { json } = synthStack(testParams({ name: 'staging' }));
    expect(json.terraform['backend']).toEqual({
      s3: { bucket: 'example-tf-state', key: 'arogya-live/staging/terraform.tfstate', region: 'eu-west-1', encrypt: true, use_lockfile: true },
    });
    expect(json.terraform['required_providers']).toEqual({ aws: { source: 'aws', version: expect.stringMatching(/^\d+\.\d+\.\d+$/) } });
    expect(json.provider['aws']).toEqual([expect.objectContaining({ region: 'eu-west-1', allowed_account_ids: ['123456789012'] })]);
  });

  it('outputs the URL, the ECR repository, the cluster and the service', () => {
    const { json } = synthStack(testParams());
    expect(json.output['url']!.value).toBe('https://live.staging.example.org');
    expect(json.output['ecr_repository_url']!.value).toMatch(/aws_ecr_repository\..+\.repository_url/);
    expect(json.output['cluster_name']!.value).toMatch(/aws_ecs_cluster\..+\.name/);
    expect(json.output['service_name']!.value).toMatch(/aws_ecs_service\..+\.name/);
  });

  it('builds staging and production from one construct tree, differing only by parameters', () => {
    const app = Testing.app();
    const staging = new ArogyaStack(app, 'staging', testParams({ name: 'staging' }));
    const production = new ArogyaStack(app, 'production', testParams({ name: 'production', vpcCidr: '10.30.0.0/16', deletionProtection: true }));
    const types = (text: string) => Object.keys(JSON.parse(text).resource).sort();
    const [s, p] = [Testing.synth(staging), Testing.synth(production)];
    expect(types(p)).toEqual(types(s));
    expect(p).not.toBe(s);
    expect(Object.values(JSON.parse(p).resource.aws_lb as Record<string, { enable_deletion_protection: boolean }>)[0]!.enable_deletion_protection).toBe(true);
  });

  it('refuses invalid parameters, listing every problem', () => {
    const bad = testParams({ availabilityZones: ['eu-west-1a'], taskCpu: 1024, taskMemoryMiB: 512, shutdownTimeoutMs: 118_000, certificateArn: 'nope' });
    const problems = validateParams(bad);
    expect(problems).toEqual([
      expect.stringContaining('availabilityZones'),
      expect.stringContaining('certificateArn'),
      expect.stringContaining('taskMemoryMiB'),
      expect.stringContaining('shutdownTimeoutMs'),
    ]);
    expect(() => new ArogyaStack(Testing.app(), 'bad', bad)).toThrow(/availabilityZones[\s\S]*shutdownTimeoutMs/);
    expect(validateParams(testParams())).toEqual([]);
  });

  it('ships environments.ts with placeholders that synth refuses until DevOps fill them in', () => {
    for (const params of Object.values(environments)) {
      const problems = validateParams(params);
      expect(problems).toContain('accountId: 12 digits');
      expect(problems).toContain('certificateArn: an ACM certificate ARN');
      // Apart from the account-specific values, the shipped parameters are valid.
      const filled = { ...params, accountId: '123456789012', certificateArn: testParams().certificateArn, domainName: 'live.example.org' };
      expect(validateParams(filled)).toEqual([]);
    }
    expect(environments.production.deletionProtection).toBe(true);
    expect(environments.staging.deletionProtection).toBe(false);
  });
});
