import { Testing } from 'cdktf';
import { ArogyaStack } from '../../src/arogya-stack.js';
import type { EnvironmentParams } from '../../src/params.js';

/** Valid parameters of a made-up account, for tests. */
export function testParams(overrides: Partial<EnvironmentParams> = {}): EnvironmentParams {
  return {
    name: 'staging',
    region: 'eu-west-1',
    transcribeRegion: 'eu-west-1',
    accountId: '123456789012',
    availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    vpcCidr: '10.20.0.0/16',
    domainName: 'live.staging.example.org',
    certificateArn: 'arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-123456789abc',
    stateBucket: 'example-tf-state',
    stateRegion: 'eu-west-1',
    taskCpu: 1024,
    taskMemoryMiB: 2048,
    minTasks: 1,
    maxTasks: 4,
    cpuTargetPercent: 60,
    maxSessionsPerTask: 100,
    sessionsTargetPerTask: 60,
    shutdownTimeoutMs: 25_000,
    initialImageTag: 'initial',
    dbInstanceClass: 'db.t4g.small',
    dbAllocatedStorageGiB: 20,
    dbMaxAllocatedStorageGiB: 100,
    dbMultiAz: false,
    dbBackupRetentionDays: 7,
    deletionProtection: false,
    recordingRetentionDays: 30,
    logRetentionDays: 30,
    auditLogRetentionDays: 90,
    alarmEmail: 'oncall@example.org',
    transcribeConcurrentStreamsQuota: 25,
    ...overrides,
  };
}

export interface Synthesized {
  /** The Terraform JSON as text, for cdktf's matchers. */
  text: string;
  json: TerraformJson;
}

export interface TerraformJson {
  resource: Record<string, Record<string, Record<string, any>>>;
  data: Record<string, Record<string, Record<string, any>>>;
  output: Record<string, { value: unknown }>;
  terraform: Record<string, any>;
  provider: Record<string, any[]>;
}

/** Synthesizes one stack offline (no terraform binary, no provider download). */
export function synthStack(params: EnvironmentParams = testParams()): Synthesized {
  const app = Testing.app();
  const stack = new ArogyaStack(app, params.name, params);
  const text = Testing.synth(stack);
  return { text, json: JSON.parse(text) as TerraformJson };
}

/** Every resource of a type, as [logical id, config] pairs. */
export function resources(json: TerraformJson, type: string): [string, Record<string, any>][] {
  return Object.entries(json.resource[type] ?? {});
}

/** The one resource of a type whose logical id contains `idPart`; throws when not exactly one. */
export function resource(json: TerraformJson, type: string, idPart = ''): Record<string, any> {
  const found = resources(json, type).filter(([id]) => id.includes(idPart));
  if (found.length !== 1) throw new Error(`expected one ${type} matching "${idPart}", found ${found.map(([id]) => id).join(', ') || 'none'}`);
  return found[0]![1];
}

/** The logical id of the one resource of a type matching `idPart`, as a Terraform reference prefix. */
export function ref(json: TerraformJson, type: string, idPart = ''): string {
  const found = resources(json, type).filter(([id]) => id.includes(idPart));
  if (found.length !== 1) throw new Error(`expected one ${type} matching "${idPart}"`);
  return `${type}.${found[0]![0]}`;
}

/** A data source by type and id part. */
export function dataSource(json: TerraformJson, type: string, idPart: string): Record<string, any> {
  const found = Object.entries(json.data[type] ?? {}).filter(([id]) => id.includes(idPart));
  if (found.length !== 1) throw new Error(`expected one data.${type} matching "${idPart}"`);
  return found[0]![1];
}
