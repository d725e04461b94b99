import { describe, expect, it } from 'vitest';
import { Testing } from 'cdktf';
import { environments } from '../environments.js';
import { ArogyaStack } from '../src/arogya-stack.js';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { loadParams } from '../src/load-params.js';
import { validateParams } from '../src/params.js';

const INFRA = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
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

  it('ships environments.ts with placeholders that synth refuses until parameters are given', () => {
    for (const params of Object.values(environments)) {
      const problems = validateParams(params);
      expect(problems).toContain('accountId: 12 digits');
      expect(problems).toContain('certificateArn: an ACM certificate ARN');
      expect(problems.some((p) => p.includes('REPLACE_ME'))).toBe(true);
    }
    expect(environments.production.deletionProtection).toBe(true);
    expect(environments.staging.deletionProtection).toBe(false);
  });

  it('takes parameters from AROGYA_PARAMS_FILE and AROGYA_* variables, variables last, and the example file fills every placeholder', () => {
    const file = JSON.stringify({ staging: { accountId: '111111111111', domainName: 'a.example.org' }, production: { accountId: '222222222222' } });
    const p = loadParams(environments, { AROGYA_PARAMS_FILE: 'x.json', AROGYA_ACCOUNT_ID: '333333333333', AROGYA_PRODUCTION_CERTIFICATE_ARN: 'arn:x' }, () => file);
    expect(p.staging).toMatchObject({ accountId: '333333333333', domainName: 'a.example.org', name: 'staging' });
    expect(p.production).toMatchObject({ accountId: '333333333333', certificateArn: 'arn:x', name: 'production' });
    const example = loadParams(environments, { AROGYA_PARAMS_FILE: new URL('../example-params.json', import.meta.url).pathname });
    for (const params of Object.values(example)) expect(validateParams(params)).toEqual([]);
  });

  it('refuses an RDS class whose max_connections the connections alarm cannot know, and audit logs kept less than a day', () => {
    expect(validateParams(testParams({ dbInstanceClass: 'db.x9.huge' }))[0]).toMatch(/^dbInstanceClass: one of db\.t4g\.micro, /);
    expect(validateParams(testParams({ auditLogRetentionDays: 0 }))).toEqual(['auditLogRetentionDays: a whole number of days, at least 1']);
  });

  it('refuses a production stack whose alarms reach nobody', () => {
    expect(validateParams(testParams({ name: 'production', deletionProtection: true, alarmEmail: '' }))).toContain('alarmEmail: an address is required in production');
    expect(validateParams(testParams({ alarmEmail: 'not-an-address' }))).toContain('alarmEmail: an e-mail address');
    expect(validateParams(testParams({ name: 'staging', alarmEmail: '' }))).toEqual([]);
  });

  it('npm run synth:example synthesizes both stacks with no source edits, and npm run synth refuses the placeholders', async () => {
    const run = (env: Record<string, string>) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'main.ts'], { cwd: INFRA, env: { ...process.env, ...env } });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d));
        child.stderr.on('data', (d: Buffer) => (out += d));
        child.on('exit', (code) => resolve({ code, out }));
      });
    const example = await run({ AROGYA_EXAMPLE: '1' });
    expect(example).toMatchObject({ code: 0 });
    for (const env of ['staging', 'production']) {
      const stack = JSON.parse(fs.readFileSync(path.join(INFRA, 'cdktf.out.example', 'stacks', env, 'cdk.tf.json'), 'utf8'));
      expect(stack.provider.aws[0].allowed_account_ids).toEqual(['123456789012']);
    }
    const real = await run({ AROGYA_PARAMS_FILE: '', AROGYA_ACCOUNT_ID: '' });
    expect(real.code).toBe(1);
    expect(real.out).toContain('REPLACE_ME');
  }, 120_000);
});
