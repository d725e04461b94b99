/**
 * Every AWS request the running service makes, with the request context IAM evaluates it in.
 *
 * This is the one list: `test/unit/aws-calls.test.ts` checks that the S3 and Secrets Manager
 * commands the code sends (captured from the SDK) are all here, with the encryption headers stated
 * here; `infra/test/iam-simulation.test.ts` evaluates each entry with `@cloud-copilot/iam-simulate`
 * against the task role policy, the bucket policy and the KMS key policy of the synthesized stack.
 * A new SDK call without an entry fails the first test; an entry the stack does not allow fails the
 * second. Pure data, no imports: the infra package reads it too.
 */

/** Where the service runs and what it touches (all known to the stack and to the config). */
export interface AwsTarget {
  /** The stack's region (S3, KMS, Secrets Manager). */
  region: string;
  /** AWS_TRANSCRIBE_REGION: where Transcribe Medical streaming runs (defaults to `region`). */
  transcribeRegion: string;
  bucket: string;
  /** S3_PREFIX, e.g. `recordings/`. */
  prefix: string;
  /** S3_KMS_KEY_ID as an ARN. */
  kmsKeyArn: string;
  /** DB_SECRET_ID as an ARN. */
  databaseSecretArn: string;
  /** TRANSCRIBE_VOCABULARY_PREFIX (default `arogya-`). */
  vocabularyPrefix?: string;
}

/** One request: the IAM action it is authorised as, on which resource, with which context keys. */
export interface AwsCall {
  /** Stable name, used in test names. */
  id: string;
  /** What the service does with it. */
  purpose: string;
  /** The SDK command class that sends it; absent for requests AWS makes on the service's behalf. */
  command?: string;
  /** The IAM action the request is authorised as (HeadBucket is `s3:ListBucket`, UploadPart `s3:PutObject`). */
  action: string;
  /** The resource ARN, or `*` for an action without a resource type. */
  resource: string;
  /**
   * Condition keys the request carries beyond the principal's: TLS always, the SSE headers only on
   * CreateMultipartUpload (UploadPart and CompleteMultipartUpload carry none; S3 applies the
   * upload's encryption), the via-service and encryption context of the KMS calls S3 makes.
   */
  context: Record<string, string>;
  /** Set for requests another AWS service makes with the task's credentials (S3 → KMS). */
  via?: 's3';
  /** Made only against the embedded S3-API store (never in AWS): listed, not simulated. */
  embeddedOnly?: true;
}

/** A recording object's key as the service names them (`<prefix><transcriptionId>/part-<n>.<ext>`); any key under the prefix. */
const SAMPLE_OBJECT = '00000000-0000-4000-8000-000000000000/part-0.wav';

/**
 * The requests the service makes against `t`, in the order a recording meets them.
 */
