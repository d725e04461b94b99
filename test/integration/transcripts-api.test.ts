import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/audit-log.js';
import { UserRepository } from '../../src/auth/users.js';
import type { HttpClient } from '../support/http.js';
import { seedTranscription, storeRecording } from '../support/seed.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

const JFK = path.resolve(import.meta.dirname, '../../../shared/audio/real/jfk.wav');

let t: TestService;
let alice: { http: HttpClient; user: { id: string; username: string } };
let bob: { http: HttpClient; user: { id: string; username: string } };
let reviewer: { http: HttpClient; user: { id: string; username: string } };
let admin: { http: HttpClient; user: { id: string; username: string } };
let aliceOld: string;
let aliceNew: string;
let aliceFailed: string;
let bobCardio: string;

const SECRET_TITLE = 'Ms Gupta knee follow-up';

beforeAll(async () => {
  t = await startTestService();
  [alice, bob, reviewer, admin] = await Promise.all([t.loggedIn('clinician'), t.loggedIn('clinician'), t.loggedIn('reviewer'), t.loggedIn('admin')]);
  aliceOld = await seedTranscription(t.databaseUrl, {
    clinicianId: alice.user.id,
    title: SECRET_TITLE,
    createdAt: '2026-03-01T09:00:00Z',
    segments: [
      { startMs: 0, endMs: 4000, text: 'Good morning, how is the knee today?', speaker: 'Clinician' },
      { startMs: 4000, endMs: 9000, text: 'Still swollen and I had fevers at night.', speaker: 'Patient' },
    ],
  });
  await storeRecording(t.service, aliceOld, 'real/jfk.wav');
  aliceNew = await seedTranscription(t.databaseUrl, {
    clinicianId: alice.user.id,
    title: 'Dictation',
    type: 'DICTATION',
    createdAt: '2026-04-10T12:00:00Z',
    segments: [{ startMs: 0, endMs: 3000, text: 'Letter to the orthopaedic surgeon regarding arthroscopy.' }],
  });
  aliceFailed = await seedTranscription(t.databaseUrl, {
    clinicianId: alice.user.id,
    status: 'failed',
    createdAt: '2026-04-11T12:00:00Z',
    segments: [
      { startMs: 0, endMs: 2000, text: 'Blood pressure is one forty over ninety.', speaker: 'Clinician' },
      { startMs: 2000, endMs: 5000, text: '', kind: 'gap' },
      { startMs: 5000, endMs: 6000, text: 'and the fever', kind: 'provisional', speaker: 'Clinician' },
    ],
    recording: { state: 'failed' },
  });
  bobCardio = await seedTranscription(t.databaseUrl, {
    clinicianId: bob.user.id,
    specialty: 'CARDIOLOGY',
    createdAt: '2026-04-12T08:00:00Z',
    segments: [{ startMs: 500, endMs: 4000, text: 'Palpitations and a mild fever since Monday.', speaker: 'Patient' }],
  });
});
afterAll(() => t?.close());

const ids = (res: { json: { items: Array<{ id: string }> } }) => res.json.items.map((i) => i.id);

