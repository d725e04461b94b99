import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config.js';
import type { EmbeddedPostgresHandle } from '../db/embedded-postgres.js';
import { migrate, migrationFiles } from '../db/migrations.js';
import { openDatabase } from '../db/open.js';
import type { Pool } from '../db/pool.js';
import type { Logger } from '../lib/logger.js';
import type { ShutdownStack } from '../lib/shutdown.js';
import { startEmbeddedS3Thread, type EmbeddedS3 } from '../storage/embedded-s3.js';
import { createObjectStore, type S3ObjectStore } from '../storage/s3.js';

/** What every later step stands on: the database (migrated) and the object store. */
export interface Infra {
  /** Stable per DATA_DIR, so a restarted process recognises the sessions it owned. */
  taskId: string;
  db: Pool;
  /** Set when DATABASE_URL is unset: PostgreSQL runs from DATA_DIR. */
  embeddedPostgres?: EmbeddedPostgresHandle | undefined;
  /** The migration files this build knows (the /health migrations check compares them). */
  migrationFiles: string[];
  store: S3ObjectStore;
  /** Set when S3_BUCKET is unset: the S3-API server runs from DATA_DIR. */
  embeddedS3?: EmbeddedS3 | undefined;
}

/** Step 1: opens the database, applies the migrations, opens the object store. */
export async function openInfra(config: Config, logger: Logger, shutdown: ShutdownStack): Promise<Infra> {
  fs.mkdirSync(config.dataDir, { recursive: true });
  const taskId = loadTaskId(config.dataDir);
  const { db, embedded } = await openDatabase(config, logger);
  if (embedded) shutdown.push('stop_embedded_postgres', () => embedded.stop());
  shutdown.push('close_pool', () => db.end());

  const client = await db.connect();
  try {
    await migrate(client, logger, 'up');
  } finally {
    client.release();
  }

  const { store, embeddedS3 } = await openStore(config, logger);
  if (embeddedS3) shutdown.push('stop_embedded_s3', () => embeddedS3.close());
  shutdown.push('close_store', () => store.close());
  return { taskId, db, embeddedPostgres: embedded, migrationFiles: migrationFiles(), store, embeddedS3 };
}

/** The object the embedded store's health check reads (outside the recordings prefix). */
export const EMBEDDED_HEALTH_KEY = 'health/sentinel';

/** The S3 adapter on S3_BUCKET, or on an embedded S3-API server under DATA_DIR when it is unset. */
export async function openStore(config: Config, logger: Logger): Promise<{ store: S3ObjectStore; embeddedS3?: EmbeddedS3 }> {
  if (config.S3_BUCKET) {
    const store = createObjectStore(
      {
        bucket: config.S3_BUCKET,
        kmsKeyId: config.S3_KMS_KEY_ID,
        prefix: config.S3_PREFIX,
        region: config.AWS_REGION,
        ...(config.AWS_ENDPOINT_URL_S3 ? { endpoint: config.AWS_ENDPOINT_URL_S3 } : {}),
      },
      logger,
    );
    return { store };
  }
  const embeddedS3 = await startEmbeddedS3Thread({ dir: path.join(config.dataDir, 's3'), port: config.EMBEDDED_S3_PORT });
  return { store: embeddedObjectStore(embeddedS3, config, logger), embeddedS3 };
}

/** The object store over the embedded S3-API store (health check by one object, not HeadBucket). */
export function embeddedObjectStore(embeddedS3: EmbeddedS3, config: Pick<Config, 'S3_PREFIX' | 'AWS_REGION'>, logger: Logger): S3ObjectStore {
  return createObjectStore(
    {
      bucket: embeddedS3.bucket,
      prefix: config.S3_PREFIX,
      region: config.AWS_REGION,
      endpoint: embeddedS3.endpoint,
      credentials: embeddedS3.credentials,
      healthKey: EMBEDDED_HEALTH_KEY,
    },
    logger,
  );
}

/** A stable id for this DATA_DIR, so a restarted process recognises the sessions it owned. */
function loadTaskId(dataDir: string): string {
  const file = path.join(dataDir, 'task-id');
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    const id = randomUUID();
    fs.writeFileSync(file, id, { mode: 0o600 });
    return id;
  }
}
