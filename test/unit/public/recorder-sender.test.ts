import { describe, expect, it } from 'vitest';
import {
  ChunkSender,
  MAX_IN_FLIGHT,
  RefusedError,
  resumeRetryDelay,
  type LedgerStore,
  type SenderSocket,
  type SessionMeta,
} from '../../../public/recorder-sender.js';

type ChunkAck = Awaited<ReturnType<SenderSocket['chunk']>>;
type ResumeAck = Awaited<ReturnType<SenderSocket['resume']>>;
type GapAck = Awaited<ReturnType<SenderSocket['gap']>>;

/** A socket whose acks the test gives, one chunk at a time, like a server that answers late. */
function fakeSocket() {
  const chunks: Array<{ seq: number; bytes: number[]; answer: (ack: ChunkAck) => void; fail: () => void }> = [];
  const resumes: Array<{ sessionId: string; lastSeq: number }> = [];
  const gaps: Array<{ fromSeq: number; toSeq: number; durationMs: number }> = [];
  let resumeAnswer: ResumeAck = { ok: true, ackSeq: -1, durableSeq: -1 };
  let gapAnswer: GapAck | null = null;
  const socket: SenderSocket & { up: boolean } = {
    up: true,
    connected: () => socket.up,
    chunk: (p) =>
      new Promise((resolve, reject) => {
        chunks.push({ seq: p.seq, bytes: [...new Uint8Array(p.data)], answer: resolve, fail: () => reject(new Error('operation has timed out')) });
      }),
    resume: async (p) => {
      resumes.push(p);
      return resumeAnswer;
    },
    gap: async (p) => {
      gaps.push({ fromSeq: p.fromSeq, toSeq: p.toSeq, durationMs: p.durationMs });
      return gapAnswer ?? { ok: true, ackSeq: p.toSeq, durableSeq: -1 };
    },
  };
  return {
    socket,
    chunks,
    resumes,
    gaps,
    /** The seqs sent so far, in order. */
    sent: () => chunks.map((c) => c.seq),
    answerResume: (a: ResumeAck) => (resumeAnswer = a),
    answerGap: (a: GapAck) => (gapAnswer = a),
  };
}

/** An in-memory store that records what the page would keep in IndexedDB. */
function fakeStore() {
  const chunks = new Map<number, ArrayBuffer>();
  const acks: number[] = [];
  let cleared = 0;
  const store: LedgerStore = {
    start: async () => void chunks.clear(),
    save: async (_meta, seq, data) => void chunks.set(seq, data),
    ack: async (_id, durableSeq) => {
      acks.push(durableSeq);
      for (const seq of chunks.keys()) if (seq <= durableSeq) chunks.delete(seq);
    },
    clear: async () => {
      cleared += 1;
      chunks.clear();
    },
  };
  return { store, chunks, acks, cleared: () => cleared };
}

const meta: SessionMeta = { sessionId: 's-1', transcriptionId: 't-1', userId: 'u-1', encoding: 'pcm_s16le' };
const settle = () => new Promise((r) => setTimeout(r, 0));
const chunk = (byte: number) => new Uint8Array([byte, byte]);

async function started() {
  const io = fakeSocket();
  const disk = fakeStore();
  const refused: string[] = [];
  const sender = new ChunkSender({ socket: () => io.socket, store: disk.store, onRefused: (e) => refused.push(e.code) });
  await sender.begin(meta);
  return { io, disk, sender, refused };
}

