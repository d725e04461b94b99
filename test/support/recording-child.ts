/**
 * A stand-in for the server process in the SIGKILL test: records PCM chunks through the real
 * recording service and prints `acked <seq> uploaded <parts in S3>` after each append resolves, exactly where the
 * server would acknowledge the chunk. The test kills it with SIGKILL mid-way.
 * Env: DATABASE_URL, S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, SPOOL_DIR, TRANSCRIPTION_ID, CHUNK_BYTES.
 */
import pg from 'pg';
import { createLogger } from '../../src/lib/logger.js';
import { createRecordingService } from '../../src/recordings/service.js';
import { createObjectStore } from '../../src/storage/s3.js';
import { pcmChunk } from './recordings.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};

const db = new pg.Pool({ connectionString: env('DATABASE_URL'), max: 3 });
db.on('error', () => {});
const logger = createLogger({ level: 'silent' });
const store = createObjectStore(
  { bucket: env('S3_BUCKET'), prefix: 'recordings/', region: 'us-east-1', endpoint: env('S3_ENDPOINT'), credentials: { accessKeyId: env('S3_ACCESS_KEY_ID'), secretAccessKey: env('S3_SECRET_ACCESS_KEY') } },
  logger,
);
const service = createRecordingService({ db, store, spoolDir: env('SPOOL_DIR'), logger, retry: { baseMs: 50, maxMs: 200 } });
const chunkBytes = Number(env('CHUNK_BYTES'));
const writer = await service.open({ transcriptionId: env('TRANSCRIPTION_ID'), encoding: 'pcm_s16le', sampleRate: 16000 });
process.stdout.write(`open ${writer.recordingId}\n`);
for (let seq = 0; ; seq++) {
  await writer.appendPcm(pcmChunk(seq, chunkBytes));
  process.stdout.write(`acked ${seq} uploaded ${writer.status().partsUploaded}\n`);
  // Real time would be 2 s per chunk; a short pause lets background part uploads interleave.
  if (seq % 10 === 9) await new Promise((r) => setTimeout(r, 5));
}
