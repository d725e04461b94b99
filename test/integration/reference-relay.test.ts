import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReferenceRelay } from '../../scripts/lib/reference-relay.js';
import { encodeOpus, randomChunks, readSharedPcm } from '../support/audio.js';
import { DictationClient, ok } from '../support/dictation-client.js';
import { startTranscribeServer, type TranscribeServer } from '../support/transcribe-server.js';

/**
 * The bench's reference relay (scripts/lib/reference-relay.ts, `npm run bench -- --reference`) does
 * the job it stands for: cookie-authenticated sockets, chunks appended to a file then acked, every
 * chunk streamed to the Transcribe stand-in, results back to the client.
 */
describe('reference relay', () => {
  let transcribe: TranscribeServer;
  let relay: Awaited<ReturnType<typeof startReferenceRelay>>;
  let dir: string;
  const users = [{ username: 'relay-a', password: 'pw-a' }, { username: 'relay-b', password: 'pw-b' }];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-test-'));
    // As the bench runs it: Ogg pages checked, Opus heard by its durations (not decoded).
    transcribe = await startTranscribeServer({ timeline: 'audio', wordsPerSecond: 2.5, wordsPerSegment: 2, partialEveryMs: 300, decodeOpus: false });
    relay = await startReferenceRelay({ port: 0, dir, users, transcribe: { endpoint: transcribe.url, region: 'us-east-1', credentials: { accessKeyId: 't', secretAccessKey: 't' } } });
  });
  afterAll(async () => {
    await relay?.close();
    await transcribe?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const login = async (u: { username: string; password: string }) => {
    const res = await fetch(`${relay.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(u) });
    expect(res.status).toBe(200);
    return res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  };

  it('two sessions: every chunk acked in order after its append, streamed to the stand-in byte for byte, finals back, a stop with the PCM duration', async () => {
    const chunk = Buffer.alloc(6400, 0); // 200 ms of 16 kHz PCM
    for (let i = 0; i < chunk.length; i += 2) chunk.writeInt16LE(i % 64 < 32 ? 3000 : -3000, i); // a square wave: not silence
    const chunks = 15; // 3 s: 7 words at 2.5 words/s, 3 finals of 2 words
    const before = transcribe.requests.length;
    const run = async (u: { username: string; password: string }) => {
      const c = new DictationClient(relay.url, await login(u), {}, { record: true });
      await c.connected();
      const { sessionId } = ok(await c.request('session:start', { audio: { encoding: 'pcm_s16le', sampleRate: 16000 } }));
      const acks = await Promise.all(Array.from({ length: chunks }, (_, seq) => c.request('audio:chunk', { sessionId, seq, data: chunk })));
      expect(acks.map((a) => ok(a).ackSeq)).toEqual(Array.from({ length: chunks }, (_, i) => i));
      // Acked after the append: the file already holds every acked byte.
      expect(fs.statSync(path.join(dir, `${sessionId}.audio`)).size).toBe(chunks * chunk.length);
      const stop = ok(await c.request('session:stop', { sessionId }));
      expect(stop.durationMs).toBe(chunks * 200);
      c.close();
      return c.received.finals.length;
    };
    const finals = await Promise.all(users.map(run));
    const streams = transcribe.requests.slice(before);
    expect(streams).toHaveLength(2);
    for (const r of streams) {
      expect(r).toMatchObject({ mediaEncoding: 'pcm', sampleRate: 16000, audioBytes: chunks * chunk.length, audioEvents: chunks, clientEnded: true });
    }
    for (const n of finals) expect(n).toBeGreaterThan(0);
  });

  // Transcribe takes whole Ogg pages in each audio event and no WebM at all: the relay does the
  // least it takes (pages cut at their boundaries; WebM remuxed, not decoded), or its Opus "floor"
  // is a stream the stand-in refused (every session a transcriber error, no Transcribe work at all).
  it.each(['ogg', 'webm'] as const)('%s Opus chunks cut anywhere reach the stand-in as valid Ogg Opus, all of the audio, with finals back', async (container) => {
    const rel = 'real/1089-134691-0001.wav';
    const pcmMs = readSharedPcm(rel).length / 32;
    const encoded = await encodeOpus(rel, container);
    const chunks = randomChunks(encoded, 7, 1500);
    const before = transcribe.requests.length;
    const c = new DictationClient(relay.url, await login(users[0]!), {}, { record: true });
    await c.connected();
    const { sessionId } = ok(await c.request('session:start', { audio: { encoding: `${container}_opus` } }));
    for (const [seq, data] of chunks.entries()) ok(await c.request('audio:chunk', { sessionId, seq, data }));
    ok(await c.request('session:stop', { sessionId }));
    c.close();
    expect(fs.statSync(path.join(dir, `${sessionId}.audio`)).size).toBe(encoded.length);
    const [stream] = transcribe.requests.slice(before);
    expect(stream).toMatchObject({ mediaEncoding: 'ogg-opus', sampleRate: 48000, clientEnded: true });
    expect(stream!.ogg?.error).toBeUndefined();
    expect(stream!.ogg!.decodedMs).toBeGreaterThan(pcmMs - 100);
    expect(c.received.errors).toEqual([]);
    expect(c.received.finals.length).toBeGreaterThan(0);
  });

  it('refuses a socket without a session cookie, and a login with a wrong password', async () => {
    const c = new DictationClient(relay.url, '');
    await expect(c.connected()).rejects.toThrow('unauthorized');
    c.close();
    const res = await fetch(`${relay.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'relay-a', password: 'nope' }) });
    expect(res.status).toBe(401);
  });
});