describe('ChunkSender: the ledger', () => {
  it('keeps a chunk (in memory and in the store) until durableSeq covers it, not merely until it is acknowledged', async () => {
    const { io, disk, sender } = await started();
    for (let i = 0; i < 3; i++) sender.queue(chunk(i));
    expect(io.sent()).toEqual([0, 1, 2]);
    expect([...disk.chunks.keys()]).toEqual([0, 1, 2]);

    io.chunks[2]!.answer({ ok: true, ackSeq: 2, durableSeq: 0 });
    await settle();
    expect(sender.drained).toBe(true);
    expect([...sender.kept.keys()]).toEqual([1, 2]);
    expect([...disk.chunks.keys()]).toEqual([1, 2]);
    expect(disk.acks).toEqual([0]);

    io.chunks[1]!.answer({ ok: true, ackSeq: 2, durableSeq: 2 });
    await settle();
    expect([...sender.kept.keys()]).toEqual([]);
    expect([...disk.chunks.keys()]).toEqual([]);
  });

  it('treats acknowledged as durable when the server never reports durableSeq', async () => {
    const { io, disk, sender } = await started();
    sender.queue(chunk(0));
    sender.queue(chunk(1));
    io.chunks[1]!.answer({ ok: true, ackSeq: 1 });
    await settle();
    expect(sender.kept.size).toBe(0);
    expect(disk.acks).toEqual([1]);
  });

  it('never lowers ackSeq or durableSeq on a late, older ack', async () => {
    const { io, sender } = await started();
    for (let i = 0; i < 3; i++) sender.queue(chunk(i));
    io.chunks[2]!.answer({ ok: true, ackSeq: 2, durableSeq: 2 });
    io.chunks[0]!.answer({ ok: true, ackSeq: 0, durableSeq: 0 });
    await settle();
    expect(sender.ackSeq).toBe(2);
    expect(sender.durableSeq).toBe(2);
  });

  it('packs two 100 ms frames into one chunk and a lone last frame into one at flush', async () => {
    const { io, sender } = await started();
    sender.pushFrame(new Uint8Array([1, 2]).buffer);
    expect(io.sent()).toEqual([]);
    expect(sender.heldMs()).toBe(100);
    sender.pushFrame(new Uint8Array([3, 4]).buffer);
    sender.pushFrame(new Uint8Array([5, 6]).buffer);
    sender.flush();
    expect(io.chunks.map((c) => c.bytes)).toEqual([[1, 2, 3, 4], [5, 6]]);
    expect(sender.heldMs()).toBe(400); // two chunks of 200 ms, unacknowledged
  });
});

describe('ChunkSender: sending', () => {
  it(`has at most ${MAX_IN_FLIGHT} chunks unacknowledged and sends the rest, oldest first, as acks come`, async () => {
    const { io, sender } = await started();
    for (let i = 0; i < MAX_IN_FLIGHT + 5; i++) sender.queue(chunk(i));
    expect(io.sent()).toEqual([...Array(MAX_IN_FLIGHT).keys()]);
    io.chunks[0]!.answer({ ok: true, ackSeq: 0, durableSeq: 0 });
    await settle();
    expect(io.sent().slice(MAX_IN_FLIGHT)).toEqual([10]);
    io.chunks[1]!.answer({ ok: true, ackSeq: 1, durableSeq: 1 });
    await settle();
    expect(io.sent().slice(MAX_IN_FLIGHT)).toEqual([10, 11]);
  });

  it('pump() (Stop waits with it every 200 ms) sends what is not yet in flight, never a chunk a second time', async () => {
    const { io, sender } = await started();
    io.socket.up = false;
    sender.queue(chunk(0));
    io.socket.up = true;
    sender.queue(chunk(1));
    sender.pump();
    sender.pump();
    expect(io.sent()).toEqual([1, 0]);
    io.chunks[0]!.fail(); // chunk 1's ack timed out: the next pump sends it again
    await settle();
    sender.pump();
    expect(io.sent()).toEqual([1, 0, 1]);
  });

  it('sends nothing while disconnected and keeps it for the resume', async () => {
    const { io, sender } = await started();
    io.socket.up = false;
    sender.queue(chunk(0));
    expect(io.sent()).toEqual([]);
    expect(sender.heldMs()).toBe(200);
  });

  it('resends from the ackSeq a sequence_gap refusal names', async () => {
    const { io, sender } = await started();
    for (let i = 0; i < 3; i++) sender.queue(chunk(i));
    io.chunks[2]!.answer({ ok: false, error: { code: 'sequence_gap', message: 'gap' }, ackSeq: 0 } as ChunkAck);
    await settle();
    expect(sender.ackSeq).toBe(0);
    expect(io.sent().slice(3)).toEqual([1, 2]);
  });

  it('a chunk whose ack timed out frees its window slot and is not resent before the resume', async () => {
    const { io, sender } = await started();
    for (let i = 0; i < MAX_IN_FLIGHT + 1; i++) sender.queue(chunk(i));
    io.chunks[0]!.fail();
    await settle();
    expect(sender.inFlight).toBe(MAX_IN_FLIGHT - 1);
    expect(io.sent()).toEqual([...Array(MAX_IN_FLIGHT).keys()]);
    expect(sender.heldMs()).toBe((MAX_IN_FLIGHT + 1) * 200);
  });

  it('tells the page about a refusal worth showing, and not about the end of the session', async () => {
    const { io, sender, refused } = await started();
    sender.queue(chunk(0));
    sender.queue(chunk(1));
    io.chunks[0]!.answer({ ok: false, error: { code: 'storage_unavailable', message: 'x' } });
    io.chunks[1]!.answer({ ok: false, error: { code: 'session_ended', message: 'x' } });
    await settle();
    expect(refused).toEqual(['storage_unavailable']);
  });
});

