/**
 * The second watermark (API.md `audio:chunk`, docs/recordings.md "Durable checkpoints"): acks carry
 * `durableSeq`, the last chunk whose audio is in S3 objects any task can read; it trails `ackSeq` by
 * at most CHECKPOINT_INTERVAL_MS plus one write, and the checkpoints hold exactly the acknowledged
 * audio (PCM, gaps' silence included; Opus as received). Real service, real PostgreSQL, real S3 API.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { tonePcm } from '../support/coverage.js';
import type { EventPayload } from '../../src/realtime/events.js';
import { DictationClient, ok, pcmChunks } from '../support/dictation-client.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';
import { encodeOpus, randomChunks } from '../support/audio.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const INTERVAL_MS = 1000;
const CHUNK_MS = 100;

async function service(): Promise<TestService> {
  const t = await startTestService({ CHECKPOINT_INTERVAL_MS: String(INTERVAL_MS) });
  cleanups.push(() => t.close());
  return t;
}

async function session(t: TestService, start?: EventPayload<'session:start'>) {
  const { http } = await t.loggedIn('clinician');
  const c = new DictationClient(t.url, http.cookieHeader);
  cleanups.push(() => c.close());
  expect((await c.start(start)).ok).toBe(true);
  return c;
}

const checkpointRows = (t: TestService, id: string) =>
  queryDb<{ first_seq: string; last_seq: string; kind: string; bytes: number }>(t.databaseUrl, 'SELECT first_seq, last_seq, kind, bytes FROM recording_checkpoints WHERE transcription_id = $1 ORDER BY first_seq', [id]);

describe('durable checkpoints of a live session', () => {
  it('acks durableSeq at most one interval (plus a write) behind ackSeq, and the checkpoints hold exactly the acknowledged PCM, gap silence included', async () => {
    const t = await service();
    const c = await session(t);
    const chunks = pcmChunks(tonePcm(6000), CHUNK_MS);
    const ackedAt = new Map<number, number>();
    const lags: number[] = [];
    let durable = -1;
    for (let seq = 0; seq < 40; seq++) {
      await new Promise((r) => setTimeout(r, CHUNK_MS));
      const res = await c.chunk(seq, chunks[seq]!);
      expect(res).toMatchObject({ ok: true, ackSeq: seq, durableSeq: expect.any(Number) });
      const durableSeq = ok(res).durableSeq!;
      expect(durableSeq).toBeLessThanOrEqual(seq);
      ackedAt.set(seq, Date.now());
      for (let s = durable + 1; s <= durableSeq; s++) lags.push(Date.now() - ackedAt.get(s)!);
      durable = Math.max(durable, durableSeq);
    }
    // A declared gap is part of the durable ledger too (its silence is the recording's audio).
    expect(await c.request('audio:gap', { sessionId: c.sessionId, fromSeq: 40, toSeq: 42, durationMs: 300 })).toMatchObject({ ok: true, ackSeq: 42 });
    expect(durable).toBeGreaterThan(20);
    // One interval, plus one PUT and one INSERT, plus one chunk until the next ack tells us.
    expect(Math.max(...lags)).toBeLessThan(INTERVAL_MS + 2500);

    await expect.poll(async () => ok(await c.chunk(42, chunks[42]!)).durableSeq, { timeout: 10_000, interval: 200 }).toBe(42);
    const rows = await checkpointRows(t, c.transcriptionId!);
    expect(rows[0]).toMatchObject({ first_seq: '0', kind: 'pcm' });
    for (let i = 1; i < rows.length; i++) expect(Number(rows[i]!.first_seq)).toBe(Number(rows[i - 1]!.last_seq) + 1);
    expect(rows.at(-1)!.last_seq).toBe('42');
    const durableAudio = await t.service.recordings.readDurable(c.transcriptionId!);
    expect(durableAudio.lastSeq).toBe(42);
    expect(durableAudio.bytes.equals(Buffer.concat([...chunks.slice(0, 40), Buffer.alloc(300 * 32)]))).toBe(true);

    // Once the recording is stored for good, the checkpoints go.
    expect((await c.stop()).ok).toBe(true);
    await expect.poll(async () => (await checkpointRows(t, c.transcriptionId!)).length, { timeout: 15_000 }).toBe(0);
  }, 60_000);

  it('checkpoints an Ogg Opus session as the bytes received, container header first', async () => {
    const t = await service();
    const c = await session(t, { audio: { encoding: 'ogg_opus' } });
    const ogg = await encodeOpus('real/1089-134686-0000.wav', 'ogg');
    const chunks = randomChunks(ogg, 14, 3000);
    let last: { ackSeq: number; durableSeq?: number } | undefined;
    for (let seq = 0; seq < chunks.length; seq++) last = ok(await c.chunk(seq, chunks[seq]!));
    expect(last!.ackSeq).toBe(chunks.length - 1);
    await expect.poll(async () => ok(await c.request('session:resume', { sessionId: c.sessionId, lastSeq: chunks.length - 1 })).durableSeq, { timeout: 10_000, interval: 200 }).toBe(chunks.length - 1);
    const durableAudio = await t.service.recordings.readDurable(c.transcriptionId!);
    expect(durableAudio.kind).toBe('wire');
    expect(durableAudio.bytes.equals(ogg)).toBe(true);
  }, 60_000);
});
