import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_TABLE } from '../../../src/lib/app-error.js';
import { SPECIALTIES } from '../../../src/transcripts/types.js';
import { DictationClient, ok } from '../../support/dictation-client.js';
import { FakeEngine } from '../../support/fake-engine.js';
import { queryDb, startTestService, type TestService } from '../../support/service.js';
import { hostileNumber, hostileString, socketLeaf, tree } from './arbitraries.js';

/**
 * Property-based fuzzing of every Socket.IO event against the running service and its real
 * PostgreSQL. `FUZZ_RUNS` payloads per property (CI default 1000; `npm run test:fuzz` 10000).
 * Properties: every acknowledged event gets `{ok:true}` or a documented error code (never
 * internal_error), the process keeps serving, another user's live session is not disturbed, and
 * sessions, sockets, rooms and heap return to their baseline.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;
const RESERVED = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);
const HUGE = Buffer.alloc(1024 * 1024 + 1);
/** Generous per-test budgets that grow with the run count (about 15 ms a payload here). */
const budget = (payloads: number) => 60_000 + payloads * 60;

let t: TestService;
let attacker: DictationClient;
let victim: DictationClient;
const own = { sessionId: '', ackSeq: -1, ended: true };
const endedIds: string[] = [];
const codes = new Map<string, number>();

const gc = (() => {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
})();

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

const tone = (() => {
  const b = Buffer.alloc(3200);
  for (let i = 0; i < 1600; i++) b.writeInt16LE(Math.round(6000 * Math.sin(i / 4)), i * 2);
  return b;
})();

beforeAll(async () => {
  t = await startTestService(
    // A short idle timeout reaps the sessions an un-acknowledged `session:start` opened (the
    // fuzzer never learns their ids), so the leak check can wait for zero live sessions.
    { MAX_SESSIONS: '50', LOG_LEVEL: 'info', IDLE_TIMEOUT_MS: '3000' },
    { engine: new FakeEngine({ script: 'fuzzing words for the scripted engine', wordsPerSecond: 10, wordsPerSegment: 3 }) },
  );
  const [a, b] = await Promise.all([t.loggedIn('clinician'), t.loggedIn('clinician')]);
  attacker = new DictationClient(t.url, a.http.cookieHeader);
  victim = new DictationClient(t.url, b.http.cookieHeader);
  await Promise.all([attacker.connected(), victim.connected()]);
});
afterAll(async () => {
  attacker?.close();
  victim?.close();
  await t?.close();
});

const sessionRef = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('$OWN', '$VICTIM', '$ENDED') },
  { weight: 1, arbitrary: socketLeaf },
  { weight: 1, arbitrary: fc.uuid() },
);
const seqRef = fc.oneof({ weight: 4, arbitrary: fc.constantFrom('$NEXT', '$SAME', '$PREV', '$SKIP', '$ZERO') }, { weight: 1, arbitrary: socketLeaf }, { weight: 1, arbitrary: hostileNumber });
const audioData = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 3200 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.constantFrom('$HUGE', '$EMPTY') },
  { weight: 1, arbitrary: socketLeaf },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((a) => new Uint8Array(a)) },
);
const startPayload = fc.record(
  {
    title: fc.oneof(hostileString, socketLeaf),
    specialty: fc.oneof(fc.constantFrom(...SPECIALTIES), socketLeaf),
    type: fc.oneof(fc.constantFrom('CONVERSATION', 'DICTATION'), socketLeaf),
    audio: fc.oneof(
      { weight: 3, arbitrary: fc.record({ encoding: fc.oneof(fc.constantFrom('pcm_s16le', 'webm_opus', 'ogg_opus'), socketLeaf), sampleRate: fc.oneof(fc.constantFrom(8000, 16000, 44100, 48000), hostileNumber), channels: fc.oneof(fc.constant(1), hostileNumber) }, { requiredKeys: [] }) },
      { weight: 1, arbitrary: tree(socketLeaf) },
    ),
  },
  { requiredKeys: [] },
);

type Action = { event: string; payload: unknown; withAck: boolean };
const action: fc.Arbitrary<Action> = fc.record({
  event: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('session:start', 'audio:chunk', 'audio:chunk', 'audio:chunk', 'session:stop', 'session:resume') },
    { weight: 1, arbitrary: fc.oneof(fc.constantFrom('transcript:final', 'session:ended', 'session:error', '__proto__', 'constructor', 'hasOwnProperty', 'session:START'), fc.string({ maxLength: 24 })).filter((e) => !RESERVED.has(e)) },
  ),
  payload: fc.oneof(
    { weight: 4, arbitrary: fc.record({ sessionId: sessionRef, seq: seqRef, data: audioData, lastSeq: seqRef }) },
    { weight: 2, arbitrary: fc.record({ sessionId: sessionRef, seq: seqRef, data: audioData, lastSeq: seqRef }, { requiredKeys: [] }) },
    { weight: 1, arbitrary: startPayload },
    { weight: 2, arbitrary: tree(socketLeaf) },
  ),
  withAck: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
});