describe('ChunkSender: resume', () => {
  it('resumes with lastSeq and resends from the server\'s ackSeq + 1, in order', async () => {
    const { io, sender } = await started();
    io.socket.up = false;
    for (let i = 0; i < 4; i++) sender.queue(chunk(i));
    io.socket.up = true;
    io.answerResume({ ok: true, ackSeq: 1, durableSeq: 1 });
    await sender.resume();
    expect(io.resumes).toEqual([{ sessionId: 's-1', lastSeq: 3 }]);
    expect(io.sent()).toEqual([2, 3]);
  });

  it('after the task holding acknowledged chunks died, resends what was kept past the new ackSeq', async () => {
    const { io, disk, sender } = await started();
    for (let i = 0; i < 5; i++) sender.queue(chunk(i));
    io.chunks[4]!.answer({ ok: true, ackSeq: 4, durableSeq: 1 });
    await settle();
    expect(sender.drained).toBe(true);
    // Another task continues from the checkpoints: it has chunks up to 1 only.
    io.answerResume({ ok: true, ackSeq: 1, durableSeq: 1 });
    await sender.resume();
    expect(io.sent().slice(5)).toEqual([2, 3, 4]);
    expect(io.chunks.slice(5).map((c) => c.bytes)).toEqual([[2, 2], [3, 3], [4, 4]]);
    expect([...disk.chunks.keys()]).toEqual([2, 3, 4]);
  });

  it('declares chunks this page no longer holds (lost before they reached the store) as one gap, then sends the rest', async () => {
    const io = fakeSocket();
    const disk = fakeStore();
    const sender = new ChunkSender({ socket: () => io.socket, store: disk.store });
    sender.restore(meta, 7, [
      { seq: 5, data: chunk(5).buffer },
      { seq: 6, data: chunk(6).buffer },
    ]);
    io.answerResume({ ok: true, ackSeq: 2, durableSeq: 2 });
    await sender.resume();
    expect(io.gaps).toEqual([{ fromSeq: 3, toSeq: 4, durationMs: 400 }]);
    expect(sender.ackSeq).toBe(4);
    expect(io.sent()).toEqual([5, 6]);
  });

  it('throws the server\'s refusal with its code', async () => {
    const { io, sender } = await started();
    io.answerResume({ ok: false, error: { code: 'session_moving', message: 'moving' } });
    await expect(sender.resume()).rejects.toBeInstanceOf(RefusedError);
    await expect(sender.resume()).rejects.toMatchObject({ code: 'session_moving' });
  });

  it('waits out a moving session with a backoff doubling from 500 ms to 5 s, for 20 attempts; gives up on an ended one unless moving', () => {
    expect([0, 1, 2, 3, 4, 19].map((a) => resumeRetryDelay('session_moving', a, false))).toEqual([500, 1000, 2000, 4000, 5000, 5000]);
    expect(resumeRetryDelay('session_moving', 20, false)).toBeNull();
    expect(resumeRetryDelay('too_many_sessions', 0, false)).toBe(500);
    expect(resumeRetryDelay('session_not_found', 0, false)).toBeNull();
    expect(resumeRetryDelay('session_not_found', 0, true)).toBe(500);
    expect(resumeRetryDelay('session_ended', 3, true)).toBe(4000);
    expect(resumeRetryDelay(undefined, 0, true)).toBeNull();
  });

  it('forgets everything at the end of the session, in memory and in the store', async () => {
    const { io, disk, sender } = await started();
    io.socket.up = false;
    sender.queue(chunk(0));
    sender.end();
    await settle();
    expect(sender.sessionId).toBeNull();
    expect(sender.heldMs()).toBe(0);
    expect(disk.cleared()).toBe(1);
    sender.queue(chunk(1));
    expect(sender.heldMs()).toBe(0);
  });
});
