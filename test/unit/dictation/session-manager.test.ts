/**
 * SessionManager as a state machine: admission, grace and resume, continuation from another task,
 * handoff and shutdown drain, with fakes at its ports (the scripted engine, an in-memory
 * repository and recording service) and vitest's fake timers. End to end the same paths run in
 * test/integration/{resume,session-handoff,user-session-limit}.test.ts and test/e2e.
 */
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DictationRepository, ResumableTranscription } from '../../../src/dictation/dictation-repo.js';
import { SessionManager, type SessionManagerDeps } from '../../../src/dictation/session-manager.js';
import type { SessionProblem, SessionSink } from '../../../src/dictation/types.js';
import { AppError } from '../../../src/lib/app-error.js';
import { createLogger } from '../../../src/lib/logger.js';
import { noopObserver } from '../../../src/dictation/observer.js';
import { Counters } from '../../../src/lib/metrics-hooks.js';
import { ProviderError } from '../../../src/transcription/port.js';
import type { RecordingService } from '../../../src/recordings/service.js';
import { FakeEngine } from '../../support/fake-engine.js';

const PCM = { specialty: 'PRIMARYCARE', type: 'DICTATION', audio: { encoding: 'pcm_s16le', sampleRate: 16000 } } as const;
const SID = '0b6f9f0e-1111-4c4c-8888-000000000001';

class FakeWriter extends EventEmitter {
  appended = 0;
  async appendPcm(pcm: Buffer) {
    this.appended += pcm.length;
  }
  async finish() {
    return { state: 'completed' as const, objectKey: 'k', contentType: 'audio/wav' };
  }
  async abort() {}
}

class FakeCheckpoints extends EventEmitter {
  durableSeq = -1;
  add(seq: number) {
    this.durableSeq = seq;
  }
  async flush() {}
  close() {}
}

function setup(
  o: {
    limits?: Partial<SessionManagerDeps['limits']>;
    resumable?: ResumableTranscription | undefined;
    handoff?: (userId: string, sessionId: string) => Promise<boolean>;
    repairs?: SessionManagerDeps['repairs'];
    /** Runs before each recording open resolves: to hold it, or to fail it. */
    beforeOpen?: () => Promise<void>;
  } = {},
) {
  const engine = new FakeEngine();
  const counters = new Counters();
  const rows: Array<{ id: string; clinicianId: string }> = [];
  const finished: Array<{ id: string; endReason: string; failureReason?: string }> = [];
  const opened: Array<{ transcriptionId: string; partIndex: number; writer: FakeWriter }> = [];
  const calls: string[] = [];
  let resumable = o.resumable;
  const repo = {
    create: async (t: { clinicianId: string }) => {
      const id = `t${rows.length + 1}`;
      rows.push({ id, clinicianId: t.clinicianId });
      return { id, createdAt: new Date() };
    },
    progress: async () => {},
    insertSegment: async () => ({ id: 'x' }),
    markGap: async () => {},
    ownedBy: async () => true,
    finish: async (id: string, f: { endReason: string; failureReason?: string }) => {
      finished.push({ id, endReason: f.endReason, ...(f.failureReason ? { failureReason: f.failureReason } : {}) });
      return true;
    },
    findResumable: async () => {
      calls.push('findResumable');
      return resumable;
    },
    claimForResume: async () => {
      calls.push('claimForResume');
      return true;
    },
    releaseClaim: async () => void calls.push('releaseClaim'),
  };
  const recordings = {
    open: async (p: { transcriptionId: string; partIndex: number }) => {
      await o.beforeOpen?.();
      const writer = new FakeWriter();
      opened.push({ transcriptionId: p.transcriptionId, partIndex: p.partIndex, writer });
      return writer;
    },
    checkpoints: () => new FakeCheckpoints(),
    dropCheckpoints: async () => {},
    readCompletedPcm: async () => Buffer.alloc(32_000, 1), // 1 s of the earlier part
  };
  const notices = new Map<string, Array<SessionProblem | { ended: string }>>();
  const sink = (sessionId: string): SessionSink => {
    const list = notices.get(sessionId) ?? [];
    notices.set(sessionId, list);
    return { partial: () => {}, final: () => {}, level: () => {}, error: (p) => void list.push(p), ended: (p) => void list.push({ ended: p.reason }) };
  };
  const manager = new SessionManager({
    engine,
    recordings: recordings as unknown as RecordingService,
    repo: repo as unknown as DictationRepository,
    limits: { idleTimeoutMs: 600_000, maxSessionMs: 3_600_000, maxChunkBytes: 64_000, maxBacklogBytes: 1 << 20, maxSessions: 3, maxSessionsPerUser: 2, resumeGraceMs: 10_000, ...o.limits },
    // The observer port with the counters read below and no session meters.
    observer: { ...noopObserver, inc: (name, labels, value) => counters.inc(name, labels, value) },
    taskId: 'task-a',
    logger: createLogger({ level: 'silent' }),
    sinkFor: sink,
    ...(o.handoff ? { requestHandoff: o.handoff } : {}),
    ...(o.repairs ? { repairs: o.repairs } : {}),
  });
  return {
    manager,
    engine,
    counters,
    finished,
    opened,
    calls,
    notices: (id: string) => notices.get(id) ?? [],
    setResumable: (r: ResumableTranscription | undefined) => void (resumable = r),
  };
}

