/**
 * The exactly-once audio ledger between client and server (API.md `session:resume`, docs/resilience.md):
 * a real network drop injected by a TCP proxy in front of the real service, the resume grace
 * period, and gaps a client declares when it could not keep audio.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { coverageProblems, tonePcm } from '../support/coverage.js';
import { DictationClient, ok, pcmChunks } from '../support/dictation-client.js';
import { FakeEngine } from '../support/fake-engine.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function client(url: string, cookie: string): DictationClient {
  const c = new DictationClient(url, cookie);
  cleanups.push(() => c.close());
  return c;
}

/** Sends chunks from `from` at `paceMs` while the socket stays up; returns the highest ackSeq seen. */
async function sendWhileConnected(c: DictationClient, chunks: Buffer[], from: number, paceMs: number, until = chunks.length): Promise<number> {
  let acked = -1;
  const gone = new Promise<null>((r) => c.socket.once('disconnect', () => r(null)));
  for (let seq = from; seq < until; seq++) {
    await sleep(paceMs);
    if (!c.socket.connected) break;
    const res = await Promise.race([c.chunk(seq, chunks[seq]!), gone]);
    if (!res) break;
    acked = ok(res).ackSeq;
  }
  return acked;
}

async function recordingOf(t: TestService, id: string) {
  await expect
    .poll(async () => (await queryDb<{ upload_state: string }>(t.databaseUrl, 'SELECT upload_state FROM recordings WHERE transcription_id = $1', [id]))[0]?.upload_state, { timeout: 15_000 })
    .toBe('completed');
  const [rec] = await queryDb<{ duration_ms: string; gaps: Array<{ fromSeq: number; toSeq: number; atMs: number; durationMs: number }> }>(
    t.databaseUrl,
    'SELECT duration_ms, gaps FROM recordings WHERE transcription_id = $1',
    [id],
  );
  return { durationMs: Number(rec!.duration_ms), gaps: rec!.gaps };
}

async function finalsOf(t: TestService, id: string) {
  const rows = await queryDb<{ segment_key: string; start_ms: number; end_ms: number; kind: string; engine: string }>(
    t.databaseUrl,
    'SELECT segment_key, start_ms::int AS start_ms, end_ms::int AS end_ms, kind, engine FROM transcript_segments WHERE transcription_id = $1 ORDER BY start_ms',
    [id],
  );
  return rows;
}

describe('session:resume after a network drop', () => {
  it('survives a 5 s network drop mid-session: the client resends from ackSeq + 1 on a new socket and nothing is lost or doubled', async () => {
    const engine = new FakeEngine({ wordsPerSecond: 2.5, wordsPerSegment: 5 });
    const t = await startTestService({}, { engine });
    cleanups.push(() => t.close());
    const proxy = await new TcpProxy('127.0.0.1', t.service.port).start();
    cleanups.push(() => proxy.close());
    const via = `http://127.0.0.1:${proxy.port}`;
    const { http } = await t.loggedIn('clinician');

    const chunks = pcmChunks(tonePcm(15_000), 200);
    const a = client(via, http.cookieHeader);
    expect((await a.start()).ok).toBe(true);
    const sessionId = a.sessionId!;
    const firstRun = sendWhileConnected(a, chunks, 0, 100);
    await sleep(2500);
    await proxy.cut();
    const ackedBeforeDrop = await firstRun;
    expect(ackedBeforeDrop).toBeGreaterThan(5);
    expect(ackedBeforeDrop).toBeLessThan(chunks.length - 1);
    await sleep(5000); // the page keeps recording into its ledger meanwhile
    await proxy.restore();

    const b = client(via, http.cookieHeader);
    await b.connected();
    const resumed = ok(await b.request('session:resume', { sessionId, lastSeq: chunks.length - 1 }));
    expect(resumed.ackSeq).toBeGreaterThanOrEqual(ackedBeforeDrop);
    b.sessionId = sessionId;
    b.transcriptionId = a.transcriptionId!;
    // A chunk the server already holds is ignored, then everything from ackSeq + 1.
    expect(await b.chunk(resumed.ackSeq, chunks[resumed.ackSeq]!)).toMatchObject({ ok: true, ackSeq: resumed.ackSeq });
    await b.stream(chunks.slice(resumed.ackSeq + 1), { firstSeq: resumed.ackSeq + 1, inFlight: 4 });
    const stop = ok(await b.stop());
    expect(Math.abs(stop.durationMs - 15_000)).toBeLessThan(20);

    // One engine stream heard every byte exactly once; the drop never touched it.
    expect(engine.streams).toHaveLength(1);
    expect(engine.streams[0]!.audioBytes).toBe(15_000 * 32);
    expect(Math.abs((await recordingOf(t, a.transcriptionId!)).durationMs - 15_000)).toBeLessThan(20);
    const rows = await finalsOf(t, a.transcriptionId!);
    const finals = rows.map((r) => ({ segmentId: r.segment_key, startMs: r.start_ms, endMs: r.end_ms }));
    expect(coverageProblems(finals, 15_000, { maxOverlapMs: 0, maxHoleMs: 0, endToleranceMs: 400, startToleranceMs: 0 })).toEqual([]);
    // What the resumed socket was shown is what was stored (finals during the drop are in the database).
    for (const f of b.received.finals) expect(rows.map((r) => r.segment_key)).toContain(f.segmentId);
    expect(b.received.ended).toEqual([expect.objectContaining({ reason: 'stopped' })]);
    expect(t.service.counters.get('session_resumes_total')).toBe(1);
  });

  it('ends a session whose client never comes back after RESUME_GRACE_MS, storing what was received, and then refuses the resume', async () => {
    const t = await startTestService({ RESUME_GRACE_MS: '1500' });
    cleanups.push(() => t.close());
    const { http } = await t.loggedIn('clinician');
    const a = client(t.url, http.cookieHeader);
    expect((await a.start()).ok).toBe(true);
    const chunks = pcmChunks(tonePcm(3000), 200);
    await a.stream(chunks);
    a.close();
    // Within the grace period a resume from another socket of the same user still works…
    await sleep(700);
    const b = client(t.url, http.cookieHeader);
    await b.connected();
    expect(await b.request('session:resume', { sessionId: a.sessionId, lastSeq: chunks.length - 1 })).toMatchObject({ ok: true, ackSeq: chunks.length - 1 });
    b.close();
    // …and the grace period restarts when that socket goes too.
    await sleep(1000);
    const [still] = await queryDb<{ status: string }>(t.databaseUrl, 'SELECT status FROM transcriptions WHERE id = $1', [a.transcriptionId]);
    expect(still!.status).toBe('recording');
    await expect
      .poll(async () => (await queryDb<{ status: string; end_reason: string; failure_reason: string }>(t.databaseUrl, 'SELECT status, end_reason, failure_reason FROM transcriptions WHERE id = $1', [a.transcriptionId]))[0], { timeout: 5000 })
      .toEqual({ status: 'completed', end_reason: 'error', failure_reason: 'client_gone' });
    expect(Math.abs((await recordingOf(t, a.transcriptionId!)).durationMs - 3000)).toBeLessThan(20);
    const c = client(t.url, http.cookieHeader);
    await c.connected();
    expect(await c.request('session:resume', { sessionId: a.sessionId, lastSeq: 0 })).toMatchObject({ ok: false });
    expect(t.service.counters.get('session_grace_expired_total')).toBe(1);
  });
});