describe('GET /api/transcriptions', () => {
  it('answers 401 without a session', async () => {
    const res = await t.client().get('/api/transcriptions');
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('unauthenticated');
  });

  it('shows a clinician only their own transcriptions, newest first, in the API.md shape', async () => {
    const res = await alice.http.get('/api/transcriptions');
    expect(res.status).toBe(200);
    expect(ids(res)).toEqual([aliceFailed, aliceNew, aliceOld]);
    expect(res.json.nextCursor).toBeNull();
    expect(res.json.items[2]).toEqual({
      id: aliceOld,
      title: SECRET_TITLE,
      status: 'completed',
      specialty: 'PRIMARYCARE',
      type: 'CONVERSATION',
      clinician: { id: alice.user.id, username: alice.user.username },
      createdAt: '2026-03-01T09:00:00.000000Z',
      durationMs: 60000,
      endReason: 'stopped',
    });
    expect(res.json.items[0].endReason).toBe('failed');
    expect(ids(await bob.http.get('/api/transcriptions'))).toEqual([bobCardio]);
  });

  it('shows reviewers and admins every transcription', async () => {
    for (const who of [reviewer, admin]) {
      const res = await who.http.get('/api/transcriptions');
      expect(ids(res)).toEqual([bobCardio, aliceFailed, aliceNew, aliceOld]);
    }
  });

  it('searches the transcript text with stemming and returns a marked snippet', async () => {
    const res = await reviewer.http.get('/api/transcriptions?q=fever');
    expect(res.status).toBe(200);
    // "fevers" (aliceOld) and "fever" (bob, and alice's provisional part) all match the stem.
    expect(ids(res)).toEqual([bobCardio, aliceFailed, aliceOld]);
    const bobItem = res.json.items[0];
    expect(bobItem.snippetStartMs).toBe(500);
    expect(bobItem.snippet.filter((p: { match: boolean }) => p.match).map((p: { text: string }) => p.text)).toEqual(['fever']);
    // ts_headline keeps the words (trailing punctuation may go); the page renders parts as text nodes.
    expect(bobItem.snippet.map((p: { text: string }) => p.text).join('')).toMatch(/^Palpitations and a mild fever since Monday/);
    // A clinician's search stays within their own rows; quoted phrases and OR work (websearch syntax).
    expect(ids(await alice.http.get('/api/transcriptions?q=fever'))).toEqual([aliceFailed, aliceOld]);
    expect(ids(await reviewer.http.get(`/api/transcriptions?q=${encodeURIComponent('"mild fever"')}`))).toEqual([bobCardio]);
    expect(ids(await reviewer.http.get('/api/transcriptions?q=arthroscopy%20or%20palpitations'))).toEqual([bobCardio, aliceNew]);
    expect(ids(await reviewer.http.get('/api/transcriptions?q=zebra'))).toEqual([]);
  });

  it('filters by clinician, specialty, status and date range', async () => {
    expect(ids(await reviewer.http.get(`/api/transcriptions?clinician=${bob.user.id}`))).toEqual([bobCardio]);
    expect(ids(await reviewer.http.get('/api/transcriptions?specialty=CARDIOLOGY'))).toEqual([bobCardio]);
    expect(ids(await reviewer.http.get('/api/transcriptions?status=failed'))).toEqual([aliceFailed]);
    expect(ids(await reviewer.http.get('/api/transcriptions?from=2026-04-10&to=2026-04-11'))).toEqual([aliceFailed, aliceNew]);
    expect(ids(await reviewer.http.get('/api/transcriptions?to=2026-03-31T23:59:59Z'))).toEqual([aliceOld]);
    // A clinician filtering on someone else sees nothing rather than that person's rows.
    expect(ids(await alice.http.get(`/api/transcriptions?clinician=${bob.user.id}`))).toEqual([]);
  });

  it('rejects bad filters and cursors with 400 invalid_payload', async () => {
    for (const qs of ['status=deleted', 'specialty=DERMATOLOGY', 'from=yesterday', 'limit=0', 'limit=101', 'clinician=bob', 'cursor=abc', 'cursor=%25%25', 'sort=title', 'q=a&q=b']) {
      const res = await reviewer.http.get(`/api/transcriptions?${qs}`);
      expect(res.status, qs).toBe(400);
      expect(res.json.error.code, qs).toBe('invalid_payload');
    }
  });

  it('pages with an opaque cursor without skipping or repeating rows that share a timestamp', async () => {
    const c = await t.createUser('clinician');
    const same = '2025-01-01T00:00:00.123456Z';
    const seeded = await Promise.all([0, 1, 2, 3, 4].map(() => seedTranscription(t.databaseUrl, { clinicianId: c.id, createdAt: same })));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: Awaited<ReturnType<HttpClient['get']>> = await reviewer.http.get(
        `/api/transcriptions?clinician=${c.id}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(res.status).toBe(200);
      seen.push(...ids(res));
      cursor = res.json.nextCursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual([...seeded].sort().reverse());
  });
});

describe('GET /api/transcriptions/:id', () => {
  it('returns the transcript with segments in order, kinds and the recording state', async () => {
    const res = await alice.http.get(`/api/transcriptions/${aliceOld}`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      id: aliceOld,
      title: SECRET_TITLE,
      status: 'completed',
      specialty: 'PRIMARYCARE',
      type: 'CONVERSATION',
      engine: 'local',
      clinician: { id: alice.user.id, username: alice.user.username },
      createdAt: '2026-03-01T09:00:00.000000Z',
      endedAt: '2026-03-01T09:01:00.000000Z',
      durationMs: 60000,
      failureReason: null,
      recording: { available: true, contentType: 'audio/wav', bytes: 352_044 },
      version: 1,
      signature: null,
    });
    // The review tokens (flags, word timings) are covered by review-api.test.ts.
    expect(res.json.segments.map(({ tokens: _t, flagged: _f, ...s }: Record<string, unknown>) => s)).toEqual([
      { id: expect.any(String), startMs: 0, endMs: 4000, text: 'Good morning, how is the knee today?', machineText: 'Good morning, how is the knee today?', speaker: 'Clinician', kind: 'final', engine: 'local' },
      { id: expect.any(String), startMs: 4000, endMs: 9000, text: 'Still swollen and I had fevers at night.', machineText: 'Still swollen and I had fevers at night.', speaker: 'Patient', kind: 'final', engine: 'local' },
    ]);
  });

  it('marks a failed session: failure reason, gap and provisional parts, recording unavailable', async () => {
    const res = await reviewer.http.get(`/api/transcriptions/${aliceFailed}`);
    expect(res.status).toBe(200);
    expect(res.json.status).toBe('failed');
    expect(res.json.failureReason).toBe('transcriber_unavailable');
    expect(res.json.recording).toEqual({ available: false, contentType: null, bytes: null });
    expect(res.json.segments.map((s: { kind: string }) => s.kind)).toEqual(['final', 'gap', 'provisional']);
  });

  it("answers 404 for another clinician's transcript, an unknown id and a malformed id, and audits each as denied", async () => {
    const before = await queryDb<{ n: number }>(t.databaseUrl, `SELECT count(*)::int AS n FROM audit_log WHERE outcome = 'denied' AND actor_id = $1`, [bob.user.id]);
    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const id of [aliceOld, unknown, 'not-a-uuid']) {
      const res = await bob.http.get(`/api/transcriptions/${id}`);
      expect(res.status, id).toBe(404);
      expect(res.json.error.code).toBe('not_found');
      const exp = await bob.http.get(`/api/transcriptions/${id}/export?format=txt`);
      expect(exp.status, id).toBe(404);
    }
    const rows = await queryDb<{ action: string; target_id: string; details: { reason: string }; ip: string }>(
      t.databaseUrl,
      `SELECT action, target_id, details, ip FROM audit_log WHERE outcome = 'denied' AND actor_id = $1 ORDER BY id`,
      [bob.user.id],
    );
    expect(rows.length - before[0]!.n).toBe(6);
    expect(rows.slice(-6).map((r) => [r.action, r.target_id, r.details.reason])).toEqual([
      ['transcription.view', aliceOld, 'not_visible'],
      ['transcription.export', aliceOld, 'not_visible'],
      ['transcription.view', unknown, 'not_found'],
      ['transcription.export', unknown, 'not_found'],
      ['transcription.view', 'not-a-uuid', 'not_found'],
      ['transcription.export', 'not-a-uuid', 'not_found'],
    ]);
    expect(rows[0]!.ip).toMatch(/127\.0\.0\.1/);
  });

  it('lets reviewers and admins open any transcript', async () => {
    expect((await reviewer.http.get(`/api/transcriptions/${bobCardio}`)).status).toBe(200);
    expect((await admin.http.get(`/api/transcriptions/${aliceOld}`)).status).toBe(200);
  });
});

describe('GET /api/transcriptions/:id/export', () => {
  it('downloads every format named by its sanitised title and date', async () => {
    const expected = {
      txt: /^text\/plain/,
      srt: /^application\/x-subrip/,
      vtt: /^text\/vtt/,
      json: /^application\/json/,
    } as const;
    for (const [format, type] of Object.entries(expected)) {
      const res = await reviewer.http.get(`/api/transcriptions/${aliceOld}/export?format=${format}`);
      expect(res.status, format).toBe(200);
      expect(res.headers.get('content-type')).toMatch(type);
      expect(res.headers.get('content-disposition')).toBe(`attachment; filename="Ms-Gupta-knee-follow-up-2026-03-01.${format}"`);
      expect(res.text).toContain('Still swollen');
    }
    const json = JSON.parse((await alice.http.get(`/api/transcriptions/${aliceOld}/export?format=json`)).text);
    const detail = (await alice.http.get(`/api/transcriptions/${aliceOld}`)).json;
    const segments = detail.segments.map(({ tokens: _t, flagged: _f, ...s }: Record<string, unknown>) => s);
    expect(json).toEqual({ format: 'arogya-live.transcript', formatVersion: 2, ...detail, segments });
  });

  it('rejects an unknown or missing format with 400', async () => {
    for (const qs of ['format=docx', '', 'format=txt&format=srt']) {
      const res = await reviewer.http.get(`/api/transcriptions/${aliceOld}/export?${qs}`);
      expect(res.status, qs).toBe(400);
      expect(res.json.error.code).toBe('invalid_payload');
    }
  });
});

describe('GET /api/transcriptions/clinicians', () => {
  it('lists clinicians for reviewers and only oneself for a clinician', async () => {
    const all = (await reviewer.http.get('/api/transcriptions/clinicians')).json.items.map((c: { id: string }) => c.id);
    expect(all).toEqual(expect.arrayContaining([alice.user.id, bob.user.id]));
    expect(all).not.toContain(reviewer.user.id);
    expect((await alice.http.get('/api/transcriptions/clinicians')).json.items).toEqual([{ id: alice.user.id, username: alice.user.username }]);
  });
});

describe('playback access (the contract the audio route uses)', () => {
  it('serves visible audio with Range and audits every playback whatever its Range; 404 and a denied row otherwise; 401 without a session', async () => {
    const ok = await alice.http.get(`/api/transcriptions/${aliceOld}/audio`, { range: 'bytes=0-99' });
    expect(ok.status).toBe(206);
    expect(ok.headers.get('content-range')).toMatch(/^bytes 0-99\/\d+$/);
    expect((await reviewer.http.get(`/api/transcriptions/${aliceOld}/audio`, { range: 'bytes=100-199' })).status).toBe(206);
    expect((await bob.http.get(`/api/transcriptions/${aliceOld}/audio`)).status).toBe(404);
    expect((await t.client().get(`/api/transcriptions/${aliceOld}/audio`)).status).toBe(401);
    const rows = await queryDb<{ actor_id: string; outcome: string }>(
      t.databaseUrl,
      `SELECT actor_id, outcome FROM audit_log WHERE action = 'transcription.playback' AND target_id = $1 ORDER BY id`,
      [aliceOld],
    );
    // Every response that serves bytes is audited, whatever its Range (issue 19): the reviewer's too.
    expect(rows).toEqual([
      { actor_id: alice.user.id, outcome: 'success' },
      { actor_id: reviewer.user.id, outcome: 'success' },
      { actor_id: bob.user.id, outcome: 'denied' },
    ]);
  });
});

describe('full-text search plan', () => {
  it('uses the GIN index on transcript_segments.tsv', async () => {
    const c = new pg.Client({ connectionString: t.databaseUrl });
    await c.connect();
    try {
      await c.query('SET enable_seqscan = off');
      const { rows } = await c.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT transcription_id FROM transcript_segments WHERE tsv @@ websearch_to_tsquery('english', $1)`,
        ['fever'],
      );
      expect(rows.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/Bitmap Index Scan on transcript_segments_tsv_idx/);
    } finally {
      await c.end();
    }
  });
});

