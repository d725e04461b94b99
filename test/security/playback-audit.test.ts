import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLAYBACK_AUDIT_WINDOW_MS } from '../../src/http/routes/playback.js';
import { seedTranscription } from '../support/seed.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

/**
 * Attack test (issue 19, item 2): every response that serves recording bytes is covered by an audit
 * row, whatever its Range header. Before the fix only a missing Range or `bytes=0-…` was audited.
 */
let t: TestService;
const PCM_BYTES = 32_000; // one second of 16 kHz PCM

beforeAll(async () => {
  t = await startTestService();
});
afterAll(() => t?.close());

async function recordingFor(clinicianId: string): Promise<{ id: string; total: number }> {
  const id = await seedTranscription(t.databaseUrl, { clinicianId, segments: [] });
  const writer = await t.service.recordings.open({ transcriptionId: id, encoding: 'pcm_s16le', sampleRate: 16000 });
  const pcm = Buffer.alloc(PCM_BYTES);
  for (let i = 0; i < pcm.length; i++) pcm[i] = i % 251;
  await writer.appendPcm(pcm);
  expect((await writer.finish()).state).toBe('completed');
  const [row] = await queryDb<{ bytes: string }>(t.databaseUrl, 'SELECT bytes FROM recordings WHERE transcription_id = $1', [id]);
  return { id, total: Number(row!.bytes) };
}

const playbackRows = async (actorId: string, targetId: string) =>
  queryDb<{ details: { status: number; range: string | null } }>(
    t.databaseUrl,
    `SELECT details FROM audit_log WHERE action = 'transcription.playback' AND outcome = 'success' AND actor_id = $1 AND target_id = $2`,
    [actorId, targetId],
  );

describe('recording downloads and the audit log', () => {
  // status and byte count each odd Range form is served with (the total is filled in per recording).
  const FORMS: Array<[string, number, (total: number) => number]> = [
    ['garbage', 200, (n) => n],
    ['bytes=-999999', 206, (n) => n],
    ['BYTES=0-', 206, (n) => n],
    ['bytes=00-', 206, (n) => n],
    ['bytes=1-', 206, (n) => n - 1],
    ['bytes=0-0', 206, () => 1],
    ['bytes=5-9', 206, () => 5],
  ];

  it.each(FORMS)('writes an audit row for a download with Range: %s (served %i)', async (range, status, bytes) => {
    const { http, user } = await t.loggedIn('clinician');
    const rec = await recordingFor(user.id);
    const res = await http.get(`/api/transcriptions/${rec.id}/audio`, { range });
    expect(res.status).toBe(status);
    expect(Number(res.headers.get('content-length'))).toBe(bytes(rec.total));
    expect(Buffer.byteLength(res.text, 'latin1')).toBeGreaterThan(0);
    const rows = await playbackRows(user.id, rec.id);
    expect(rows).toEqual([{ details: { status, range } }]);
  });

  it('answers bytes=0-0 with exactly the first byte, not the whole file', async () => {
    const { http, user } = await t.loggedIn('clinician');
    const rec = await recordingFor(user.id);
    const res = await fetch(`${t.url}/api/transcriptions/${rec.id}/audio`, { headers: { cookie: http.cookieHeader, range: 'bytes=0-0' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes 0-0/${rec.total}`);
    expect(Buffer.from(await res.arrayBuffer())).toEqual(Buffer.from('R')); // "RIFF"
  });

  it(`lets the seeks of one playback share one row (per user and recording per ${PLAYBACK_AUDIT_WINDOW_MS / 60_000} min), and another user gets their own`, async () => {
    const { http, user } = await t.loggedIn('clinician');
    const rec = await recordingFor(user.id);
    for (const range of ['bytes=0-', 'bytes=1000-', 'bytes=20000-', 'bytes=-500']) {
      expect((await http.get(`/api/transcriptions/${rec.id}/audio`, { range })).status).toBe(206);
    }
    expect(await playbackRows(user.id, rec.id)).toHaveLength(1);
    const reviewer = await t.loggedIn('reviewer');
    expect((await reviewer.http.get(`/api/transcriptions/${rec.id}/audio`, { range: 'bytes=1000-' })).status).toBe(206);
    expect(await playbackRows(reviewer.user.id, rec.id)).toHaveLength(1);
  });

  it('writes no success row for a range past the end (416 serves no bytes)', async () => {
    const { http, user } = await t.loggedIn('clinician');
    const rec = await recordingFor(user.id);
    expect((await http.get(`/api/transcriptions/${rec.id}/audio`, { range: `bytes=${rec.total}-` })).status).toBe(416);
    expect(await playbackRows(user.id, rec.id)).toEqual([]);
  });
});