const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: AppError) => e.code);

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('SessionManager start and the recording', () => {
  it('acknowledges a start once its recording is open, so that work is not left running under the first chunks; the place counts once meanwhile', async () => {
    const gates: Array<() => void> = [];
    const t = setup({ limits: { maxSessions: 2 }, beforeOpen: () => new Promise<void>((resolve) => gates.push(resolve)) });
    let acked = false;
    const first = t.manager.start('a', PCM).then((r) => ((acked = true), r));
    await vi.advanceTimersByTimeAsync(0);
    expect(gates).toHaveLength(1);
    expect(acked).toBe(false);
    // A second start while the first recording opens: two places, not three (one counted twice).
    const second = t.manager.start('b', PCM);
    await vi.advanceTimersByTimeAsync(0);
    expect(t.manager.liveCount).toBe(2);
    gates[0]!();
    const { sessionId } = await first;
    expect(t.opened).toHaveLength(1);
    expect(t.manager.get('a', sessionId).transcriptionId).toBe(t.opened[0]!.transcriptionId);
    gates[1]!();
    await second;
    expect(t.opened).toHaveLength(2);
  });

  it('still starts when the recording cannot open yet; the first chunk opens it and is acknowledged only then', async () => {
    let failures = 1;
    const t = setup({
      beforeOpen: async () => {
        if (failures-- > 0) throw new AppError('storage_unavailable');
      },
    });
    const { sessionId } = await t.manager.start('a', PCM);
    expect(t.opened).toHaveLength(0);
    expect(await t.manager.get('a', sessionId).chunk(0, Buffer.alloc(3200))).toBe(0);
    expect(t.opened).toHaveLength(1);
    expect(t.opened[0]!.writer.appended).toBe(3200);
  });
});

