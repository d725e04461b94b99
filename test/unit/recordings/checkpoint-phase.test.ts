/**
 * Checkpoint timing (docs/recordings.md "Durable checkpoints"): sessions that start together must
 * not write their checkpoints together. At 100 sessions the same-phase writes were 100 PutObjects
 * and 100 INSERTs in the same few milliseconds of every interval, a 200-300 ms stall of the event
 * loop (BENCHMARKS.md). The store and the repository are fakes at their ports; time is fake.
 */
import { createHash, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../../src/lib/logger.js';
import { CheckpointWriter, phaseOf, type CheckpointDeps } from '../../../src/recordings/checkpoints.js';
import { MemoryObjectStore } from '../../support/memory-object-store.js';

const INTERVAL_MS = 5000;
const CHUNK_MS = 200;

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** A UUID-shaped id from `i`: the same every run, its hex digits spread like a random one's. */
function fixedUuid(i: number): string {
  const h = createHash('sha256').update(`checkpoint-phase-${i}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** N writers started in the same instant, fed a chunk every CHUNK_MS for `seconds`. */
async function run(sessions: number, seconds: number) {
  const puts: number[] = [];
  const store = new (class extends MemoryObjectStore {
    override async put(key: string, body: Buffer, contentType: string): Promise<void> {
      puts.push(Date.now());
      await super.put(key, body, contentType);
    }
  })();
  const deps: CheckpointDeps = {
    store,
    repo: { insert: async () => true } as unknown as CheckpointDeps['repo'],
    logger: createLogger({ level: 'silent' }),
    retry: { baseMs: 1, maxMs: 1, maxAttempts: 1 },
    intervalMs: INTERVAL_MS,
  };
  const lags: number[] = [];
  // Fixed ids (random UUIDs made the busiest window a matter of luck: 36 of a 35 limit once in CI).
  const ids = Array.from({ length: sessions }, (_, i) => fixedUuid(i));
  const writers = Array.from({ length: sessions }, (_, i) => {
    const w = new CheckpointWriter(ids[i]!, 'pcm', -1, deps);
    const addedAt: number[] = [];
    let durable = -1;
    w.on('durable', (lastSeq) => {
      for (let s = durable + 1; s <= lastSeq; s++) lags.push(Date.now() - addedAt[s]!);
      durable = lastSeq;
    });
    return { w, addedAt };
  });
  const t0 = Date.now();
  for (let seq = 0; seq < (seconds * 1000) / CHUNK_MS; seq++) {
    // Every session's chunk in the same instant: the herd at its worst.
    for (const { w, addedAt } of writers) {
      addedAt[seq] = Date.now();
      w.add(seq, Buffer.alloc(6400));
    }
    await vi.advanceTimersByTimeAsync(CHUNK_MS);
  }
  for (const { w } of writers) w.close();
  return { puts: puts.map((t) => t - t0), lags };
}

describe('CheckpointWriter timing', () => {
  it('spreads the checkpoints of 100 sessions that start together over the interval instead of writing them in the same moment', async () => {
    const { puts, lags } = await run(100, 12);
    expect(puts.length).toBeGreaterThanOrEqual(100);
    // The busiest 500 ms of the run: evenly spread, 100 writes per 5 s are 10 per 500 ms; the first
    // round is packed into the second half of the first interval (20). Same-phase writes put 100
    // into the same millisecond.
    let busiest = 0;
    for (const start of puts) busiest = Math.max(busiest, puts.filter((t) => t >= start && t < start + 500).length);
    expect(busiest).toBeLessThanOrEqual(35);
    // No chunk waits longer than the interval for its checkpoint (writes are instant here).
    expect(Math.max(...lags)).toBeLessThanOrEqual(INTERVAL_MS);
    expect(lags.length).toBeGreaterThan(100 * 40);
  });

  it('takes the phase from the transcription id: the same id always, ids spread evenly over [0, 1)', () => {
    const id = randomUUID();
    expect(phaseOf(id)).toBe(phaseOf(id));
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 2000; i++) buckets[Math.floor(phaseOf(randomUUID()) * 10)]!++;
    for (const b of buckets) expect(b).toBeGreaterThan(120);
  });
});
