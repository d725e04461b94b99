import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audioRoute } from '../../src/http/routes/audio.js';
import { createRecordingService } from '../../src/recordings/service.js';
import { serveOnFreePort } from '../support/http.js';
import { getObject, pcmChunk, seedTranscription, silentLogger, useRecordingsEnv } from '../support/recordings.js';

const env = useRecordingsEnv();
let server: Awaited<ReturnType<typeof serveOnFreePort>> | undefined;
let base: string;
let mine: { transcriptionId: string; userId: string };
let theirs: { transcriptionId: string; userId: string };
let stored: Buffer;

beforeAll(async () => {
  const { db, s3, spoolRoot } = env;
  const { store } = s3.store();
  const recordings = createRecordingService({ db, store, spoolDir: spoolRoot, logger: silentLogger() });
  mine = await seedTranscription(db);
  theirs = await seedTranscription(db);
  for (const t of [mine, theirs]) {
    const w = await recordings.open({ transcriptionId: t.transcriptionId, encoding: 'pcm_s16le', sampleRate: 16000 });
    for (let seq = 0; seq < 4; seq++) await w.appendPcm(pcmChunk(seq, 25_000));
    const done = await w.finish();
    if (t === mine) stored = await getObject(store, done.objectKey);
  }

  const app = express();
  // The app's real check looks at the session; this stand-in looks at a header, but asks the
  // database the same question: is this transcription the user's own?
  app.get(
    '/api/transcriptions/:id/audio',
    audioRoute({
      recordings,
      logger: silentLogger(),
      authorize: async (req, id) => {
        const userId = req.header('x-test-user');
        if (!userId) return null;
        const { rows } = await db.query(`SELECT id FROM transcriptions WHERE id = $1 AND clinician_id = $2`, [id, userId]);
        return rows[0] ?? null;
      },
      audit: async (req, action, target) => {
        await db.query(`INSERT INTO audit_log (actor_id, action, target_type, target_id, details) VALUES ($1, $2, $3, $4, $5)`, [
          req.header('x-test-user'),
          action,
          target.type,
          target.id,
          JSON.stringify(target.details ?? {}),
        ]);
      },
    }),
  );
  server = await serveOnFreePort(app);
  base = server.url;
});

afterAll(async () => {
  await server?.close();
});

function get(id: string, headers: Record<string, string> = {}) {
  return fetch(`${base}/api/transcriptions/${id}/audio`, { headers: { 'x-test-user': mine.userId, ...headers } });
}

describe('GET /api/transcriptions/:id/audio', () => {
  it('sends the whole recording with its content type and length, and audits the read', async () => {
    const res = await get(mine.transcriptionId);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/wav');
    expect(res.headers.get('content-length')).toBe(String(stored.length));
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(Buffer.from(await res.arrayBuffer()).equals(stored)).toBe(true);
    const { rows } = await env.db.query(`SELECT * FROM audit_log WHERE target_id = $1 AND action = 'recording.read'`, [mine.transcriptionId]);
    expect(rows.length).toBeGreaterThanOrEqual(1);
    expect(rows[0].actor_id).toBe(mine.userId);
  });

  it('answers a range at the start with 206 and exactly those bytes', async () => {
    const res = await get(mine.transcriptionId, { range: 'bytes=0-43' });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 0-43/${stored.length}`);
    expect(res.headers.get('content-length')).toBe('44');
    expect(Buffer.from(await res.arrayBuffer()).equals(stored.subarray(0, 44))).toBe(true);
  });

  it('answers a range in the middle, an open-ended range and a suffix range', async () => {
    const mid = await get(mine.transcriptionId, { range: 'bytes=30000-40999' });
    expect(mid.status).toBe(206);
    expect(mid.headers.get('content-range')).toBe(`bytes 30000-40999/${stored.length}`);
    expect(Buffer.from(await mid.arrayBuffer()).equals(stored.subarray(30000, 41000))).toBe(true);

    const open = await get(mine.transcriptionId, { range: `bytes=${stored.length - 10}-` });
    expect(open.status).toBe(206);
    expect(Buffer.from(await open.arrayBuffer()).equals(stored.subarray(stored.length - 10))).toBe(true);

    const suffix = await get(mine.transcriptionId, { range: 'bytes=-100' });
    expect(suffix.headers.get('content-range')).toBe(`bytes ${stored.length - 100}-${stored.length - 1}/${stored.length}`);
    expect(Buffer.from(await suffix.arrayBuffer()).equals(stored.subarray(stored.length - 100))).toBe(true);
  });

  it('clamps a range that runs past the end, and answers 416 for one that starts past it', async () => {
    const clamped = await get(mine.transcriptionId, { range: `bytes=${stored.length - 5}-${stored.length + 1000}` });
    expect(clamped.status).toBe(206);
    expect(clamped.headers.get('content-length')).toBe('5');
    await clamped.arrayBuffer();

    const past = await get(mine.transcriptionId, { range: `bytes=${stored.length}-` });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe(`bytes */${stored.length}`);
    expect(await past.json()).toMatchObject({ error: { code: 'range_not_satisfiable' } });
  });

  it("answers 404 for another clinician's recording, an unknown id and a malformed id", async () => {
    for (const id of [theirs.transcriptionId, '00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const res = await get(id);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ error: { code: 'not_found' } });
    }
    const { rows } = await env.db.query(`SELECT count(*)::int AS n FROM audit_log WHERE target_id = $1`, [theirs.transcriptionId]);
    expect(rows[0].n).toBe(0);
  });

  it('answers 404 while a recording is not completed', async () => {
    const pending = await seedTranscription(env.db, { username: (await env.db.query(`SELECT username FROM users WHERE id = $1`, [mine.userId])).rows[0].username });
    const { store } = env.s3.store();
    const recordings = createRecordingService({ db: env.db, store, spoolDir: env.spoolRoot, logger: silentLogger() });
    const w = await recordings.open({ transcriptionId: pending.transcriptionId, encoding: 'pcm_s16le', sampleRate: 16000 });
    await w.appendPcm(pcmChunk(0, 1000));
    const res = await get(pending.transcriptionId);
    expect(res.status).toBe(404);
    await res.arrayBuffer();
    await w.finish();
    const done = await get(pending.transcriptionId);
    expect(done.status).toBe(200);
    expect((await done.arrayBuffer()).byteLength).toBe(44 + 1000);
  });
});