describe('SessionManager admission', () => {
  it('refuses a user at maxSessionsPerUser with too_many_sessions, and everyone at maxSessions with capacity_exceeded (retryable)', async () => {
    const t = setup();
    await t.manager.start('a', PCM);
    await t.manager.start('a', PCM);
    expect(await code(t.manager.start('a', PCM))).toBe('too_many_sessions');
    await t.manager.start('b', PCM);
    expect(t.manager.liveCount).toBe(3);
    const full = await t.manager.start('c', PCM).catch((e: AppError) => e);
    expect(full).toMatchObject({ code: 'capacity_exceeded', retryable: true });
    // The user's own limit is told first: waiting for capacity would not help them.
    expect(await code(t.manager.start('a', PCM))).toBe('too_many_sessions');
  });

  it('admits exactly the per-user limit out of a burst of concurrent starts', async () => {
    const t = setup({ limits: { maxSessions: 100 } });
    const results = await Promise.all(Array.from({ length: 5 }, () => code(t.manager.start('a', PCM))));
    expect(results.sort()).toEqual(['ok', 'ok', 'too_many_sessions', 'too_many_sessions', 'too_many_sessions']);
    expect(t.engine.streams).toHaveLength(2);
  });

  it('frees the slot when a session ends: the user may start again', async () => {
    const t = setup({ limits: { maxSessionsPerUser: 1 } });
    const { sessionId } = await t.manager.start('a', PCM);
    expect(await code(t.manager.start('a', PCM))).toBe('too_many_sessions');
    await t.manager.get('a', sessionId).end('stopped');
    expect(await code(t.manager.start('a', PCM))).toBe('ok');
  });

  it('frees the reservation when the engine cannot start: transcriber_unavailable, then a start succeeds', async () => {
    const t = setup({ limits: { maxSessionsPerUser: 1 } });
    t.engine.setFaults({ startError: new ProviderError('down', { retryable: true, code: 'ServiceUnavailableException' }) });
    expect(await code(t.manager.start('a', PCM))).toBe('transcriber_unavailable');
    t.engine.setFaults({});
    expect(await code(t.manager.start('a', PCM))).toBe('ok');
  });
});

describe('SessionManager grace and resume on this task', () => {
  it('ends a session with no socket resumeGraceMs after its last one left (error, client_gone), not before', async () => {
    const t = setup();
    const { sessionId } = await t.manager.start('a', PCM);
    t.manager.attach(sessionId, 'sock1');
    t.manager.detach('sock1');
    await vi.advanceTimersByTimeAsync(9_999);
    expect(t.finished).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await vi.waitFor(() => expect(t.finished).toEqual([{ id: 't1', endReason: 'error', failureReason: 'client_gone' }]));
    expect(t.counters.get('session_grace_expired_total')).toBe(1);
    // A late chunk or stop for it is told session_ended, not session_not_found.
    expect(() => t.manager.get('a', sessionId)).toThrow(expect.objectContaining({ code: 'session_ended' }));
  });

  it('a resume within the grace period picks the same session up and cancels the timer, even with the user at the limit', async () => {
    const t = setup();
    const { sessionId } = await t.manager.start('a', PCM);
    await t.manager.start('a', PCM);
    t.manager.attach(sessionId, 'sock1');
    t.manager.detach('sock1');
    await vi.advanceTimersByTimeAsync(5_000);
    const s = await t.manager.resume('a', sessionId, 'sock2');
    expect(s.id).toBe(sessionId);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.finished).toEqual([]);
    expect(t.manager.listOwn('a').find((i) => i.sessionId === sessionId)?.connected).toBe(true);
    expect(t.counters.get('session_resumes_total', { where: 'local' })).toBe(1);
  });

  it('starts the grace period afresh when the resumed socket leaves again', async () => {
    const t = setup();
    const { sessionId } = await t.manager.start('a', PCM);
    t.manager.attach(sessionId, 'sock1');
    t.manager.detach('sock1');
    await vi.advanceTimersByTimeAsync(5_000);
    await t.manager.resume('a', sessionId, 'sock2');
    await vi.advanceTimersByTimeAsync(1_000);
    t.manager.detach('sock2'); // at 6 s: the grace runs to 16 s, not to the first timer's 10 s
    await vi.advanceTimersByTimeAsync(9_999);
    expect(t.finished).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await vi.waitFor(() => expect(t.finished).toEqual([{ id: 't1', endReason: 'error', failureReason: 'client_gone' }]));
  });

  it('keeps a session alive while another socket still follows it', async () => {
    const t = setup();
    const { sessionId } = await t.manager.start('a', PCM);
    t.manager.attach(sessionId, 'sock1');
    t.manager.attach(sessionId, 'sock2');
    t.manager.detach('sock1');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.finished).toEqual([]);
  });

  it("refuses another user's session as session_not_found, never session_ended", async () => {
    const t = setup();
    const { sessionId } = await t.manager.start('a', PCM);
    expect(await code(t.manager.resume('b', sessionId, 'sock'))).toBe('session_not_found');
    await t.manager.get('a', sessionId).end('stopped');
    expect(() => t.manager.get('b', sessionId)).toThrow(expect.objectContaining({ code: 'session_not_found' }));
    expect(() => t.manager.get('a', sessionId)).toThrow(expect.objectContaining({ code: 'session_ended' }));
  });
});

