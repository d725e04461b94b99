import type { Construct } from 'constructs';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider/index.js';
import { S3Backend, TerraformOutput, TerraformStack } from 'cdktf';
import { AUDIT_LOG_PREFIXES, AuditLogs } from './audit-logs.js';
import { ContainerRegistry } from './container-registry.js';
import { Database } from './database.js';
import { DeployPolicy } from './deploy-policy.js';
import { EncryptionKey } from './encryption-key.js';
import { FargateService } from './fargate-service.js';
import { GeneratedSecret } from './generated-secret.js';
import { IamRoles } from './iam-roles.js';
import { LoadBalancer } from './load-balancer.js';
import { LogGroup } from './log-group.js';
import { APP_METRICS, Monitoring } from './monitoring.js';
import { Network } from './network.js';
import {
  ALB_IDLE_TIMEOUT_SECONDS,
  CONTAINER_PORT,
  RECORDINGS_PREFIX,
  vocabularyPrefix,
  deregistrationDelaySeconds,
  stopTimeoutSeconds,
  validateParams,
} from './params.js';
import type { EnvironmentParams } from './params.js';
import { RecordingsBucket } from './recordings-bucket.js';
import { SecurityGroups } from './security-groups.js';
import { ServiceAutoscaling } from './service-autoscaling.js';
import { WebAcl } from './web-acl.js';

/**
 * One environment of arogya-live: network, load balancer, Fargate service, database, recordings
 * bucket, registry, roles and monitoring. Throws when the parameters are invalid, listing every problem.
 */