export function awsCalls(t: AwsTarget): AwsCall[] {
  const bucketArn = `arn:aws:s3:::${t.bucket}`;
  const objectArn = `${bucketArn}/${t.prefix}${SAMPLE_OBJECT}`;
  const tls = { 'aws:SecureTransport': 'true' };
  const s3 = (id: string, purpose: string, command: string, action: string, resource = objectArn, extra: Record<string, string> = {}): AwsCall => ({
    id,
    purpose,
    command,
    action,
    resource,
    context: { ...tls, 'aws:RequestedRegion': t.region, ...extra },
  });
  // S3 calls KMS with the task's credentials; KMS sees the via-service. (It also passes the bucket's
  // ARN as encryption context, which the IAM simulator cannot evaluate, so no policy relies on it.)
  const viaS3 = { ...tls, 'aws:RequestedRegion': t.region, 'kms:ViaService': `s3.${t.region}.amazonaws.com` };
  // A specialty's custom vocabulary (docs/review.md): its table file under the prefix, and the
  // vocabulary itself in Transcribe's region, in the account that owns the key.
  const account = t.kmsKeyArn.split(':')[4] ?? '';
  const vocabularyName = `${t.vocabularyPrefix ?? 'arogya-'}cardiology`;
  const vocabularyFileArn = `${bucketArn}/${t.prefix}vocabularies/${vocabularyName}/v1.txt`;
  const vocabularyArn = `arn:aws:transcribe:${t.transcribeRegion}:${account}:medical-vocabulary/${vocabularyName}`;
  const transcribeContext = { ...tls, 'aws:RequestedRegion': t.transcribeRegion };
  return [
    {
      id: 'database-secret',
      purpose: 'read the database credentials at start-up (DB_SECRET_ID)',
      command: 'GetSecretValueCommand',
      action: 'secretsmanager:GetSecretValue',
      resource: t.databaseSecretArn,
      context: { ...tls, 'aws:RequestedRegion': t.region },
    },
    s3('storage-check', '/health storage check (HeadBucket)', 'HeadBucketCommand', 's3:ListBucket', bucketArn),
    {
      ...s3('embedded-health-object', '/health of the embedded store: write its marker object once', 'PutObjectCommand', 's3:PutObject', `${bucketArn}/health/sentinel`, {
        's3:x-amz-server-side-encryption': 'aws:kms',
        's3:x-amz-server-side-encryption-aws-kms-key-id': t.kmsKeyArn,
      }),
      embeddedOnly: true,
    },
    s3('upload-start', 'open a recording part (multipart, SSE-KMS headers)', 'CreateMultipartUploadCommand', 's3:PutObject', objectArn, {
      's3:x-amz-server-side-encryption': 'aws:kms',
      's3:x-amz-server-side-encryption-aws-kms-key-id': t.kmsKeyArn,
    }),
    { id: 'sse-data-key', purpose: 'S3 asks KMS for the bucket key when an encrypted upload starts', action: 'kms:GenerateDataKey', resource: t.kmsKeyArn, context: viaS3, via: 's3' },
    s3('upload-part', 'upload 5 MiB parts (no SSE headers)', 'UploadPartCommand', 's3:PutObject'),
    { id: 'sse-decrypt', purpose: 'S3 decrypts the data key for further parts and for reads', action: 'kms:Decrypt', resource: t.kmsKeyArn, context: viaS3, via: 's3' },
    s3('upload-complete', 'complete the part (no SSE headers)', 'CompleteMultipartUploadCommand', 's3:PutObject'),
    s3('upload-abort', 'abandon an unfinished upload', 'AbortMultipartUploadCommand', 's3:AbortMultipartUpload'),
    s3('object-exists', 'recovery: was the upload completed before a crash', 'HeadObjectCommand', 's3:GetObject'),
    s3('object-read', 'read back to verify, playback, continuation on another task', 'GetObjectCommand', 's3:GetObject'),
    s3('object-delete', 'delete a part superseded by a continuation, a checkpoint once the recording is stored', 'DeleteObjectCommand', 's3:DeleteObject'),
    s3('checkpoint-list', 'the hourly sweep of checkpoint objects a crash left behind (ListObjectsV2 under <prefix>checkpoints/)', 'ListObjectsV2Command', 's3:ListBucket', bucketArn),
    s3('vocabulary-file', 'write a specialty\'s custom vocabulary table for Transcribe (SSE-KMS headers)', 'PutObjectCommand', 's3:PutObject', vocabularyFileArn, {
      's3:x-amz-server-side-encryption': 'aws:kms',
      's3:x-amz-server-side-encryption-aws-kms-key-id': t.kmsKeyArn,
    }),
    {
      // Transcribe reads VocabularyFileUri with the caller's permissions (and S3 decrypts through KMS
      // as for any read: sse-decrypt above); it reads only a bucket in its own region.
      id: 'vocabulary-file-read',
      purpose: 'Transcribe reads the vocabulary table on CreateMedicalVocabulary / UpdateMedicalVocabulary',
      action: 's3:GetObject',
      resource: vocabularyFileArn,
      context: { ...tls, 'aws:RequestedRegion': t.region },
    },
    {
      id: 'vocabulary-state',
      purpose: 'does the vocabulary exist, is it READY (before a stream names it)',
      command: 'GetMedicalVocabularyCommand',
      action: 'transcribe:GetMedicalVocabulary',
      resource: vocabularyArn,
      context: transcribeContext,
    },
    {
      id: 'vocabulary-create',
      purpose: 'create a specialty\'s custom medical vocabulary (the action has no resource type)',
      command: 'CreateMedicalVocabularyCommand',
      action: 'transcribe:CreateMedicalVocabulary',
      resource: '*',
      context: transcribeContext,
    },
    {
      id: 'vocabulary-update',
      purpose: 'replace its terms after an admin\'s save',
      command: 'UpdateMedicalVocabularyCommand',
      action: 'transcribe:UpdateMedicalVocabulary',
      resource: vocabularyArn,
      context: transcribeContext,
    },
    {
      id: 'transcribe-stream',
      purpose: 'live transcription (Transcribe Medical streaming, AWS_TRANSCRIBE_REGION)',
      command: 'StartMedicalStreamTranscriptionCommand',
      action: 'transcribe:StartMedicalStreamTranscription',
      resource: '*',
      context: { ...tls, 'aws:RequestedRegion': t.transcribeRegion },
    },
  ];
}
