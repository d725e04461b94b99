/**
 * Measures session:stop → object complete for a 30-minute recording, fed faster than real time.
 *   npx tsx scripts/bench-recording-stop.ts [--minutes 30] [--speed 100] [--encoding pcm_s16le|ogg_opus] [--rate 16000]
 * Uses DATABASE_URL if set, otherwise an embedded PostgreSQL; always an embedded S3-API server
 * (s3rver) on 127.0.0.1. Prints one JSON line.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres.js';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { createLogger } from '../src/lib/logger.js';
import { createRecordingService } from '../src/recordings/service.js';
import { startEmbeddedS3 } from '../src/storage/embedded-s3.js';
import { createObjectStore } from '../src/storage/s3.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    speed: { type: 'string', default: '100' },
    encoding: { type: 'string', default: 'pcm_s16le' },
    rate: { type: 'string', default: '16000' },
  },
});
const minutes = Number(values.minutes);
const speed = Number(values.speed);
const encoding = values.encoding === 'ogg_opus' ? 'ogg_opus' : 'pcm_s16le';
const sampleRate = Number(values.rate);
// 200 ms chunks: a whole number of 20 ms Opus packets, and what MediaRecorder timeslices commonly give.
const CHUNK_MS = 200;

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'arogya-bench-'));
fs.chmodSync(root, 0o755);
const cleanups: Array<() => Promise<void> | void> = [];


async function database(): Promise<string> {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  const pg = await startEmbeddedPostgres({ dataDir: root, database: 'postgres', logger: createLogger({ level: 'silent' }), stopAdopted: true });
  cleanups.push(() => pg.stop());
  return pg.url;
}

try {
  const url = await database();
  await runner({ databaseUrl: url, dir: 'migrations', direction: 'up', migrationsTable: 'pgmigrations', advisoryLockMode: 'wait', log: () => {} } as Parameters<typeof runner>[0]);
  const db = new pg.Pool({ connectionString: url, max: 5 });
  cleanups.push(() => db.end());
  const s3 = await startEmbeddedS3({ dir: path.join(root, 's3') });
  cleanups.push(() => s3.close());
  const logger = createLogger({ level: 'silent' });
  const store = createObjectStore({ bucket: s3.bucket, prefix: 'recordings/', region: 'us-east-1', endpoint: s3.endpoint, credentials: s3.credentials }, logger);
  cleanups.push(() => store.close());
  const service = createRecordingService({ db, store, spoolDir: path.join(root, 'spool'), logger });

  const user = await db.query(`INSERT INTO users (username, password_hash, role) VALUES ('bench', 'x', 'clinician') ON CONFLICT (username) DO UPDATE SET role = 'clinician' RETURNING id`);
  const t = await db.query(`INSERT INTO transcriptions (clinician_id, engine, audio_encoding, sample_rate) VALUES ($1, 'local', $2, $3) RETURNING id`, [user.rows[0].id, encoding, sampleRate]);
  const transcriptionId = t.rows[0].id as string;
  const writer =
    encoding === 'pcm_s16le'
      ? await service.open({ transcriptionId, encoding, sampleRate })
      : await service.open({ transcriptionId, encoding, opusHead: { channels: 1, preSkip: 312, inputSampleRate: 48000 } });

  const chunks = Math.round((minutes * 60 * 1000) / CHUNK_MS);
  const pcm = Buffer.alloc((sampleRate * 2 * CHUNK_MS) / 1000);
  for (let i = 0; i < pcm.length; i += 2) pcm.writeInt16LE(Math.round(8000 * Math.sin(i / 7)), i);
  // ~32 kb/s Opus: 80-byte packets every 20 ms.
  const packets = Array.from({ length: CHUNK_MS / 20 }, (_, k) => ({ data: Buffer.alloc(80, k + 1), samples48k: 960 }));
  const feedStart = performance.now();
  let maxAppendMs = 0;
  for (let seq = 0; seq < chunks; seq++) {
    const a = performance.now();
    if (encoding === 'pcm_s16le') await writer.appendPcm(pcm);
    else await writer.appendOpus(packets);
    maxAppendMs = Math.max(maxAppendMs, performance.now() - a);
    const due = feedStart + ((seq + 1) * CHUNK_MS) / speed;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  const feedMs = performance.now() - feedStart;
  // In real time the sealed parts have long been uploaded by the time the clinician stops.
  while (writer.status().partsPending > 0) await new Promise((r) => setTimeout(r, 20));
  const status = writer.status();
  const result = await writer.finish();
  console.log(
    JSON.stringify({
      encoding,
      sampleRate: encoding === 'pcm_s16le' ? sampleRate : 48000,
      minutes,
      speed,
      feedMs: Math.round(feedMs),
      maxAppendMs: Number(maxAppendMs.toFixed(2)),
      partsUploadedBeforeStop: status.partsUploaded,
      bytes: result.bytes,
      durationMs: result.durationMs,
      stopToLastPartMs: Number(result.stopToLastPartMs?.toFixed(1)),
      stopToCompleteMs: Number(result.stopToCompleteMs?.toFixed(1)),
      stopToStoredMs: Number(result.stopToStoredMs?.toFixed(1)),
    }),
  );
} finally {
  for (const c of cleanups.reverse()) await c();
  fs.rmSync(root, { recursive: true, force: true });
}
