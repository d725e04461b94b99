import { describe, expect, it } from 'vitest';
import { DataAwsSecretsmanagerRandomPassword } from '@cdktf/provider-aws/lib/data-aws-secretsmanager-random-password/index.js';
import { DbInstance } from '@cdktf/provider-aws/lib/db-instance/index.js';
import { DbParameterGroup } from '@cdktf/provider-aws/lib/db-parameter-group/index.js';
import { SecretsmanagerSecretVersion } from '@cdktf/provider-aws/lib/secretsmanager-secret-version/index.js';
import { resource, synthStack, testParams } from './support/stack.js';

describe('Database', () => {
  const staging = synthStack(testParams({ name: 'staging', deletionProtection: false, dbBackupRetentionDays: 7 }));
  const production = synthStack(testParams({ name: 'production', vpcCidr: '10.30.0.0/16', deletionProtection: true, dbMultiAz: true, dbBackupRetentionDays: 30 }));

  it('runs PostgreSQL 16, the major version the app pins, encrypted with the customer key and not public', () => {
    expect(staging.text).toHaveResourceWithProperties(DbInstance, {
      engine: 'postgres',
      engine_version: '16',
      storage_encrypted: true,
      kms_key_id: expect.stringMatching(/^\$\{aws_kms_key\.database-key_\w+\.arn\}$/),
      publicly_accessible: false,
      db_subnet_group_name: expect.stringContaining('aws_db_subnet_group.'),
      vpc_security_group_ids: [expect.stringContaining('security-groups_database')],
      backup_retention_period: 7,
    });
  });

  it('forces TLS through its parameter group', () => {
    expect(staging.text).toHaveResourceWithProperties(DbParameterGroup, {
      family: 'postgres16',
      parameter: [{ name: 'rds.force_ssl', value: '1' }, { name: 'ssl_min_protocol_version', value: 'TLSv1.2' }],
    });
    expect(resource(staging.json, 'aws_db_instance').parameter_group_name).toMatch(/^\$\{aws_db_parameter_group\.database_parameters_\w+\.name\}$/);
  });

  it('protects production from deletion, with a final snapshot and Multi-AZ', () => {
    expect(production.text).toHaveResourceWithProperties(DbInstance, {
      deletion_protection: true,
      skip_final_snapshot: false,
      final_snapshot_identifier: 'arogya-production-final',
      multi_az: true,
      backup_retention_period: 30,
    });
    expect(staging.text).toHaveResourceWithProperties(DbInstance, { deletion_protection: false, skip_final_snapshot: true });
  });

  it('generates the password in Secrets Manager and stores RDS\'s JSON shape for DB_SECRET_ID', () => {
    expect(staging.text).toHaveDataSourceWithProperties(DataAwsSecretsmanagerRandomPassword, { password_length: 40, exclude_punctuation: true });
    const db = resource(staging.json, 'aws_db_instance');
    expect(db.password).toMatch(/^\$\{data\.aws_secretsmanager_random_password\.database_credentials_random_\w+\.random_password\}$/);
    expect(db.lifecycle).toEqual({ ignore_changes: ['password'] });
    const version = resource(staging.json, 'aws_secretsmanager_secret_version', 'database_credentials');
    for (const key of ['"username"', '"password"', '"host"', '"port"', '"dbname"']) expect(version.secret_string).toContain(key);
    expect(version.secret_string).toContain('aws_db_instance.database_instance');
    expect(staging.text).toHaveResourceWithProperties(SecretsmanagerSecretVersion, { lifecycle: { ignore_changes: ['secret_string'] } });
  });
});