describe('SessionManager continuation from another task', () => {
  const row = (state: ResumableTranscription['state']): ResumableTranscription => ({ id: 't9', ackSeq: 41, audioMs: 1000, specialty: 'PRIMARYCARE', type: 'DICTATION', encoding: 'pcm_s16le', sampleRate: 16000, resumePart: 0, state });

  it('continues a session ended at shutdown: claims the row, keeps the timeline and ack, and opens the next part with the earlier audio first', async () => {
    const t = setup({ resumable: row('shutdown') });
    const s = await t.manager.resume('a', SID, 'sock');
    expect([s.id, s.transcriptionId, s.ackSeq, s.audioMs]).toEqual([SID, 't9', 41, 1000]);
    expect(t.calls).toEqual(['findResumable', 'claimForResume']);
    expect(t.engine.streams[0]!.options).toMatchObject({ offsetMs: 1000, segmentPrefix: 'p1-' });
    await vi.waitFor(() => expect(t.opened.map((o) => [o.transcriptionId, o.partIndex, o.writer.appended])).toEqual([['t9', 1, 32_000]]));
    expect(t.counters.get('session_resumes_total', { where: 'cross_task' })).toBe(1);
  });

  it('asks the task that still holds a live session to hand it over, then continues it', async () => {
    const asked: string[][] = [];
    const u = setup({
      resumable: row('owner_alive'),
      handoff: async (userId, sessionId) => {
        asked.push([userId, sessionId]);
        u.setResumable(row('shutdown')); // the holder ended it with server_shutdown
        return true;
      },
    });
    const s = await u.manager.resume('a', SID, 'sock');
    expect(asked).toEqual([['a', SID]]);
    expect(s.transcriptionId).toBe('t9');
    expect(u.calls).toEqual(['findResumable', 'findResumable', 'claimForResume']);
  });

  it('tells the client to retry (session_moving) when the holder is alive and does not hand over', async () => {
    const t = setup({ resumable: row('owner_alive'), handoff: async () => false });
    expect(await code(t.manager.resume('a', SID, 'sock'))).toBe('session_moving');
    expect(t.calls).toEqual(['findResumable']);
  });

  it('refuses an unknown session and a non-UUID id without asking the database for the latter', async () => {
    const t = setup({ resumable: undefined });
    expect(await code(t.manager.resume('a', SID, 'sock'))).toBe('session_not_found');
    expect(await code(t.manager.resume('a', 'not-a-uuid', 'sock'))).toBe('session_not_found');
    expect(t.calls).toEqual(['findResumable']);
  });

  it('refuses a continuation over the per-user limit before reading the recording', async () => {
    const t = setup({ resumable: row('shutdown'), limits: { maxSessionsPerUser: 1 } });
    await t.manager.start('a', PCM);
    expect(await code(t.manager.resume('a', SID, 'sock'))).toBe('too_many_sessions');
    expect(t.calls).toEqual(['findResumable']);
  });
});

