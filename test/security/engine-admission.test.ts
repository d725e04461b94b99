import { afterAll, describe, expect, it } from 'vitest';
import { ProviderError, type TranscriptionStream, type TranscriptResult } from '../../src/transcription/port.js';
import { shareByUser } from '../../src/transcription/fair-share.js';
import { createResilientEngine } from '../../src/transcription/resilient-stream.js';
import { readSharedPcm } from '../support/audio.js';
import { DictationClient, pcmChunks } from '../support/dictation-client.js';
import { FakeEngine } from '../support/fake-engine.js';
import { silentLogger } from '../support/recordings.js';
import { startTestService, type TestService } from '../support/service.js';

/**
 * Issue 19: engine capacity was first come, first served, and a stream was held for as long as its
 * session lived, so 3 accounts holding silent sessions took every offline-engine stream (for up to
 * 5 minutes, the idle timeout). Now a stream sent no speech for ENGINE_IDLE_RELEASE_MS gives its slot
 * back (the session stays open; the stream reopens when speech resumes) and each user holds at most
 * MAX_ENGINE_STREAMS_PER_USER streams.
 */
const cleanups: Array<() => unknown> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** 100 ms of a loud tone (speech level for the wrapper, ~-12 dBFS) or of digital silence. */
const tone = () => {
  const b = Buffer.alloc(3200);
  for (let i = 0; i < 1600; i++) b.writeInt16LE(Math.round(8000 * Math.sin((i / 16) * Math.PI)), i * 2);
  return b;
};
const silence = () => Buffer.alloc(3200);
const options = (sessionId: string, userId: string) => ({ sampleRate: 16000 as const, specialty: 'PRIMARYCARE' as const, type: 'DICTATION' as const, languageCode: 'en-US' as const, sessionId, userId });
const collect = (s: TranscriptionStream) => {
  const finals: TranscriptResult[] = [];
  const done = (async () => {
    for await (const r of s) if (r.kind === 'final') finals.push(r);
  })();
  return { finals, done };
};

describe('idle release and the per-user share (engine wrapper, scripted engine)', () => {
  it('a silent stream gives its slot back and reopens on speech with every word: 2 s + 2 s of speech around a pause give the words of 4 s', async () => {
    const fake = new FakeEngine({ wordsPerSecond: 2.5, wordsPerSegment: 5 });
    const engine = createResilientEngine(shareByUser(fake, 1), undefined, { idleReleaseMs: 400, watchdogMs: 0 }, silentLogger());
    cleanups.push(() => engine.close());
    const s = await engine.start(options('s1', 'u1'));
    const out = collect(s);
    for (let i = 0; i < 20; i++) s.write(tone());
    // The user's share (1) is taken while the stream is speaking.
    await expect(engine.start(options('s2', 'u1'))).rejects.toMatchObject({ code: 'engine_busy' });
    // A pause: silence keeps arriving, the stream is ended and its slot returned.
    const pause = setInterval(() => s.write(silence()), 100);
    try {
      await expect.poll(() => fake.streams[0]!.ended, { timeout: 5000 }).toBe(true);
      expect(fake.streams[0]!.aborted).toBe(false);
      const other = await engine.start(options('s2', 'u1'));
      other.abort();
    } finally {
      clearInterval(pause);
    }
    for (let i = 0; i < 20; i++) s.write(tone());
    await s.end();
    await out.done;
    const words = out.finals.flatMap((f) => f.text.split(' ').filter(Boolean));
    // 4 s of speech at 2.5 words/s: nothing lost at the release or the reopen, nothing repeated.
    expect(words).toHaveLength(10);
    // Two streams for the session (released, reopened) plus the other one; the reopen heard the
    // second of silence before the speech, not the whole pause.
    const session = fake.streams.filter((st) => st.options.sessionId === 's1');
    expect(session).toHaveLength(2);
    expect(session[1]!.audioBytes).toBeLessThanOrEqual((20 + 11) * 3200);
    expect(session[1]!.audioBytes).toBeGreaterThanOrEqual(20 * 3200);
    // On one timeline: the reopened stream's finals come after the pause.
    expect(out.finals.at(-1)!.startMs).toBeGreaterThan(2000);
  }, 30_000);

  it('a session that ends during the pause ends without reopening a stream', async () => {
    const fake = new FakeEngine();
    const engine = createResilientEngine(fake, undefined, { idleReleaseMs: 200, watchdogMs: 0 }, silentLogger());
    cleanups.push(() => engine.close());
    const s = await engine.start(options('s3', 'u3'));
    const out = collect(s);
    for (let i = 0; i < 10; i++) s.write(tone());
    await expect.poll(() => fake.streams[0]!.ended, { timeout: 5000 }).toBe(true);
    s.write(silence());
    await s.end();
    await out.done;
    expect(fake.streams).toHaveLength(1);
    expect(out.finals.flatMap((f) => f.text.split(' '))).toHaveLength(2);
  });

  it('another user is not limited by the first user reaching their share', async () => {
    const engine = shareByUser(new FakeEngine(), 1);
    const mine = await engine.start(options('a', 'u1'));
    await expect(engine.start(options('b', 'u1'))).rejects.toBeInstanceOf(ProviderError);
    const theirs = await engine.start(options('c', 'u2'));
    mine.abort();
    const again = await engine.start(options('d', 'u1'));
    theirs.abort();
    again.abort();
  });
});

