import { DB_INSTANCE_MEMORY_GIB } from './monitoring.js';

/**
 * Typed parameters of one environment (staging, production). Every stack is built from one of these;
 * nothing else varies between environments. `environments.ts` holds the real values.
 */
export interface EnvironmentParams {
  /** Short name used in resource names and tags: `staging`, `production`. */
  readonly name: string;
  /** AWS region, e.g. `eu-west-1`: the VPC, tasks, database, bucket and keys. */
  readonly region: string;
  /**
   * Where Transcribe Medical streaming runs (AWS_TRANSCRIBE_REGION); usually `region`. Streaming is
   * not offered everywhere (ap-south-1 has none), so a clinic there names another region: the task
   * role may stream only there, and the VPC endpoint reaches it (cross-region PrivateLink).
   */
  readonly transcribeRegion: string;
  /** The account the stack may be applied to (the provider refuses any other). */
  readonly accountId: string;
  /** Two or more availability zones of `region`. */
  readonly availabilityZones: readonly string[];
  /** VPC CIDR, a /16; subnets are carved from it (public x.x.0-15.0/24, private x.x.16-31.0/24). */
  readonly vpcCidr: string;
  /** Public host name clients use, e.g. `live.example.org`; its DNS points at the ALB (not managed here). */
  readonly domainName: string;
  /** ACM certificate for `domainName`, in `region`. */
  readonly certificateArn: string;

  /** Remote state: an existing, versioned, encrypted S3 bucket and its key prefix. */
  readonly stateBucket: string;
  readonly stateRegion: string;

  /** Fargate task size. cpu in units (1024 = 1 vCPU), memory in MiB; a valid Fargate pair. */
  readonly taskCpu: number;
  readonly taskMemoryMiB: number;
  readonly minTasks: number;
  readonly maxTasks: number;
  /** Scale out when the average CPU of the tasks passes this percentage. */
  readonly cpuTargetPercent: number;
  /** Sessions one task accepts (MAX_SESSIONS). */
  readonly maxSessionsPerTask: number;
  /** Scale out when the average live sessions per task pass this number. */
  readonly sessionsTargetPerTask: number;
  /** How long the app drains after SIGTERM (SHUTDOWN_TIMEOUT_MS). */
  readonly shutdownTimeoutMs: number;
  /** Image tag the first task definition points at; `deploy rollout` replaces it by a digest. */
  readonly initialImageTag: string;

  /** RDS instance class and storage. */
  readonly dbInstanceClass: string;
  readonly dbAllocatedStorageGiB: number;
  readonly dbMaxAllocatedStorageGiB: number;
  readonly dbMultiAz: boolean;
  readonly dbBackupRetentionDays: number;
  /** True in production: the database cannot be deleted (and a final snapshot is taken). */
  readonly deletionProtection: boolean;

  /** Days recordings are kept before S3 expires them (and noncurrent versions after that). */
  readonly recordingRetentionDays: number;
  readonly logRetentionDays: number;
  /**
   * Days the audit logs (ALB access, S3 access of the recordings bucket, VPC flow) are kept in the
   * log bucket. HIPAA keeps required documentation 6 years (2192 days); set to your policy.
   */
  readonly auditLogRetentionDays: number;
  /** Where alarms are mailed; empty: subscribe to the SNS topic by other means. */
  readonly alarmEmail: string;
  /** Account-wide Transcribe streaming quota (concurrent streams); default 25 until raised. */
  readonly transcribeConcurrentStreamsQuota: number;
}

/**
 * ALB idle timeout. Shorter than the service's HTTP keep-alive (65 s, src/lib/timeouts.ts), so the
 * ALB closes an idle connection before Node does (else a request can race Node's close: 502), and
 * longer than Socket.IO's 20 s ping interval, so a WebSocket between pings is never idle that long.
 * (It was 3600 s: every idle keep-alive connection then raced Node's 65 s close.)
 */
export const ALB_IDLE_TIMEOUT_SECONDS = 60;
/** The range the ALB accepts for `idle_timeout`. */
export const ALB_IDLE_TIMEOUT_RANGE = [1, 4000] as const;
/** Fargate's upper bound for a container's stopTimeout. */
export const FARGATE_MAX_STOP_TIMEOUT_SECONDS = 120;
/** Seconds added to the app's drain so ECS never SIGKILLs a task that is still persisting sessions. */
export const STOP_MARGIN_SECONDS = 5;
/**
 * From ECS marking the task STOPPED to the app draining: the app polls the task metadata endpoint
 * every second (ECS_STOP_POLL_MS); the rest is margin for the agent. Then the drain tells, ends and
 * stores every session and closes the sockets, and browsers reconnect (about 1 s) through the ALB
 * to another task: all before the ALB cuts the connections at the end of the deregistration delay.
 */
export const STOP_DETECTION_SECONDS = 5;
export const CLIENT_MOVE_SECONDS = 5;
/** The range the ALB accepts for a target group's deregistration delay. */
export const ALB_DEREGISTRATION_DELAY_RANGE = [0, 3600] as const;
/** The port the container listens on (PORT). */
export const CONTAINER_PORT = 3000;
/** The object key prefix recordings live under (S3_PREFIX). */
export const RECORDINGS_PREFIX = 'recordings/';
/** The names of an environment's custom medical vocabularies in Transcribe (unique per account and region). */
export const vocabularyPrefix = (environment: string): string => `arogya-${environment}-`;

