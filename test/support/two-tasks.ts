/**
 * The multi-task e2e fixture (crash-finalise, crash-continue, shutdown-resume, ecs-stop-order): one
 * PostgreSQL, one S3-API store (embedded, on disk) and one Transcribe stand-in shared by service
 * processes that each get their own DATA_DIR, as two ECS tasks behind one load balancer would.
 * The test spawns and stops its tasks itself (when and how they die is what it tests); close()
 * removes what the fixture made.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { UserRepository } from '../../src/auth/users.js';
import { startEmbeddedS3, type EmbeddedS3 } from '../../src/storage/embedded-s3.js';
import { createTestDatabase } from './db.js';
import { HttpClient } from './http.js';
import { sharedTaskEnv } from './process.js';
import { startTranscribeServer, type TranscribeServer } from './transcribe-server.js';

export interface TaskDir {
  /** The task's DATA_DIR (spool and checkpoints): delete it to lose the task's disk. */
  dir: string;
  env: Record<string, string>;
}

export interface TwoTasks {
  db: Awaited<ReturnType<typeof createTestDatabase>>;
  s3: EmbeddedS3;
  transcribe: TranscribeServer;
  /** A fresh DATA_DIR and the environment of a task on the shared database, store and Transcribe. */
  task(name: string, extra?: Record<string, string>): TaskDir;
  /** Creates a clinician in the shared database. */
  createClinician(username: string, password: string): Promise<{ id: string; username: string; password: string }>;
  /** Creates a clinician and logs in on `url` (any task: the session secret is shared). */
  clinician(url: string, username: string, password: string): Promise<HttpClient>;
  /** An object of the shared store, whole. */
  storedObject(key: string): Promise<Buffer>;
  close(): Promise<void>;
}

async function createClinician(databaseUrl: string, username: string, password: string) {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  try {
    const user = await new UserRepository(pool).create({ username, role: 'clinician', password });
    return { id: user.id, username, password };
  } finally {
    await pool.end();
  }
}

export async function twoTasks(transcribeOptions: Parameters<typeof startTranscribeServer>[0] = { wordsPerSecond: 2.5, wordsPerSegment: 6 }): Promise<TwoTasks> {
  const dirs: string[] = [];
  const tmp = (prefix: string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
  const db = await createTestDatabase();
  const s3 = await startEmbeddedS3({ dir: tmp('arogya-s3-') });
  const transcribe = await startTranscribeServer(transcribeOptions);
  return {
    db,
    s3,
    transcribe,
    task(name, extra = {}) {
      const dir = tmp(`arogya-task-${name}-`);
      return { dir, env: sharedTaskEnv({ dataDir: dir, databaseUrl: db.url, s3, transcribeUrl: transcribe.url }, extra) };
    },
    createClinician: (username, password) => createClinician(db.url, username, password),
    async clinician(url, username, password) {
      await createClinician(db.url, username, password);
      const http = new HttpClient(url);
      await http.login(username, password);
      return http;
    },
    async storedObject(key) {
      const client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: s3.credentials });
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
        return Buffer.from(await res.Body!.transformToByteArray());
      } finally {
        client.destroy();
      }
    },
    async close() {
      await transcribe.close();
      await s3.close();
      await db.drop();
      for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    },
  };
}

/** `ms` of a 300 Hz tone as the browser's MediaRecorder writes WebM Opus (unknown-size Segment and Clusters). */
export async function webmTone(ms: number): Promise<Buffer> {
  const { stdout } = await promisify(execFile)(
    'ffmpeg',
    ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', `sine=frequency=300:sample_rate=48000:duration=${ms / 1000}`, '-ac', '1', '-c:a', 'libopus', '-b:a', '32k', '-f', 'webm', 'pipe:1'],
    { encoding: 'buffer', maxBuffer: 16 * 1024 * 1024 },
  );
  return stdout;
}
