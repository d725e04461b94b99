import path from 'node:path';
import { z } from 'zod';

const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);
const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(def ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1' || v === 'yes');
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/**
 * The one schema for every setting. Each variable is documented in `.env.example`; names that
 * API.md lists are part of the public interface.
 */
export const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(3000),
  // Loopback by default: a developer's `npm start` is not reachable from the café's Wi-Fi. Containers
  // listen on every interface: the Dockerfile sets HOST=0.0.0.0 (the ALB reaches the task's ENI).
  HOST: z.string().default('127.0.0.1'),
  DATA_DIR: z.string().default('./.data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  DATABASE_URL: optionalString,
  DB_SECRET_ID: optionalString,
  DB_NAME: z.string().default('arogya'),
  DB_SSL: z.enum(['disable', 'require', 'verify-full']).default('disable'),
  DB_SSL_CA_FILE: optionalString,
  DB_POOL_MAX: int(10, 1),
  EMBEDDED_PG_PORT: int(0),
  ALLOW_EMBEDDED_IN_PRODUCTION: bool(false),

  S3_BUCKET: optionalString,
  S3_KMS_KEY_ID: optionalString,
  S3_PREFIX: z.string().default('recordings/'),
  EMBEDDED_S3_PORT: int(0),
  AWS_REGION: z.string().default('us-east-1'),
  AWS_TRANSCRIBE_REGION: optionalString,
  AWS_ENDPOINT_URL_S3: optionalString,
  RECORDING_UPLOAD_CONCURRENCY: int(16, 1),
  CHECKPOINT_INTERVAL_MS: int(5000, 200),

  TRANSCRIBE_ENGINE: z.enum(['local', 'aws']).default('local'),
  // What Transcribe gets of an Opus session: its Opus as Ogg Opus (nothing decoded here) or 16 kHz
  // PCM. The default is the measured choice (docs/audio-and-engines.md, "Opus to Transcribe").
  TRANSCRIBE_AUDIO: z.enum(['pcm', 'opus']).default('opus'),
  MAX_SESSIONS: int(100, 1),
  MAX_SESSIONS_PER_USER: int(4, 1),
  IDLE_TIMEOUT_MS: int(300_000, 1),
  MAX_SESSION_MS: int(1_800_000, 1),
  LOCAL_ENGINE_WORKERS: int(0),
  LOCAL_ENGINE_MAX_STREAMS: int(0),
  LOCAL_LM_DIR: optionalString,
  TRANSCRIBE_FALLBACK: z.enum(['local', 'none']).optional(),
  TRANSCRIBE_VOCABULARY_PREFIX: z.string().regex(/^[0-9A-Za-z._-]{0,150}$/).default('arogya-'),
  ENGINE_MAX_RETRIES: int(8, 0),
  ENGINE_BACKOFF_BASE_MS: int(250, 1),
  ENGINE_BACKOFF_MAX_MS: int(5000, 1),
  ENGINE_FAILOVER_AFTER: int(2, 1),
  ENGINE_PROBE_INTERVAL_MS: int(2000, 100),
  ENGINE_WATCHDOG_MS: int(10_000, 0),
  ENGINE_IDLE_RELEASE_MS: int(30_000, 0),
  MAX_ENGINE_STREAMS_PER_USER: int(4, 1),
  REPAIR_CONCURRENCY: int(2, 0),
  REPAIR_SPEED: z.coerce.number().min(0.1).max(100).default(1),
  ENGINE_REPLAY_MAX_MS: int(120_000, 1000),
  RESUME_GRACE_MS: int(120_000, 0),
  TASK_DEAD_AFTER_MS: int(10_000, 1000),

  SESSION_SECRET: optionalString,
  SESSION_IDLE_MS: int(8 * 60 * 60 * 1000, 60_000),
  SESSION_MAX_AGE_MS: int(12 * 60 * 60 * 1000, 60_000),
  SOCKET_SESSION_CHECK_MS: int(30_000, 100),
  MAX_SOCKETS_PER_USER: int(20, 1),
  TRUST_PROXY: z.string().default('loopback'),
  COOKIE_SECURE: z.enum(['auto', 'true', 'false']).default('auto'),
  ALLOWED_ORIGINS: optionalString,
  LOGIN_MAX_PER_IP: int(20, 1),
  LOGIN_MAX_PER_USER: int(5, 1),
  LOGIN_WINDOW_MS: int(15 * 60 * 1000, 1000),
  LOGIN_DELAY_BASE_MS: int(1000, 1),
  LOGIN_DELAY_MAX_MS: int(5 * 60 * 1000, 1),

  HEALTH_CACHE_MS: int(2000, 0),
  WARM_UP_CHUNKS: int(300, 0),
  METRICS_TOKEN: optionalString,
  METRICS_LOG_INTERVAL_MS: int(60_000, 1000),
  LOG_REPEAT_WINDOW_MS: int(10_000, 100),
  SHUTDOWN_TIMEOUT_MS: int(25_000, 1000),
  ECS_STOP_POLL_MS: int(1000, 100),
});

