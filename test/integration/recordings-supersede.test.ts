/**
 * Recording parts (docs/resilience.md): once a continuation's part (part_index > 0, the whole
 * recording) is completed, the earlier part's object is deleted from the real S3-API server and its
 * row marked `superseded`; with S3 unreachable at that moment the new part still completes, the old
 * object stays `completed`, and the start-up pass deletes it later.
 */
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import { audioRoute } from '../../src/http/routes/audio.js';
import { objectExists } from '../../src/recordings/multipart.js';
import { createRecordingService, type RecordingService } from '../../src/recordings/service.js';
import { wavHeader } from '../../src/recordings/wav.js';
import type { S3ObjectStore } from '../../src/storage/s3.js';
import { LogCapture } from '../support/log-capture.js';
import { serveOnFreePort } from '../support/http.js';
import { getObject, pcmChunk, seedTranscription, sha256, silentLogger, useRecordingsEnv } from '../support/recordings.js';

const CHUNK = 32_000; // 1 s of 16 kHz PCM
const env = useRecordingsEnv();
let server: Awaited<ReturnType<typeof serveOnFreePort>> | undefined;
let base: string;
let playback: { recordings?: RecordingService } = {};

beforeAll(async () => {
  const app = express();
  app.get(
    '/api/transcriptions/:id/audio',
    audioRoute({
      recordings: { openAudio: (id, range) => playback.recordings!.openAudio(id, range) },
      logger: silentLogger(),
      authorize: async (_req, id) => ({ id }),
      audit: async () => {},
    }),
  );
  server = await serveOnFreePort(app);
  base = server.url;
});

afterAll(async () => {
  await server?.close();
});

async function parts(transcriptionId: string) {
  const { rows } = await env.db.query(`SELECT part_index, upload_state, object_key FROM recordings WHERE transcription_id = $1 ORDER BY part_index`, [transcriptionId]);
  return rows as Array<{ part_index: number; upload_state: string; object_key: string }>;
}

/**
 * What a continuation does (SessionManager.continueFromShutdown): part 0 is stored, the new task
 * reads its PCM and writes it first into part 1, then the new audio.
 */
async function recordWithContinuation(recordings: RecordingService) {
  const { transcriptionId } = await seedTranscription(env.db);
  const first = await recordings.open({ transcriptionId, encoding: 'pcm_s16le', sampleRate: 16000 });
  for (let seq = 0; seq < 3; seq++) await first.appendPcm(pcmChunk(seq, CHUNK));
  const part0 = await first.finish();
  expect(part0.state).toBe('completed');

  const previous = await recordings.readCompletedPcm(transcriptionId);
  const second = await recordings.open({ transcriptionId, encoding: 'pcm_s16le', sampleRate: 16000, partIndex: 1 });
  await second.appendPcm(previous);
  for (let seq = 3; seq < 5; seq++) await second.appendPcm(pcmChunk(seq, CHUNK));
  const part1 = await second.finish();
  expect(part1.state).toBe('completed');
  const pcm = Buffer.concat([0, 1, 2, 3, 4].map((seq) => pcmChunk(seq, CHUNK)));
  return { transcriptionId, part0, part1, expected: Buffer.concat([wavHeader(16000, pcm.length), pcm]) };
}

/** S3 goes away (listener closed) the moment a DeleteObject is about to be sent. */
function cutOnDelete(store: S3ObjectStore): void {
  store.client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'DeleteObjectCommand') await env.s3.proxy.cut('refuse');
      return next(args);
    },
    { step: 'initialize', name: 'cutS3OnDelete' },
  );
}

describe('recording parts: the superseded earlier part', () => {
  it('deletes part 0 from S3 and marks it superseded once part 1 is completed; part 1 stays whole and playable', async () => {
    const { store } = env.s3.store();
    const recordings = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger: silentLogger(), retry: { baseMs: 50, maxMs: 200 } });
    playback.recordings = recordings;
    const { transcriptionId, part0, part1, expected } = await recordWithContinuation(recordings);

    await expect.poll(async () => (await parts(transcriptionId)).map((p) => [p.part_index, p.upload_state]), { timeout: 10_000 }).toEqual([
      [0, 'superseded'],
      [1, 'completed'],
    ]);
    expect(await objectExists(store, part0.objectKey)).toBe(false);
    expect(sha256(await getObject(store, part1.objectKey))).toBe(sha256(expected));

    const res = await fetch(`${base}/api/transcriptions/${transcriptionId}/audio`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(expected.length));
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(expected));
  });

  it('leaves part 0 completed and stored when S3 is unreachable for the delete, still completes part 1, and the start-up pass deletes it later', async () => {
    const { store } = env.s3.store();
    cutOnDelete(store);
    const capture = new LogCapture();
    const logger = createLogger({ level: 'info' }, capture);
    const recordings = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger, retry: { baseMs: 50, maxMs: 200 } });
    playback.recordings = recordings;
    try {
      const { transcriptionId, part0, part1, expected } = await recordWithContinuation(recordings);
      await expect.poll(() => capture.entries.find((e) => e.msg === 'superseded_part_delete_failed'), { timeout: 10_000 }).toBeTruthy();
      const warn = capture.entries.find((e) => e.msg === 'superseded_part_delete_failed')!;
      expect(warn.level).toBe('warn');
      const rows = await parts(transcriptionId);
      expect(warn).toMatchObject({ recordingId: expect.any(String), supersededBy: expect.any(String) });
      expect(JSON.stringify(warn)).not.toContain(rows[0]!.object_key);
      expect(rows.map((p) => [p.part_index, p.upload_state])).toEqual([
        [0, 'completed'],
        [1, 'completed'],
      ]);

      await env.s3.proxy.restore();
      expect(await objectExists(store, part0.objectKey)).toBe(true);
      const res = await fetch(`${base}/api/transcriptions/${transcriptionId}/audio`);
      expect(res.status).toBe(200);
      expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256(expected));

      // The next start-up retries what is pending (this store cuts S3 at every delete, so another).
      const { store: healthy } = env.s3.store();
      const later = createRecordingService({ db: env.db, store: healthy, spoolDir: env.spoolRoot, logger: silentLogger(), retry: { baseMs: 50, maxMs: 200 } });
      await later.recoverUnfinished({ taskId: 'task-next' });
      expect((await parts(transcriptionId)).map((p) => [p.part_index, p.upload_state])).toEqual([
        [0, 'superseded'],
        [1, 'completed'],
      ]);
      expect(await objectExists(healthy, part0.objectKey)).toBe(false);
      expect(await objectExists(healthy, part1.objectKey)).toBe(true);
    } finally {
      await env.s3.proxy.restore();
    }
  });
});
