import { afterEach, describe, expect, it } from 'vitest';
import { readSharedPcm } from '../support/audio.js';
import { DictationClient, ok, pcmChunks } from '../support/dictation-client.js';
import { FakeEngine } from '../support/fake-engine.js';
import { startTestService, type TestService } from '../support/service.js';

/**
 * No PHI in logs (SECURITY.md): a session streams speech whose words and whose title (with a
 * patient's name) are known, the transcript is then read, searched and exported, and every line
 * the service logged at every level (LOG_LEVEL=trace) is scanned for them: zero hits.
 */
const PATIENT = 'Parvathi Ramanujam';
const TITLE = `${PATIENT} - thyroid review`;

let t: TestService | undefined;
const clients: DictationClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await t?.close();
  t = undefined;
});

function hits(logText: string, needles: string[]): string[] {
  const lower = logText.toLowerCase();
  return needles.filter((n) => lower.includes(n.toLowerCase()));
}

/** Speech-like audio for the scripted engine (it treats digital silence as no words). */
function tone(ms: number): Buffer {
  const b = Buffer.alloc(Math.round((16000 * 2 * ms) / 1000));
  for (let i = 0; i < b.length / 2; i++) b.writeInt16LE(Math.round(7000 * Math.sin(i / 3)), i * 2);
  return b;
}

/** Reads, searches and exports the transcript, and makes a few requests fail with the name in them. */
async function readEverything(svc: TestService, transcriptionId: string, word: string, cookie: { get(p: string): Promise<unknown> }) {
  await cookie.get(`/api/transcriptions/${transcriptionId}`);
  await cookie.get(`/api/transcriptions?q=${encodeURIComponent(word)}`);
  await cookie.get(`/api/transcriptions?q=${encodeURIComponent(PATIENT)}`);
  for (const format of ['txt', 'srt', 'vtt', 'json']) await cookie.get(`/api/transcriptions/${transcriptionId}/export?format=${format}`);
  // Refused requests that carry patient data in the URL or the body.
  await cookie.get(`/api/transcriptions/${encodeURIComponent(PATIENT)}`);
  await cookie.get(`/api/transcriptions?q=${encodeURIComponent(PATIENT)}&bogus=${encodeURIComponent(word)}`);
  await svc.client().post('/api/auth/login', { username: PATIENT, password: word });
}

describe('no PHI in logs', () => {
  it('logs none of the title, the patient name or the spoken words of a scripted session, at any level', async () => {
    const words = ['parvathi', 'ramanujam', 'levothyroxine', 'palpitations', 'xerophthalmia', 'zanzibar'];
    const engine = new FakeEngine({ script: words.join(' '), wordsPerSecond: 6, wordsPerSegment: 3 });
    t = await startTestService({ LOG_LEVEL: 'trace' }, { engine });
    const { http } = await t.loggedIn('clinician');
    const c = new DictationClient(t.url, http.cookieHeader);
    clients.push(c);
    // A refused start carrying the title, then the real one.
    expect((await c.requestRaw('session:start', { title: TITLE, specialty: 'NOT_A_SPECIALTY', audio: { encoding: 'pcm_s16le' } })).ok).toBe(false);
    expect((await c.requestRaw('session:start', { title: TITLE, audio: { encoding: 'opus_with_a_name_in_it', sampleRate: 16000 } })).ok).toBe(false);
    const started = ok(await c.start({ title: TITLE, specialty: 'PRIMARYCARE', type: 'CONVERSATION', audio: { encoding: 'pcm_s16le', sampleRate: 16000 } }));
    await c.stream(pcmChunks(tone(3000), 200));
    expect((await c.chunk(3, tone(200))).ok).toBe(true); // a replay
    expect((await c.chunk(99, tone(200))).ok).toBe(false); // a gap
    expect((await c.stop()).ok).toBe(true);
    const heard = c.received.finals.map((f) => f.text).join(' ');
    // The test means something only if the words went through the service.
    for (const w of ['parvathi', 'levothyroxine', 'zanzibar']) expect(heard).toContain(w);

    await readEverything(t, started.transcriptionId, 'zanzibar', http);
    const logged = t.logs.text();
    expect(t.logs.lines.length).toBeGreaterThan(10);
    expect(t.logs.entries.some((e) => e.level === 'debug' || e.level === 'trace')).toBe(true);
    expect(logged).toContain(started.sessionId); // identifiers are logged, patient data is not
    expect(hits(logged, [TITLE, PATIENT, ...words, 'thyroid review'])).toEqual([]);
  });

  it('logs none of the title, the patient name or the words the offline engine recognised in real speech', async () => {
    t = await startTestService({ LOG_LEVEL: 'trace', TRANSCRIBE_ENGINE: 'local', LOCAL_ENGINE_WORKERS: '1' }, { engine: 'configured' });
    const { http } = await t.loggedIn('clinician');
    const c = new DictationClient(t.url, http.cookieHeader);
    clients.push(c);
    const started = ok(await c.start({ title: TITLE, type: 'DICTATION', audio: { encoding: 'pcm_s16le', sampleRate: 16000 } }));
    await c.stream(pcmChunks(readSharedPcm('real/jfk.wav'), 250), { inFlight: 4 });
    expect((await c.stop(120_000)).ok).toBe(true);
    const recognised = c.received.finals.map((f) => f.text).join(' ').toLowerCase();
    // "And so my fellow Americans, ask not what your country can do for you…"
    expect(recognised).toMatch(/country/);
    const distinctive = [...new Set(recognised.split(/[^a-z']+/).filter((w) => w.length >= 5))];
    expect(distinctive.length).toBeGreaterThan(0);

    await readEverything(t, started.transcriptionId, 'country', http);
    const logged = t.logs.text();
    expect(t.logs.lines.length).toBeGreaterThan(10);
    expect(hits(logged, [TITLE, PATIENT, 'ask not what your country', ...distinctive])).toEqual([]);
  }, 180_000);
});
