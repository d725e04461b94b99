import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { createLogger, type Logger } from '../../src/lib/logger.js';
import { startEmbeddedS3, type EmbeddedS3 } from '../../src/storage/embedded-s3.js';
import { createObjectStore, type S3ObjectStore } from '../../src/storage/s3.js';
import { TcpProxy } from './tcp-proxy.js';
import { createTestDatabase } from './db.js';

/** Applies the migrations exactly as the app does. */
export async function migrate(databaseUrl: string): Promise<void> {
  await runner({
    databaseUrl,
    dir: 'migrations',
    direction: 'up',
    migrationsTable: 'pgmigrations',
    advisoryLockMode: 'wait',
    log: () => {},
  } as Parameters<typeof runner>[0]);
}

export function silentLogger(): Logger {
  return createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
}

/** A clinician and one `recording` transcription owned by `ownerTask`. */
export async function seedTranscription(db: pg.Pool, o: { encoding?: string; ownerTask?: string | null; username?: string } = {}): Promise<{ transcriptionId: string; userId: string }> {
  const username = o.username ?? `clin-${Math.random().toString(36).slice(2, 10)}`;
  const user = await db.query(`INSERT INTO users (username, password_hash, role) VALUES ($1, 'x', 'clinician') ON CONFLICT (username) DO UPDATE SET role = 'clinician' RETURNING id`, [username]);
  const userId = user.rows[0].id as string;
  const t = await db.query(
    `INSERT INTO transcriptions (clinician_id, engine, audio_encoding, sample_rate, owner_task, last_audio_at) VALUES ($1, 'local', $2, 16000, $3, now()) RETURNING id`,
    [userId, o.encoding ?? 'pcm_s16le', o.ownerTask === undefined ? 'task-a' : o.ownerTask],
  );
  return { transcriptionId: t.rows[0].id as string, userId };
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface S3Fixture {
  s3: EmbeddedS3;
  /** In front of the S3 server; `cut('refuse')` is S3 going away as a network outage looks to the SDK. */
  proxy: TcpProxy;
  dir: string;
  /** A store through the proxy, with every outgoing request's headers recorded per command. */
  store(o?: { kmsKeyId?: string }): { store: S3ObjectStore; requests: Array<{ command: string; headers: Record<string, string> }> };
  close(): Promise<void>;
}

export async function startS3Fixture(): Promise<S3Fixture> {
  const dir = tempDir('arogya-test-s3-');
  const s3 = await startEmbeddedS3({ dir });
  const proxy = new TcpProxy('127.0.0.1', Number(new URL(s3.endpoint).port));
  await proxy.start();
  const stores: S3ObjectStore[] = [];
  return {
    s3,
    proxy,
    dir,
    store(o = {}) {
      const store = createObjectStore(
        {
          bucket: s3.bucket,
          prefix: 'recordings/',
          region: 'us-east-1',
          endpoint: proxy.endpoint,
          credentials: s3.credentials,
          kmsKeyId: o.kmsKeyId,
          maxAttempts: 1,
          connectionTimeoutMs: 1000,
          requestTimeoutMs: 5000,
        },
        silentLogger(),
      );
      const requests: Array<{ command: string; headers: Record<string, string> }> = [];
      store.client.middlewareStack.add(
        (next, context) => async (args) => {
          const req = args.request as { headers?: Record<string, string> };
          requests.push({ command: String(context.commandName), headers: { ...req.headers } });
          return next(args);
        },
        { step: 'finalizeRequest', name: 'recordRequestHeaders' },
      );
      stores.push(store);
      return { store, requests };
    },
    async close() {
      for (const s of stores) s.close();
      await proxy.close();
      await s3.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Deterministic pseudo-random 16-bit PCM for chunk `seq` (xorshift seeded by seq). */
export function pcmChunk(seq: number, bytes: number): Buffer {
  const buf = Buffer.alloc(bytes);
  let x = (seq + 1) * 2654435761 >>> 0 || 1;
  for (let i = 0; i < bytes; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    buf.writeUInt32LE(x, i);
  }
  return buf;
}

export function sha256(buf: Uint8Array): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** Reads a whole object back. */
export async function getObject(store: S3ObjectStore, key: string): Promise<Buffer> {
  const { GetObjectCommand } = await import('@aws-sdk/client-s3');
  const res = await store.client.send(new GetObjectCommand({ Bucket: store.bucket, Key: key }));
  return Buffer.from(await res.Body!.transformToByteArray());
}

export interface RecordingsEnv {
  databaseUrl: string;
  db: pg.Pool;
  s3: S3Fixture;
  spoolRoot: string;
}

/**
 * Per test file: a fresh migrated database, an s3rver behind a cuttable proxy, and a spool folder,
 * all removed after the file. The returned object is filled in by `beforeAll`.
 */
export function useRecordingsEnv(): RecordingsEnv {
  const env = {} as RecordingsEnv;
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const database = await createTestDatabase();
    drop = database.drop;
    await migrate(database.url);
    env.databaseUrl = database.url;
    env.db = new pg.Pool({ connectionString: database.url, max: 5 });
    env.s3 = await startS3Fixture();
    env.spoolRoot = tempDir('arogya-test-spool-');
  });
  afterAll(async () => {
    await env.db?.end();
    await env.s3?.close();
    await drop?.();
    if (env.spoolRoot) fs.rmSync(env.spoolRoot, { recursive: true, force: true });
  });
  return env;
}