describe('SessionManager handoff and shutdown', () => {
  it('hands a live session over: the client is told, the session ends with server_shutdown; not for another user', async () => {
    const t = setup();
    const { sessionId } = await t.manager.start('a', PCM);
    expect(await t.manager.handOff('b', sessionId)).toBe(false);
    expect(await t.manager.handOff('a', sessionId)).toBe(true);
    expect(t.notices(sessionId)).toEqual([{ code: 'server_shutdown', message: expect.any(String), fatal: false }, { ended: 'server_shutdown' }]);
    expect(t.finished).toEqual([{ id: 't1', endReason: 'server_shutdown' }]);
    expect(await t.manager.handOff('a', sessionId)).toBe(false);
  });

  it('drains: tells every live session first, ends them all with server_shutdown, and refuses new starts and resumes', async () => {
    const t = setup();
    const a = await t.manager.start('a', PCM);
    const b = await t.manager.start('b', PCM);
    t.manager.attach(a.sessionId, 'sock1');
    t.manager.detach('sock1'); // in its grace period: the drain ends it too, once
    await t.manager.drain();
    for (const id of [a.sessionId, b.sessionId]) expect(t.notices(id)).toEqual([{ code: 'server_shutdown', message: expect.any(String), fatal: false }, { ended: 'server_shutdown' }]);
    expect(t.finished.map((f) => f.endReason)).toEqual(['server_shutdown', 'server_shutdown']);
    expect(t.manager.liveCount).toBe(0);
    expect(await code(t.manager.start('c', PCM))).toBe('server_shutdown');
    expect(await code(t.manager.resume('a', SID, 'sock'))).toBe('server_shutdown');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.finished).toHaveLength(2);
  });

  it('drains with another reason without the shutdown notice', async () => {
    const t = setup();
    const a = await t.manager.start('a', PCM);
    await t.manager.drain('stopped');
    expect(t.notices(a.sessionId)).toEqual([{ ended: 'stopped' }]);
  });
});

describe('SessionManager engine notices', () => {
  it('holds a failover heard while the session starts until its first socket attaches, then sends later changes at once', async () => {
    const t = setup();
    const start = t.engine.start.bind(t.engine);
    let onStatus: Parameters<typeof t.engine.start>[0]['onStatus'];
    t.engine.start = async (opts) => {
      onStatus = opts.onStatus;
      // Before the row, the sink and the session exist: the session starts on the fallback.
      opts.onStatus?.({ kind: 'failover', from: 'aws', to: 'local' });
      return start(opts);
    };
    const { sessionId } = await t.manager.start('a', PCM);
    expect(t.notices(sessionId)).toEqual([]);
    t.manager.attach(sessionId, 'socket-1');
    expect(t.notices(sessionId)).toEqual([{ code: 'transcriber_failover', message: expect.any(String), fatal: false }]);
    onStatus!({ kind: 'recovered', engine: 'aws' });
    expect(t.notices(sessionId).map((n) => ('code' in n ? n.code : n.ended))).toEqual(['transcriber_failover', 'transcriber_recovered']);
    t.manager.attach(sessionId, 'socket-2'); // nothing held any more: nothing sent twice
    expect(t.notices(sessionId)).toHaveLength(2);
  });

  it('stores a degraded stretch reported before the transcription row exists under that row, once it does, and later ones at once', async () => {
    const stretches: Array<[string, number, number]> = [];
    const t = setup({ repairs: { add: async (id, fromMs, toMs) => void stretches.push([id, fromMs, toMs]) } });
    const start = t.engine.start.bind(t.engine);
    let onDegraded: Parameters<typeof t.engine.start>[0]['onDegraded'];
    t.engine.start = async (opts) => {
      onDegraded = opts.onDegraded;
      opts.onDegraded?.({ fromMs: 0, toMs: 1200 }); // before the row: the engine is still starting
      return start(opts);
    };
    const { transcriptionId } = await t.manager.start('a', PCM);
    await vi.advanceTimersByTimeAsync(0);
    expect(stretches).toEqual([[transcriptionId, 0, 1200]]);
    onDegraded!({ fromMs: 5000, toMs: 6000 });
    await vi.advanceTimersByTimeAsync(0);
    expect(stretches).toEqual([
      [transcriptionId, 0, 1200],
      [transcriptionId, 5000, 6000],
    ]);
  });
});