/** Turns the `$…` placeholders into live ids and sequence numbers of this moment. */
function resolve(payload: unknown): unknown {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload) || Buffer.isBuffer(payload) || ArrayBuffer.isView(payload)) return payload;
  const out: Record<string, unknown> = { ...(payload as Record<string, unknown>) };
  const ids: Record<string, string | undefined> = { $OWN: own.sessionId, $VICTIM: victim.sessionId, $ENDED: endedIds[endedIds.length - 1] ?? own.sessionId };
  const seqs: Record<string, number> = { $NEXT: own.ackSeq + 1, $SAME: own.ackSeq, $PREV: own.ackSeq - 1, $SKIP: own.ackSeq + 3, $ZERO: 0 };
  if (typeof out.sessionId === 'string' && out.sessionId in ids) out.sessionId = ids[out.sessionId];
  for (const k of ['seq', 'lastSeq']) if (typeof out[k] === 'string' && (out[k] as string) in seqs) out[k] = seqs[out[k] as string];
  if (out.data === '$HUGE') out.data = HUGE;
  if (out.data === '$EMPTY') out.data = Buffer.alloc(0);
  return out;
}

async function ensureOwnSession(): Promise<void> {
  if (!own.ended) return;
  const res = ok(await attacker.request('session:start', { title: 'fuzz', audio: { encoding: 'pcm_s16le', sampleRate: 16000 } }));
  Object.assign(own, { sessionId: res.sessionId, ackSeq: -1, ended: false });
}

/** Sends one action and checks the answer; returns the error code, 'ok' or 'no_ack'. */
async function send(a: Action): Promise<string> {
  await ensureOwnSession();
  const payload = resolve(a.payload);
  if (!a.withAck) {
    attacker.raw.emit(a.event, payload);
    return 'no_ack';
  }
  const isDictationEvent = ['session:start', 'audio:chunk', 'session:stop', 'session:resume'].includes(a.event);
  if (!isDictationEvent) {
    // Unknown events have no handler: nothing answers, and nothing may break.
    attacker.raw.emit(a.event, payload, () => {
      throw new Error(`unexpected answer to ${a.event}`);
    });
    return 'unhandled_event';
  }
  const ack = await attacker.requestRaw(a.event, payload, 20_000);
  expect(ack !== null && typeof ack === 'object', `${a.event} ack ${JSON.stringify(ack)}`).toBe(true);
  const target = (payload as { sessionId?: unknown } | null)?.sessionId;
  if (ack.ok) {
    if (a.event === 'session:start' && typeof ack.sessionId === 'string') {
      // Frees the slot: the fuzzer must not exhaust capacity for everyone else.
      const stop = await attacker.request('session:stop', { sessionId: ack.sessionId }, 20_000);
      expect(stop.ok, JSON.stringify(stop)).toBe(true);
      endedIds.push(ack.sessionId);
    }
    if (target === own.sessionId && a.event === 'audio:chunk' && typeof ack.ackSeq === 'number') own.ackSeq = ack.ackSeq;
    if (target === own.sessionId && a.event === 'session:stop') {
      own.ended = true;
      endedIds.push(own.sessionId);
    }
    expect(target === victim.sessionId && a.event !== 'session:start', 'an event on the victim session succeeded').toBe(false);
    return 'ok';
  }
  expect(ack.error && Object.hasOwn(ERROR_TABLE, ack.error.code), `${a.event} → ${JSON.stringify(ack)}`).toBe(true);
  expect(ack.error!.code, `${a.event} ${JSON.stringify(payload)?.slice(0, 300)}`).not.toBe('internal_error');
  expect(typeof ack.error!.message).toBe('string');
  // Another user's session is indistinguishable from an unknown one (or the payload is refused first).
  if (target === victim.sessionId && a.event !== 'session:start') expect(['session_not_found', 'invalid_payload']).toContain(ack.error!.code);
  if (target === own.sessionId && (ack.error!.code === 'session_ended' || ack.error!.code === 'session_not_found')) own.ended = true;
  return ack.error!.code;
}

/** The victim streams real-time-ish audio while the fuzzer runs; any refusal is recorded. */
function victimPump(): { stop: () => Promise<{ sent: number; failures: unknown[] }> } {
  let seq = 0;
  const failures: unknown[] = [];
  let inFlight = Promise.resolve();
  const timer = setInterval(() => {
    const mine = seq++;
    inFlight = inFlight.then(async () => {
      const r = await victim.chunk(mine, tone);
      if (!r.ok || r.ackSeq !== mine) failures.push(r);
    });
  }, 100);
  return {
    stop: async () => {
      clearInterval(timer);
      await inFlight;
      return { sent: seq, failures };
    },
  };
}