type Raw = z.infer<typeof configSchema>;

export interface Config extends Raw {
  /** Absolute DATA_DIR. */
  dataDir: string;
  /** Allowed browser origins; empty means "same host as the request". */
  allowedOrigins: string[];
  /** True when neither DATABASE_URL nor DB_SECRET_ID is set: run our own PostgreSQL. */
  embeddedDatabase: boolean;
  /** True when S3_BUCKET is unset: run our own S3-API server. */
  embeddedStorage: boolean;
  /** ECS's task metadata endpoint v4 (set by ECS in every task); the service drains when it says STOPPED. */
  ecsMetadataUri: string | undefined;
  /** AWS_TRANSCRIBE_REGION, defaulting to AWS_REGION. */
  AWS_TRANSCRIBE_REGION: string;
  /** The engine a session fails over to: TRANSCRIBE_FALLBACK, default `local` for aws, `none` for local. */
  fallbackEngine: 'local' | 'none';
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the environment once. Throws {@link ConfigError} listing every problem at once.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const raw = parsed.data;
  const problems: string[] = [];
  if (raw.DATABASE_URL && raw.DB_SECRET_ID) problems.push('DATABASE_URL and DB_SECRET_ID: set one, not both');
  if (raw.NODE_ENV === 'production' && !raw.SESSION_SECRET) problems.push('SESSION_SECRET: required in production');
  // The image sets NODE_ENV=production and ECS sets the metadata URI: a task that lost DB_SECRET_ID
  // or S3_BUCKET must not come up on an embedded database and store on its ephemeral disk, where
  // recordings and transcripts would be lost with the task.
  const production = raw.NODE_ENV === 'production' || Boolean(env.ECS_CONTAINER_METADATA_URI_V4);
  if (production && !raw.ALLOW_EMBEDDED_IN_PRODUCTION) {
    if (!raw.DATABASE_URL && !raw.DB_SECRET_ID) problems.push('DB_SECRET_ID or DATABASE_URL: required in production (the embedded database would lose data with the task; ALLOW_EMBEDDED_IN_PRODUCTION=true for a demo)');
    if (!raw.S3_BUCKET) problems.push('S3_BUCKET: required in production (the embedded store would lose recordings with the task; ALLOW_EMBEDDED_IN_PRODUCTION=true for a demo)');
  }
  if (raw.SESSION_SECRET && raw.SESSION_SECRET.length < 32) problems.push('SESSION_SECRET: at least 32 characters');
  if (raw.METRICS_TOKEN && raw.METRICS_TOKEN.length < 16) problems.push('METRICS_TOKEN: at least 16 characters');
  if (raw.SESSION_IDLE_MS > raw.SESSION_MAX_AGE_MS) problems.push('SESSION_IDLE_MS: must not exceed SESSION_MAX_AGE_MS');
  if (raw.IDLE_TIMEOUT_MS > raw.MAX_SESSION_MS) problems.push('IDLE_TIMEOUT_MS: must not exceed MAX_SESSION_MS');
  if (env.RESUME_GRACE_MS !== undefined && raw.RESUME_GRACE_MS > raw.IDLE_TIMEOUT_MS) problems.push('RESUME_GRACE_MS: must not exceed IDLE_TIMEOUT_MS');
  if (raw.ENGINE_BACKOFF_BASE_MS > raw.ENGINE_BACKOFF_MAX_MS) problems.push('ENGINE_BACKOFF_BASE_MS: must not exceed ENGINE_BACKOFF_MAX_MS');
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...raw,
    dataDir: path.resolve(raw.DATA_DIR),
    allowedOrigins: (raw.ALLOWED_ORIGINS ?? '')
      .split(',')
      .map((o) => o.trim().replace(/\/$/, ''))
      .filter(Boolean),
    embeddedDatabase: !raw.DATABASE_URL && !raw.DB_SECRET_ID,
    embeddedStorage: !raw.S3_BUCKET,
    AWS_TRANSCRIBE_REGION: raw.AWS_TRANSCRIBE_REGION ?? raw.AWS_REGION,
    ecsMetadataUri: env.ECS_CONTAINER_METADATA_URI_V4?.trim() || undefined,
    // The default grace follows a shorter idle timeout; an explicit one above it is refused above.
    RESUME_GRACE_MS: Math.min(raw.RESUME_GRACE_MS, raw.IDLE_TIMEOUT_MS),
    fallbackEngine: raw.TRANSCRIBE_ENGINE === 'local' ? 'none' : (raw.TRANSCRIBE_FALLBACK ?? 'local'),
  };
}
