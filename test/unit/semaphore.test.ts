import { describe, expect, it } from 'vitest';
import { Semaphore } from '../../src/lib/semaphore.js';

/** A promise with its resolve/reject handles, to hold a task open. */
function gate<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('Semaphore', () => {
  it('runs at most `limit` tasks at once and starts the waiters in the order they asked', async () => {
    const sem = new Semaphore(2);
    const gates = Array.from({ length: 6 }, () => gate());
    const started: number[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const runs = gates.map((g, i) =>
      sem.run(async () => {
        started.push(i);
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await g.promise;
        inFlight--;
        return i;
      }),
    );
    await tick();
    expect(started).toEqual([0, 1]);
    expect(sem.waiting).toBe(4);
    // Finish out of order: the freed slot still goes to the oldest waiter.
    gates[1]!.resolve();
    await tick();
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.resolve();
    await tick();
    expect(started).toEqual([0, 1, 2, 3]);
    for (const g of gates) g.resolve();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(maxInFlight).toBe(2);
    expect(sem.running).toBe(0);
  });

  it('releases the slot when the task throws or rejects, and passes the error on', async () => {
    const sem = new Semaphore(1);
    await expect(sem.run(() => Promise.reject(new Error('upload failed')))).rejects.toThrow('upload failed');
    await expect(
      sem.run(() => {
        throw new Error('read failed');
      }),
    ).rejects.toThrow('read failed');
    expect(sem.running).toBe(0);
    await expect(sem.run(async () => 'next')).resolves.toBe('next');
  });

  it('an aborted waiter leaves the queue without running, and the others keep their order', async () => {
    const sem = new Semaphore(1);
    const hold = gate();
    const started: string[] = [];
    const holder = sem.run(() => hold.promise);
    const ac = new AbortController();
    const aborted = sem.run(() => {
      started.push('aborted');
    }, ac.signal);
    const later = sem.run(() => {
      started.push('later');
    });
    ac.abort(new Error('writer detached'));
    await expect(aborted).rejects.toThrow('writer detached');
    expect(sem.waiting).toBe(1);
    hold.resolve();
    await Promise.all([holder, later]);
    expect(started).toEqual(['later']);
    expect(sem.running).toBe(0);
    // Already aborted: refused at once.
    await expect(sem.run(() => 'never', ac.signal)).rejects.toThrow('writer detached');
  });

  it('refuses a limit below 1 or not an integer; Infinity means no limit', () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
    expect(() => new Semaphore(1.5)).toThrow(RangeError);
    expect(() => new Semaphore(Number.NaN)).toThrow(RangeError);
    expect(new Semaphore(Infinity).limit).toBe(Infinity);
  });
});
