import { describe, expect, it } from 'vitest';
import { ResultQueue } from '../../../src/transcription/result-queue.js';

/** Whether a promise has settled after the microtasks queued so far (and a macrotask turn). */
async function state<T>(p: Promise<T>): Promise<'pending' | 'resolved' | 'rejected'> {
  let s: 'pending' | 'resolved' | 'rejected' = 'pending';
  p.then(
    () => (s = 'resolved'),
    () => (s = 'rejected'),
  );
  await new Promise((r) => setImmediate(r));
  return s;
}

describe('ResultQueue', () => {
  it('makes a consumer of an empty open queue wait for the next result instead of ending', async () => {
    const q = new ResultQueue<string>();
    const it = q[Symbol.asyncIterator]();
    const next = it.next();
    expect(await state(next)).toBe('pending');
    q.push('a');
    expect(await next).toEqual({ value: 'a', done: false });
    const again = it.next();
    expect(await state(again)).toBe('pending');
    q.close();
    expect(await again).toEqual({ value: undefined, done: true });
  });

  it('delivers falsy results (0, empty string) and keeps their order', async () => {
    const q = new ResultQueue<number | string>();
    q.push(0);
    q.push('');
    q.push(2);
    q.close();
    const got: Array<number | string> = [];
    for await (const r of q) got.push(r);
    expect(got).toEqual([0, '', 2]);
  });

  it('ignores pushes and state changes after close, fail or abort', async () => {
    const closed = new ResultQueue<number>();
    expect(closed.isOpen).toBe(true);
    closed.push(1);
    closed.close();
    expect(closed.isOpen).toBe(false);
    closed.push(2);
    closed.fail(new Error('late'));
    const got: number[] = [];
    for await (const r of closed) got.push(r);
    expect(got).toEqual([1]);
    await expect(closed.settled()).resolves.toBeUndefined();

    const failed = new ResultQueue<number>();
    const err = new Error('engine');
    failed.fail(err);
    expect(failed.isOpen).toBe(false);
    failed.close();
    failed.fail(new Error('other'));
    await expect(failed[Symbol.asyncIterator]().next()).rejects.toBe(err);

    const aborted = new ResultQueue<number>();
    aborted.abort();
    expect(aborted.isOpen).toBe(false);
    aborted.push(1);
    aborted.close();
    expect(await aborted[Symbol.asyncIterator]().next()).toEqual({ value: undefined, done: true });
  });

  it('settles at once after close when nobody iterates, yet a late consumer still gets every result', async () => {
    const q = new ResultQueue<number>();
    q.push(1);
    const s = q.settled();
    expect(await state(s)).toBe('pending');
    q.close();
    expect(await state(s)).toBe('resolved');
    const got: number[] = [];
    for await (const r of q) got.push(r);
    expect(got).toEqual([1]);
    await expect(q.settled()).resolves.toBeUndefined();
  });

  it('rejects settled with the failure when nobody iterates, and again for a caller after the consumer saw it', async () => {
    const q = new ResultQueue<number>();
    const err = new Error('engine');
    const early = q.settled();
    q.fail(err);
    await expect(early).rejects.toBe(err);
    const it = q[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toBe(err);
    // Reported once through iteration; later calls end.
    expect(await it.next()).toEqual({ value: undefined, done: true });
    await expect(q.settled()).rejects.toBe(err);
  });

  it('wakes a waiting consumer with the failure', async () => {
    const q = new ResultQueue<number>();
    const err = new Error('engine');
    const it = q[Symbol.asyncIterator]();
    const waiting = it.next();
    const s = q.settled();
    q.fail(err);
    await expect(waiting).rejects.toBe(err);
    await expect(s).rejects.toBe(err);
  });

  it('does not settle while the consumer still has results to take', async () => {
    const q = new ResultQueue<number>();
    const it = q[Symbol.asyncIterator]();
    q.push(1);
    q.close();
    const s = q.settled();
    expect(await state(s)).toBe('pending');
    await it.next();
    expect(await state(s)).toBe('pending');
    await it.next();
    expect(await state(s)).toBe('resolved');
  });

  it('settles (never rejects) when the consumer stops early, and drops what is left', async () => {
    const q = new ResultQueue<number>();
    q.push(1);
    q.push(2);
    const s = q.settled();
    for await (const r of q) {
      expect(r).toBe(1);
      break;
    }
    expect(q.isOpen).toBe(false);
    await expect(s).resolves.toBeUndefined();
    expect(await q[Symbol.asyncIterator]().next()).toEqual({ value: undefined, done: true });
  });

  it('abort after a failure settles without rejecting and ends a waiting consumer', async () => {
    const q = new ResultQueue<number>();
    const it = q[Symbol.asyncIterator]();
    const waiting = it.next();
    q.abort();
    expect(await waiting).toEqual({ value: undefined, done: true });
    await expect(q.settled()).resolves.toBeUndefined();

    const failed = new ResultQueue<number>();
    failed.push(1);
    failed.fail(new Error('x'));
    failed.abort();
    await expect(failed.settled()).resolves.toBeUndefined();
    expect(await failed[Symbol.asyncIterator]().next()).toEqual({ value: undefined, done: true });
  });

  it('abort settles at once while the consumer is busy with a result (an aborted stream\'s end() must not wait for it)', async () => {
    const q = new ResultQueue<number>();
    const it = q[Symbol.asyncIterator]();
    q.push(1);
    expect(await it.next()).toEqual({ value: 1, done: false }); // the consumer now handles 1, no next() pending
    const s = q.settled();
    expect(await state(s)).toBe('pending');
    q.abort();
    expect(await state(s)).toBe('resolved');
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('abort after close settles at once though results were still buffered for a consumer', async () => {
    const q = new ResultQueue<number>();
    const it = q[Symbol.asyncIterator]();
    q.push(1);
    q.push(2);
    expect(await it.next()).toEqual({ value: 1, done: false });
    q.close();
    const s = q.settled();
    expect(await state(s)).toBe('pending'); // 2 is still to be taken
    q.abort();
    expect(await state(s)).toBe('resolved');
    expect(await it.next()).toEqual({ value: undefined, done: true }); // 2 was dropped
  });
});