describe('the attack: accounts holding silent sessions on the offline engine', () => {
  let t: TestService;

  it('3 users with silent sessions fill the engine; within seconds another user gets a stream and text, and a silent session that speaks again is transcribed', async () => {
    t = await startTestService(
      // 5 fast-search streams (the first stream of an idle engine is full search, cost 3): three sessions fill it.
      { TRANSCRIBE_ENGINE: 'local', LOCAL_ENGINE_WORKERS: '1', LOCAL_ENGINE_MAX_STREAMS: '5', ENGINE_IDLE_RELEASE_MS: '4000', MAX_ENGINE_STREAMS_PER_USER: '1' },
      { engine: 'configured' },
    );
    cleanups.push(() => t.close());
    // Everyone logs in and connects first: the attack is the starts, one after the other.
    const attackers: DictationClient[] = [];
    for (let i = 0; i < 3; i++) {
      const { http } = await t.loggedIn('clinician');
      const c = new DictationClient(t.url, http.cookieHeader);
      cleanups.push(() => c.close());
      await c.connected();
      attackers.push(c);
    }
    const victim = await t.loggedIn('clinician');
    const v = new DictationClient(t.url, victim.http.cookieHeader);
    cleanups.push(() => v.close());
    await v.connected();
    for (const c of attackers) expect((await c.start()).ok).toBe(true);
    // One sends digital silence all along (a muted microphone), the others send nothing.
    let seq = 0;
    const muted = setInterval(() => void attackers[0]!.chunk(seq++, Buffer.alloc(6400)).catch(() => {}), 200);
    cleanups.push(() => clearInterval(muted));

    // The page retries transcriber_unavailable; without the idle release no slot frees for 5 minutes.
    let refused = 0;
    const began = Date.now();
    await expect
      .poll(
        async () => {
          const res: { ok: boolean; error?: { code: string } } = await v.start();
          if (!res.ok) expect(res.error?.code).toBe('transcriber_unavailable');
          if (!res.ok) refused += 1;
          return res.ok;
        },
        { timeout: 20_000, interval: 500 },
      )
      .toBe(true);
    const waitedMs = Date.now() - began;
    // The engine was full when the victim first tried (the attack worked until the release).
    expect(refused).toBeGreaterThan(0);
    await v.stream(pcmChunks(readSharedPcm('real/jfk.wav'), 250), { inFlight: 4 });
    expect((await v.stop(120_000)).ok).toBe(true);
    expect(v.received.finals.map((f) => f.text).join(' ')).toMatch(/country/);

    // The silent sessions were never ended, and one that speaks again gets its stream back.
    clearInterval(muted);
    for (const a of attackers) expect(a.received.ended).toEqual([]);
    const a1 = attackers[1]!;
    await a1.stream(pcmChunks(readSharedPcm('real/jfk.wav'), 250), { inFlight: 4 });
    expect((await a1.stop(120_000)).ok).toBe(true);
    expect(a1.received.finals.map((f) => f.text).join(' ')).toMatch(/country/);
    expect(waitedMs).toBeLessThan(15_000);
  }, 240_000);
});