export class ArogyaStack extends TerraformStack {
  constructor(scope: Construct, id: string, p: EnvironmentParams) {
    super(scope, id);
    const problems = validateParams(p);
    if (problems.length > 0) throw new Error(`Invalid parameters for ${id}:\n  - ${problems.join('\n  - ')}`);

    new S3Backend(this, {
      bucket: p.stateBucket,
      key: `arogya-live/${p.name}/terraform.tfstate`,
      region: p.stateRegion,
      encrypt: true,
    });
    // S3-native state locking (Terraform >= 1.10); cdktf 0.21 has no typed option for it.
    this.addOverride('terraform.backend.s3.use_lockfile', true);

    new AwsProvider(this, 'aws', {
      region: p.region,
      allowedAccountIds: [p.accountId],
      defaultTags: [{ tags: { application: 'arogya-live', environment: p.name, 'managed-by': 'cdktf' } }],
    });

    const network = new Network(this, 'network', {
      name: p.name,
      region: p.region,
      transcribeRegion: p.transcribeRegion,
      cidr: p.vpcCidr,
      availabilityZones: p.availabilityZones,
    });
    const groups = new SecurityGroups(this, 'security-groups', {
      name: p.name,
      vpcId: network.vpc.id,
      vpcCidr: p.vpcCidr,
      containerPort: CONTAINER_PORT,
    });

    const recordingsKey = new EncryptionKey(this, 'recordings-key', {
      accountId: p.accountId,
      alias: `arogya-${p.name}-recordings`,
      description: `arogya-live ${p.name}: recordings in S3`,
    });
    const databaseKey = new EncryptionKey(this, 'database-key', {
      accountId: p.accountId,
      alias: `arogya-${p.name}-database`,
      description: `arogya-live ${p.name}: RDS storage and Performance Insights`,
    });
    const recordingsBucketName = `arogya-${p.name}-recordings-${p.accountId}`;
    const auditLogs = new AuditLogs(this, 'audit-logs', {
      name: p.name,
      accountId: p.accountId,
      region: p.region,
      vpcId: network.vpc.id,
      recordingsBucketArn: `arn:aws:s3:::${recordingsBucketName}`,
      retentionDays: p.auditLogRetentionDays,
      forceDestroy: !p.deletionProtection,
    });
    const recordings = new RecordingsBucket(this, 'recordings', {
      bucketName: recordingsBucketName,
      accessLogs: { bucket: auditLogs.bucket.id, prefix: AUDIT_LOG_PREFIXES.recordingsAccess },
      kmsKeyArn: recordingsKey.key.arn,
      prefix: RECORDINGS_PREFIX,
      retentionDays: p.recordingRetentionDays,
      forceDestroy: !p.deletionProtection,
    });
    const registry = new ContainerRegistry(this, 'registry', { repositoryName: `arogya-live-${p.name}`, keepImages: 30 });

    const database = new Database(this, 'database', {
      name: p.name,
      subnetIds: network.privateSubnetIds,
      securityGroupId: groups.database.id,
      kmsKeyArn: databaseKey.key.arn,
      instanceClass: p.dbInstanceClass,
      allocatedStorageGiB: p.dbAllocatedStorageGiB,
      maxAllocatedStorageGiB: p.dbMaxAllocatedStorageGiB,
      multiAz: p.dbMultiAz,
      backupRetentionDays: p.dbBackupRetentionDays,
      deletionProtection: p.deletionProtection,
    });
    const sessionSecret = new GeneratedSecret(this, 'session-secret', {
      secretName: `arogya/${p.name}/session-secret`,
      description: 'arogya-live SESSION_SECRET (cookie signing)',
      length: 64,
      recoveryWindowDays: p.deletionProtection ? 30 : 7,
    });
    sessionSecret.storeValue();

    const logs = new LogGroup(this, 'logs', { name: p.name, retentionDays: p.logRetentionDays });
    const roles = new IamRoles(this, 'iam', {
      name: p.name,
      accountId: p.accountId,
      region: p.region,
      transcribeRegion: p.transcribeRegion,
      vocabularyPrefix: vocabularyPrefix(p.name),
      bucketArn: recordings.bucket.arn,
      recordingsPrefix: RECORDINGS_PREFIX,
      recordingsKeyArn: recordingsKey.key.arn,
      databaseSecretArn: database.credentials.secret.arn,
      sessionSecretArn: sessionSecret.secret.arn,
      repositoryArn: registry.repository.arn,
      logGroupArn: logs.group.arn,
    });

    const alb = new LoadBalancer(this, 'load-balancer', {
      name: p.name,
      vpcId: network.vpc.id,
      subnetIds: network.publicSubnetIds,
      securityGroupId: groups.alb.id,
      certificateArn: p.certificateArn,
      containerPort: CONTAINER_PORT,
      idleTimeoutSeconds: ALB_IDLE_TIMEOUT_SECONDS,
      deregistrationDelaySeconds: deregistrationDelaySeconds(p),
      deletionProtection: p.deletionProtection,
      accessLogs: { bucket: auditLogs.bucket.id, prefix: AUDIT_LOG_PREFIXES.alb, after: auditLogs.policy },
    });
    new WebAcl(this, 'waf', { name: p.name, loadBalancerArn: alb.lb.arn });

    const app = new FargateService(this, 'app', {
      name: p.name,
      region: p.region,
      cpu: p.taskCpu,
      memoryMiB: p.taskMemoryMiB,
      image: `${registry.repository.repositoryUrl}:${p.initialImageTag}`,
      containerPort: CONTAINER_PORT,
      environment: {
        NODE_ENV: 'production',
        // Every interface: the ALB reaches the task's ENI (the development default may be 127.0.0.1).
        HOST: '0.0.0.0',
        PORT: String(CONTAINER_PORT),
        LOG_LEVEL: 'info',
        AWS_REGION: p.region,
        AWS_TRANSCRIBE_REGION: p.transcribeRegion,
        DB_SECRET_ID: database.credentials.secret.arn,
        DB_SSL: 'verify-full',
        S3_BUCKET: recordings.bucket.bucket,
        S3_KMS_KEY_ID: recordingsKey.key.arn,
        S3_PREFIX: RECORDINGS_PREFIX,
        TRANSCRIBE_ENGINE: 'aws',
        TRANSCRIBE_VOCABULARY_PREFIX: vocabularyPrefix(p.name),
        // Only the ALB, inside the VPC, may set X-Forwarded-For.
        TRUST_PROXY: p.vpcCidr,
        COOKIE_SECURE: 'true',
        ALLOWED_ORIGINS: `https://${p.domainName}`,
        MAX_SESSIONS: String(p.maxSessionsPerTask),
        SHUTDOWN_TIMEOUT_MS: String(p.shutdownTimeoutMs),
      },
      secrets: { SESSION_SECRET: sessionSecret.secret.arn },
      stopTimeoutSeconds: stopTimeoutSeconds(p),
      taskRoleArn: roles.taskRole.arn,
      executionRoleArn: roles.executionRole.arn,
      logGroupName: logs.group.name,
      subnetIds: network.privateSubnetIds,
      securityGroupId: groups.service.id,
      targetGroupArn: alb.targetGroup.arn,
      desiredCount: p.minTasks,
    });
    // First apply: the service may only start tasks once the listener forwards to the target group
    // and the database and its secret's value exist (a task started before reads no DB_SECRET_ID
    // value or reaches no database, fails its start-up and the deployment circuit breaker trips).
    // (node.addDependency wrote no depends_on in cdktf 0.21: the listener dependency never reached Terraform.)
    app.service.addOverride(
      'depends_on',
      [alb.httpsListener, database.instance, database.credentialsVersion].map((r) => `${r.terraformResourceType}.${r.friendlyUniqueId}`),
    );

    const monitoring = new Monitoring(this, 'monitoring', {
      name: p.name,
      region: p.region,
      accountId: p.accountId,
      logGroupName: logs.group.name,
      loadBalancerArnSuffix: alb.lb.arnSuffix,
      targetGroupArnSuffix: alb.targetGroup.arnSuffix,
      clusterName: app.cluster.name,
      serviceName: app.service.name,
      databaseIdentifier: database.instance.identifier,
      databaseInstanceClass: p.dbInstanceClass,
      serviceArn: app.service.id,
      alarmEmail: p.alarmEmail,
      transcribeConcurrentStreamsQuota: p.transcribeConcurrentStreamsQuota,
    });
    new ServiceAutoscaling(this, 'autoscaling', {
      clusterName: app.cluster.name,
      serviceName: app.service.name,
      minTasks: p.minTasks,
      maxTasks: p.maxTasks,
      cpuTargetPercent: p.cpuTargetPercent,
      sessionsMetric: { namespace: monitoring.namespace, name: APP_METRICS.liveSessions },
      sessionsTargetPerTask: p.sessionsTargetPerTask,
    });

    const deploy = new DeployPolicy(this, 'deploy', {
      name: p.name,
      region: p.region,
      accountId: p.accountId,
      repositoryArn: registry.repository.arn,
      clusterName: app.cluster.name,
      serviceName: app.service.name,
      taskFamily: app.taskDefinition.family,
      taskRoleArn: roles.taskRole.arn,
      executionRoleArn: roles.executionRole.arn,
    });

    new TerraformOutput(this, 'url', { value: `https://${p.domainName}`, description: 'Public URL (point its DNS at alb_dns_name)' });
    new TerraformOutput(this, 'alb_dns_name', { value: alb.lb.dnsName });
    new TerraformOutput(this, 'ecr_repository_url', { value: registry.repository.repositoryUrl });
    new TerraformOutput(this, 'cluster_name', { value: app.cluster.name });
    new TerraformOutput(this, 'service_name', { value: app.service.name });
    new TerraformOutput(this, 'task_family', { value: app.taskDefinition.family });
    new TerraformOutput(this, 'log_group', { value: logs.group.name });
    new TerraformOutput(this, 'dashboard', { value: monitoring.dashboardName });
    new TerraformOutput(this, 'alarm_topic_arn', { value: monitoring.topic.arn });
    new TerraformOutput(this, 'deploy_policy_arn', { value: deploy.policy.arn, description: 'Attach to the CI role that runs arogya-live deploy' });
  }
}