describe('audio:gap (docs/resilience.md)', () => {
  it('marks audio the client could not keep as a gap in the transcript and the recording, keeps playback in step, and still refuses silent holes', async () => {
    const t = await startTestService();
    cleanups.push(() => t.close());
    const { http } = await t.loggedIn('clinician');
    const c = client(t.url, http.cookieHeader);
    expect((await c.start()).ok).toBe(true);
    const chunks = pcmChunks(tonePcm(5000), 200);
    await c.stream(chunks.slice(0, 10));
    // Chunk 15 without the missing ones is still a refused gap.
    expect(await c.chunk(15, chunks[15]!)).toMatchObject({ ok: false, error: { code: 'sequence_gap' }, ackSeq: 9 });
    // A declaration must start right after ackSeq.
    expect(await c.request('audio:gap', { sessionId: c.sessionId, fromSeq: 11, toSeq: 14, durationMs: 800 })).toMatchObject({ ok: false, error: { code: 'sequence_gap' } });
    expect(await c.request('audio:gap', { sessionId: c.sessionId, fromSeq: 10, toSeq: 14, durationMs: 1000 })).toMatchObject({ ok: true, ackSeq: 14 });
    // Declared twice (a retried ack): no second gap.
    expect(await c.request('audio:gap', { sessionId: c.sessionId, fromSeq: 10, toSeq: 14, durationMs: 1000 })).toMatchObject({ ok: true, ackSeq: 14 });
    await c.stream(chunks.slice(15), { firstSeq: 15 });
    const stop = ok(await c.stop());
    expect(Math.abs(stop.durationMs - 5000)).toBeLessThan(20);

    const rec = await recordingOf(t, c.transcriptionId!);
    expect(Math.abs(rec.durationMs - 5000)).toBeLessThan(20);
    expect(rec.gaps).toEqual([{ fromSeq: 10, toSeq: 14, atMs: 2000, durationMs: 1000 }]);
    const rows = await finalsOf(t, c.transcriptionId!);
    expect(rows.filter((r) => r.kind === 'gap')).toEqual([expect.objectContaining({ start_ms: 2000, end_ms: 3000 })]);
    // Reviewers see it through the transcript API.
    const reviewer = await t.loggedIn('reviewer');
    const res = await reviewer.http.get(`/api/transcriptions/${c.transcriptionId}`);
    expect(res.status).toBe(200);
    expect((res.json as { segments: Array<{ kind?: string; startMs: number }> }).segments).toContainEqual(expect.objectContaining({ kind: 'gap', startMs: 2000 }));
    expect(t.service.counters.get('audio_gap_ms_total')).toBe(1000);
  });
});
