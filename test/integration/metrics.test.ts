import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ProviderError } from '../../src/transcription/port.js';
import { readSharedPcm } from '../support/audio.js';
import { DictationClient, pcmChunks } from '../support/dictation-client.js';
import { FakeEngine } from '../support/fake-engine.js';
import { startTestService, type TestService } from '../support/service.js';

const SCRIPT = 'the patient reports chest pain radiating to the left arm since yesterday evening';
const clients: DictationClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

/** `name{labels} value` lines of a Prometheus text exposition. */
function parse(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/);
    if (!m) throw new Error(`unparsable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

function value(samples: ReturnType<typeof parse>, name: string, labels: Record<string, string> = {}): number {
  const s = samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value ?? 0;
}

async function session(t: TestService, title: string, pcm: Buffer) {
  const { http, user } = await t.loggedIn('clinician');
  const c = new DictationClient(t.url, http.cookieHeader);
  clients.push(c);
  await c.start({ title, type: 'DICTATION', audio: { encoding: 'pcm_s16le', sampleRate: 16000 } });
  await c.stream(pcmChunks(pcm, 200));
  await c.stop();
  return { c, user };
}

describe('GET /metrics after live sessions through the real service (scripted engine)', () => {
  let t: TestService;
  const engine = new FakeEngine({ script: SCRIPT, wordsPerSecond: 4, wordsPerSegment: 4 });
  beforeAll(async () => {
    t = await startTestService({}, { engine });
  });
  afterAll(() => t?.close());

  it('moves the session, audio, latency, level, recording and engine-error series, with no patient data in labels', async () => {
    const pcm = readSharedPcm('real/1089-134686-0000.wav');
    const title = 'Mrs Example follow-up';
    const { c, user } = await session(t, title, pcm);
    engine.setFaults({ failAfterAudioMs: { ms: 600, error: new ProviderError('engine gone', { retryable: true, code: 'stream_failed' }) } });
    const failed = await session(t, title, pcm.subarray(0, 32_000));
    engine.setFaults({});

    const http = t.client();
    await expect
      .poll(async () => value(parse((await http.get('/metrics')).text), 'arogya_recording_uploads_total', { outcome: 'completed' }))
      .toBeGreaterThanOrEqual(2);
    const res = await http.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const m = parse(res.text);

    expect(value(m, 'arogya_sessions_started_total')).toBe(2);
    expect(value(m, 'arogya_sessions_ended_total', { reason: 'stopped' })).toBe(2);
    expect(value(m, 'arogya_live_sessions')).toBe(0);
    // All of the first session; of the failed one at least what the engine took before failing.
    const audioSeconds = value(m, 'arogya_audio_seconds_total');
    expect(audioSeconds).toBeGreaterThanOrEqual(pcm.length / 32000 + 0.6 - 0.001);
    expect(audioSeconds).toBeLessThanOrEqual(pcm.length / 32000 + 1 + 0.001);
    expect(value(m, 'arogya_chunk_ack_latency_ms_count')).toBe(pcmChunks(pcm, 200).length + 5);
    expect(value(m, 'arogya_caption_latency_ms_count')).toBe(c.received.finals.length + failed.c.received.finals.length);
    expect(value(m, 'arogya_caption_latency_ms_count')).toBeGreaterThan(1);
    expect(value(m, 'arogya_partial_latency_ms_count')).toBeGreaterThan(0);
    expect(value(m, 'arogya_input_level_dbfs_count')).toBeGreaterThan(0);
    expect(value(m, 'arogya_engine_errors_total', { code: 'stream_failed' })).toBe(1);
    expect(m.some((s) => s.name === 'arogya_event_loop_delay_ms' && s.labels.stat === 'p99')).toBe(true);
    expect(m.some((s) => s.name === 'arogya_engine_reconnects_total')).toBe(true);

    // Labels are closed sets: nothing that identifies a session, a person or what was said.
    const forbidden = [c.sessionId!, c.transcriptionId!, failed.c.sessionId!, user.id, user.username, title, ...SCRIPT.split(' ').filter((w) => w.length > 3)];
    for (const s of m) {
      for (const v of Object.values(s.labels)) {
        expect(v).toMatch(/^[a-z0-9_:.+-]{1,48}$/i);
        for (const f of forbidden) expect(v.toLowerCase()).not.toContain(f.toLowerCase());
      }
    }
    expect(res.text).not.toContain(user.username);
    expect(res.text).not.toContain(c.transcriptionId!);
  });

  it('is refused through a proxy and off loopback-only without a token: 404 not_found', async () => {
    const res = await t.client().get('/metrics', { 'x-forwarded-for': '203.0.113.7' });
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
  });
});

describe('GET /metrics with METRICS_TOKEN, and the service_metrics log line', () => {
  let t: TestService;
  const token = 'metrics-token-0123456789abcdef';
  beforeAll(async () => {
    t = await startTestService({ METRICS_TOKEN: token, METRICS_LOG_INTERVAL_MS: '1000' });
  });
  afterAll(() => t?.close());

  it('needs the bearer token even from loopback', async () => {
    const http = t.client();
    expect((await http.get('/metrics')).status).toBe(404);
    expect((await http.get('/metrics', { authorization: 'Bearer wrong-token-0123456789abc' })).status).toBe(404);
    expect((await http.get('/metrics', { authorization: token })).status).toBe(404);
    const ok = await http.get('/metrics', { authorization: `Bearer ${token}` });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('arogya_live_sessions');
  });

  it('logs service_metrics with the fields the CloudWatch metric filters read', async () => {
    await session(t, 'x', readSharedPcm('real/1089-134686-0000.wav').subarray(0, 64_000));
    // The window that saw the session's chunks reports a non-zero ack p99.
    const summaries = () => t.logs.entries.filter((e) => e.msg === 'service_metrics');
    await expect.poll(() => summaries().some((l) => (l.chunkAckP99Ms as number) > 0), { timeout: 10_000 }).toBe(true);
    for (const l of summaries()) {
      expect(l).toMatchObject({ liveSessions: expect.any(Number), chunkAckP99Ms: expect.any(Number), captionLatencyP95Ms: expect.any(Number), engineErrors: expect.any(Number), dependenciesDown: 0 });
    }
  });
});
