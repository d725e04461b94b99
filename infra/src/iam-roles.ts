import { Construct } from 'constructs';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document/index.js';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role/index.js';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy/index.js';

export interface IamRolesProps {
  readonly name: string;
  readonly accountId: string;
  readonly region: string;
  /** Where the task may stream to Transcribe Medical (AWS_TRANSCRIBE_REGION). */
  readonly transcribeRegion: string;
  /** TRANSCRIBE_VOCABULARY_PREFIX: the custom vocabularies the task may create and update. */
  readonly vocabularyPrefix: string;
  readonly bucketArn: string;
  readonly recordingsPrefix: string;
  readonly recordingsKeyArn: string;
  readonly databaseSecretArn: string;
  readonly sessionSecretArn: string;
  readonly repositoryArn: string;
  readonly logGroupArn: string;
}

/**
 * Two roles, least privilege, no wildcard actions:
 * - the task role is what the app's AWS SDK uses (Transcribe Medical streaming, recordings objects,
 *   the recordings key, the database secret);
 * - the execution role is what ECS uses to start the task (pull the image, write logs, inject
 *   SESSION_SECRET).
 */
export class IamRoles extends Construct {
  readonly taskRole: IamRole;
  readonly executionRole: IamRole;

  constructor(scope: Construct, id: string, props: IamRolesProps) {
    super(scope, id);
    const assume = new DataAwsIamPolicyDocument(this, 'assume-ecs-tasks', {
      statement: [
        {
          actions: ['sts:AssumeRole'],
          principals: [{ type: 'Service', identifiers: ['ecs-tasks.amazonaws.com'] }],
          // Confused-deputy guard: only ECS tasks of this account may assume the roles.
          condition: [
            { test: 'StringEquals', variable: 'aws:SourceAccount', values: [props.accountId] },
            { test: 'ArnLike', variable: 'aws:SourceArn', values: [`arn:aws:ecs:${props.region}:${props.accountId}:*`] },
          ],
        },
      ],
    });

    this.taskRole = new IamRole(this, 'task-role', {
      name: `arogya-${props.name}-task`,
      description: 'arogya-live application (AWS SDK inside the container)',
      assumeRolePolicy: assume.json,
    });
    const taskPolicy = new DataAwsIamPolicyDocument(this, 'task-policy', {
      statement: [
        {
          sid: 'TranscribeMedicalStreaming',
          actions: ['transcribe:StartMedicalStreamTranscription'],
          resources: ['*'], // the action has no resource type; the region is the one limit there is
          condition: [{ test: 'StringEquals', variable: 'aws:RequestedRegion', values: [props.transcribeRegion] }],
        },
        {
          // A specialty's custom medical vocabulary (src/vocabulary/service.ts). Create has no resource
          // type, so the region is its limit; Get and Update are limited to this deployment's names.
          // The table file lives under the recordings prefix (RecordingObjects below), which is also
          // what Transcribe's read of it is authorised against.
          sid: 'TranscribeVocabularyCreate',
          actions: ['transcribe:CreateMedicalVocabulary'],
          resources: ['*'],
          condition: [{ test: 'StringEquals', variable: 'aws:RequestedRegion', values: [props.transcribeRegion] }],
        },
        {
          sid: 'TranscribeVocabularies',
          actions: ['transcribe:GetMedicalVocabulary', 'transcribe:UpdateMedicalVocabulary'],
          resources: [`arn:aws:transcribe:${props.transcribeRegion}:${props.accountId}:medical-vocabulary/${props.vocabularyPrefix}*`],
        },
        {
          // HeadBucket (the /health storage check) is authorised as s3:ListBucket on the bucket.
          sid: 'RecordingsBucket',
          actions: ['s3:ListBucket'],
          resources: [props.bucketArn],
        },
        {
          // Every S3 call the service makes is listed in src/lib/aws-calls.ts; the infra tests
          // simulate each against this policy and the bucket and key policies.
          sid: 'RecordingObjects',
          actions: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
          resources: [`${props.bucketArn}/${props.recordingsPrefix}*`],
        },
        {
          // Only S3 uses the key for the service. (No kms:EncryptionContext condition: the IAM
          // simulator cannot evaluate that key, and a condition the tests cannot check stays out.)
          sid: 'RecordingsKey',
          actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
          resources: [props.recordingsKeyArn],
          condition: [{ test: 'StringEquals', variable: 'kms:ViaService', values: [`s3.${props.region}.amazonaws.com`] }],
        },
        {
          sid: 'DatabaseSecret',
          actions: ['secretsmanager:GetSecretValue'],
          resources: [props.databaseSecretArn],
        },
      ],
    });
    new IamRolePolicy(this, 'task-role-policy', { name: 'arogya-live', role: this.taskRole.id, policy: taskPolicy.json });

    this.executionRole = new IamRole(this, 'execution-role', {
      name: `arogya-${props.name}-execution`,
      description: 'ECS agent: pull the image, write logs, inject secrets',
      assumeRolePolicy: assume.json,
    });
    const executionPolicy = new DataAwsIamPolicyDocument(this, 'execution-policy', {
      statement: [
        {
          sid: 'EcrLogin',
          actions: ['ecr:GetAuthorizationToken'],
          resources: ['*'], // the action has no resource type
        },
        {
          sid: 'PullImage',
          actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'],
          resources: [props.repositoryArn],
        },
        {
          sid: 'WriteLogs',
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [`${props.logGroupArn}:*`],
        },
        {
          sid: 'InjectSessionSecret',
          actions: ['secretsmanager:GetSecretValue'],
          resources: [props.sessionSecretArn],
        },
      ],
    });
    new IamRolePolicy(this, 'execution-role-policy', {
      name: 'arogya-live-execution',
      role: this.executionRole.id,
      policy: executionPolicy.json,
    });
  }
}
