import type { EnvironmentParams } from './src/params.js';

/**
 * The two environments. This is the one file DevOps edit (DEPLOYMENT.md, "First-time setup"):
 * replace every `REPLACE_ME` value; `npm run synth` refuses invalid values and lists them.
 */
const shared = {
  region: 'eu-west-1',
  transcribeRegion: 'eu-west-1',
  accountId: 'REPLACE_ME_ACCOUNT_ID',
  availabilityZones: ['eu-west-1a', 'eu-west-1b'],
  stateBucket: 'REPLACE_ME_STATE_BUCKET',
  stateRegion: 'eu-west-1',
  taskCpu: 1024,
  taskMemoryMiB: 2048,
  cpuTargetPercent: 60,
  maxSessionsPerTask: 100,
  sessionsTargetPerTask: 60,
  shutdownTimeoutMs: 25_000,
  initialImageTag: 'initial',
  alarmEmail: '',
  transcribeConcurrentStreamsQuota: 25,
} as const;

export const environments: Record<'staging' | 'production', EnvironmentParams> = {
  staging: {
    ...shared,
    name: 'staging',
    vpcCidr: '10.20.0.0/16',
    domainName: 'REPLACE_ME.staging.example.org',
    certificateArn: 'REPLACE_ME_STAGING_CERTIFICATE_ARN',
    minTasks: 1,
    maxTasks: 2,
    dbInstanceClass: 'db.t4g.small',
    dbAllocatedStorageGiB: 20,
    dbMaxAllocatedStorageGiB: 100,
    dbMultiAz: false,
    dbBackupRetentionDays: 7,
    deletionProtection: false,
    recordingRetentionDays: 30,
    logRetentionDays: 30,
    auditLogRetentionDays: 90,
  },
  production: {
    ...shared,
    name: 'production',
    vpcCidr: '10.30.0.0/16',
    domainName: 'REPLACE_ME.example.org',
    certificateArn: 'REPLACE_ME_PRODUCTION_CERTIFICATE_ARN',
    minTasks: 2,
    maxTasks: 10,
    dbInstanceClass: 'db.m7g.large',
    dbAllocatedStorageGiB: 100,
    dbMaxAllocatedStorageGiB: 1000,
    dbMultiAz: true,
    dbBackupRetentionDays: 30,
    deletionProtection: true,
    recordingRetentionDays: 2557, // 7 years; set to your records-retention policy
    logRetentionDays: 365,
    auditLogRetentionDays: 2192, // 6 years (HIPAA documentation retention); set to your policy
  },
};