/** The retention values CloudWatch Logs accepts. */
const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

const FARGATE_SIZES: Record<number, [number, number]> = {
  256: [512, 2048],
  512: [1024, 4096],
  1024: [2048, 8192],
  2048: [4096, 16384],
  4096: [8192, 30720],
};

/** Seconds the app drains after SIGTERM, rounded up. */
export function drainSeconds(p: EnvironmentParams): number {
  return Math.ceil(p.shutdownTimeoutMs / 1000);
}

/**
 * The target group's deregistration delay: the ALB keeps a stopping task's connections open this
 * long, so the drain (started at DesiredStatus STOPPED, not at SIGTERM) reaches every browser.
 */
export function deregistrationDelaySeconds(p: EnvironmentParams): number {
  return STOP_DETECTION_SECONDS + drainSeconds(p) + CLIENT_MOVE_SECONDS;
}

/** The container's stopTimeout: the drain plus a margin (the drain runs at SIGTERM when ECS's signal was missed). */
export function stopTimeoutSeconds(p: EnvironmentParams): number {
  return drainSeconds(p) + STOP_MARGIN_SECONDS;
}

/**
 * Checks a parameter set. Returns every problem (empty when valid) so `main.ts` can print them all.
 */
export function validateParams(p: EnvironmentParams): string[] {
  const problems: string[] = [];
  if (!/^[a-z][a-z0-9-]{1,20}$/.test(p.name)) problems.push('name: lower-case letters, digits and dashes');
  if (!/^\d{12}$/.test(p.accountId)) problems.push('accountId: 12 digits');
  if (new Set(p.availabilityZones).size < 2) problems.push('availabilityZones: at least two distinct zones');
  if (!/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(p.region)) problems.push('region: an AWS region such as eu-west-1');
  if (!/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(p.transcribeRegion)) problems.push('transcribeRegion: an AWS region such as eu-west-1');
  if (!/^10\.\d{1,3}\.0\.0\/16$/.test(p.vpcCidr)) problems.push('vpcCidr: a 10.x.0.0/16 block');
  if (!/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]+$/.test(p.certificateArn)) {
    problems.push('certificateArn: an ACM certificate ARN');
  }
  if (!/^[a-z0-9.-]+\.[a-z]{2,}$/.test(p.domainName)) problems.push('domainName: a host name');
  const memory = FARGATE_SIZES[p.taskCpu];
  if (!memory) problems.push(`taskCpu: one of ${Object.keys(FARGATE_SIZES).join(', ')}`);
  else if (p.taskMemoryMiB < memory[0] || p.taskMemoryMiB > memory[1] || p.taskMemoryMiB % 1024 !== 0) {
    problems.push(`taskMemoryMiB: ${memory[0]}..${memory[1]} in steps of 1024 for taskCpu ${p.taskCpu}`);
  }
  if (p.minTasks < 1 || p.maxTasks < p.minTasks) problems.push('minTasks/maxTasks: 1 <= minTasks <= maxTasks');
  if (p.sessionsTargetPerTask < 1 || p.sessionsTargetPerTask > p.maxSessionsPerTask) {
    problems.push('sessionsTargetPerTask: between 1 and maxSessionsPerTask');
  }
  if (stopTimeoutSeconds(p) > FARGATE_MAX_STOP_TIMEOUT_SECONDS) {
    problems.push(
      `shutdownTimeoutMs: drain + ${STOP_MARGIN_SECONDS} s must fit Fargate's ${FARGATE_MAX_STOP_TIMEOUT_SECONDS} s stopTimeout`,
    );
  }
  if (DB_INSTANCE_MEMORY_GIB[p.dbInstanceClass] === undefined) problems.push(`dbInstanceClass: one of ${Object.keys(DB_INSTANCE_MEMORY_GIB).join(', ')}`);
  if (p.dbBackupRetentionDays < 1 || p.dbBackupRetentionDays > 35) problems.push('dbBackupRetentionDays: 1..35');
  if (p.dbMaxAllocatedStorageGiB < p.dbAllocatedStorageGiB) problems.push('dbMaxAllocatedStorageGiB: >= dbAllocatedStorageGiB');
  if (p.recordingRetentionDays < 1) problems.push('recordingRetentionDays: at least 1');
  if (!Number.isInteger(p.auditLogRetentionDays) || p.auditLogRetentionDays < 1) problems.push('auditLogRetentionDays: a whole number of days, at least 1');
  if (!LOG_RETENTION_DAYS.includes(p.logRetentionDays)) problems.push(`logRetentionDays: one of ${LOG_RETENTION_DAYS.join(', ')}`);
  if (p.initialImageTag.trim() === '') problems.push('initialImageTag: required');
  // Alarms with nobody subscribed alert nobody: production needs an address (staging may use other means).
  if (p.deletionProtection && !/^[^@\s]+@[^@\s]+\.[a-z]{2,}$/i.test(p.alarmEmail)) problems.push('alarmEmail: an address is required in production');
  if (p.alarmEmail !== '' && !/^[^@\s]+@[^@\s]+\.[a-z]{2,}$/i.test(p.alarmEmail)) problems.push('alarmEmail: an e-mail address');
  if (/REPLACE_ME/.test(JSON.stringify(p))) problems.push('a REPLACE_ME placeholder is left: set it in AROGYA_PARAMS_FILE or an AROGYA_* variable (DEPLOYMENT.md, "Parameters")');
  return problems;
}