describe('audit of reading', () => {
  it('records views, exports and searches with who, when and from where, but never the search words', async () => {
    const r = await t.loggedIn('reviewer');
    await r.http.get('/api/transcriptions?q=palpitations&specialty=CARDIOLOGY');
    await r.http.get(`/api/transcriptions/${bobCardio}`);
    await r.http.get(`/api/transcriptions/${bobCardio}/export?format=srt`);
    const rows = await queryDb<{ action: string; actor_username: string; target_id: string | null; ip: string; user_agent: string; at: Date; details: Record<string, unknown> }>(
      t.databaseUrl,
      `SELECT action, actor_username, target_id, ip, user_agent, at, details FROM audit_log WHERE actor_id = $1 ORDER BY id`,
      [r.user.id],
    );
    expect(rows.map((x) => x.action)).toEqual(['login', 'transcription.search', 'transcription.view', 'transcription.export']);
    expect(rows[1]!.details).toEqual({ filters: ['specialty'], page: 'first', results: 1, ids: [bobCardio] });
    expect(rows[2]!.target_id).toBe(bobCardio);
    expect(rows[3]!.details).toMatchObject({ format: 'srt' });
    for (const row of rows.slice(1)) {
      expect(row.actor_username).toBe(r.user.username);
      expect(row.ip).toMatch(/127\.0\.0\.1/);
      expect(row.at).toBeInstanceOf(Date);
      expect(JSON.stringify(row)).not.toMatch(/palpitations/i);
    }
  });

  it('keeps audit rows append-only for the application role itself', async () => {
    await expect(t.service.db.query(`UPDATE audit_log SET action = 'x'`)).rejects.toThrow(/append-only/);
    await expect(t.service.db.query('DELETE FROM audit_log')).rejects.toThrow(/append-only/);
    await expect(t.service.db.query('TRUNCATE audit_log')).rejects.toThrow(/append-only/);
  });

  it('never writes titles, transcript text or search words to the log', async () => {
    await reviewer.http.get('/api/transcriptions?q=swollen');
    await reviewer.http.get(`/api/transcriptions/${aliceOld}/export?format=txt`);
    const logs = t.logs.text();
    for (const secret of [SECRET_TITLE, 'swollen', 'fevers at night', 'Palpitations']) expect(logs).not.toContain(secret);
  });
});