describe(`Socket.IO fuzzing (${RUNS} payloads per property)`, () => {
  it('answers every event with ok or a documented error code, and never disturbs another user\'s live session', async () => {
    const started = ok(await victim.start({ title: 'victim session', audio: { encoding: 'pcm_s16le', sampleRate: 16000 } }));
    const pump = victimPump();
    const t0 = performance.now();
    await fc.assert(
      fc.asyncProperty(action, async (a) => {
        const code = await send(a);
        codes.set(code, (codes.get(code) ?? 0) + 1);
        expect(attacker.socket.connected).toBe(true);
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    const seconds = (performance.now() - t0) / 1000;
    const { sent, failures } = await pump.stop();
    console.info(`socket fuzz: ${RUNS} payloads in ${seconds.toFixed(1)} s; answers ${JSON.stringify(Object.fromEntries([...codes].sort()))}; victim chunks ${sent}`);

    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(0);
    expect(victim.received.errors).toEqual([]);
    expect(victim.received.ended).toEqual([]);
    expect(victim.socket.connected).toBe(true);
    const stop = await victim.stop();
    expect(stop).toMatchObject({ ok: true, transcriptionId: started.transcriptionId });
    const [row] = await queryDb<{ status: string; ack_seq: number }>(t.databaseUrl, 'SELECT status, ack_seq::int AS ack_seq FROM transcriptions WHERE id = $1', [started.transcriptionId]);
    expect(row).toEqual({ status: 'completed', ack_seq: sent - 1 });
    // Nothing failed unexpectedly on the server side.
    expect(t.logs.entries.filter((e) => e.level === 'error' || e.level === 'fatal')).toEqual([]);
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
  }, budget(RUNS));

  it('survives malformed Socket.IO packets written straight onto the transport', async () => {
    const frames = fc.oneof(
      fc.constantFrom(
        '2',
        '2[',
        '2["audio:chunk"',
        '2["audio:chunk",{"sessionId":1}',
        '51-["audio:chunk",{"_placeholder":true,"num":99}]',
        '51-["audio:chunk",{"data":{"_placeholder":true,"num":-1}}]',
        '2[{"__proto__":{"polluted":1}}]',
        '2["__proto__",{}]',
        '2[null]',
        '2[]',
        '3[]',
        '9',
        '0/admin,',
        '1',
        `2["session:start",${'['.repeat(5000)}${']'.repeat(5000)}]`,
        '2\u0000',
      ),
      fc.string({ maxLength: 80 }).map((s) => `2${s}`),
      fc.string({ maxLength: 80 }),
    );
    const { http } = await t.loggedIn('clinician');
    let closed = 0;
    await fc.assert(
      fc.asyncProperty(frames, async (frame) => {
        const c = new DictationClient(t.url, http.cookieHeader);
        try {
          await c.connected();
          const gone = new Promise<void>((r) => c.socket.once('disconnect', () => r()));
          (c.socket.io.engine as unknown as { write(msg: string): void }).write(frame);
          // Either the server drops this one connection (a parse error) or ignores the frame.
          // A frame announcing binary attachments makes the server wait for them; the next text
          // frame is then a protocol error and closes the connection, which also counts.
          const outcome = await Promise.race([
            gone.then(() => 'closed'),
            new Promise((r) => setTimeout(r, 50)).then(() =>
              c.request('session:resume', { sessionId: 'nope' }, 5000).then(
                (ack) => (ack.ok ? 'ok' : ack.error.code),
                () => (c.socket.connected ? 'no answer' : 'closed'),
              ),
            ),
          ]);
          expect(['closed', 'session_not_found']).toContain(outcome);
          if (outcome === 'closed') closed++;
        } finally {
          c.close();
        }
      }),
      { numRuns: Math.max(50, Math.round(RUNS / 20)), seed: SEED, endOnFailure: true },
    );
    expect(closed).toBeGreaterThan(0);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
  }, budget(RUNS));

  it('returns sessions, sockets, rooms and heap to their baseline after a large batch', async () => {
    const batch = fc.sample(action, { numRuns: Math.max(300, Math.round(RUNS / 2)), seed: 42 });
    const io = t.service.app.io;
    const snapshot = () => ({ live: t.service.sessions.liveCount, sockets: io.of('/').sockets.size, rooms: io.of('/').adapter.rooms.size });
    const runBatch = async () => {
      for (const a of batch) await send(a);
      if (!own.ended) {
        await attacker.request('session:stop', { sessionId: own.sessionId });
        own.ended = true;
      }
      // Sessions opened without an ack end by idle timeout; every session must be gone then.
      const deadline = Date.now() + 20_000;
      while (t.service.sessions.liveCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
      await new Promise((r) => setTimeout(r, 300));
    };
    await runBatch(); // warm-up: caches, JIT, pools
    const base = snapshot();
    const h0 = heapAfterGc();
    await runBatch();
    await runBatch();
    const h2 = heapAfterGc();
    const after = snapshot();
    console.info(`socket fuzz heap: ${(h0 / 1e6).toFixed(1)} MB → ${(h2 / 1e6).toFixed(1)} MB after ${2 * batch.length} more payloads (ratio ${(h2 / h0).toFixed(2)})`);
    expect(base.live).toBe(0);
    expect(after).toEqual(base);
    expect(h2 / h0).toBeLessThan(1.5);
  }, budget(3 * Math.max(300, Math.round(RUNS / 2))));
});
