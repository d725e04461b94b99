import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PrimaryProber, type ProbeTarget } from '../../../src/transcription/primary-prober.js';

/** A session on the fallback whose probes the test answers: `up` decides, `slowMs` delays the answer. */
function target(name: string, log: string[], o: { up?: () => boolean; slowMs?: number } = {}): ProbeTarget {
  return {
    probe: async () => {
      log.push(`${name}@${Date.now() - 1_000_000}`);
      if (o.slowMs) await new Promise((r) => setTimeout(r, o.slowMs));
      return o.up?.() ?? false;
    },
  };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('PrimaryProber', () => {
  it('probes one waiting session per interval, in turn', async () => {
    const log: string[] = [];
    const p = new PrimaryProber(2000);
    p.add(target('a', log));
    p.add(target('b', log));
    p.add(target('c', log));
    await vi.advanceTimersByTimeAsync(1999);
    expect(log).toEqual([]);
    await vi.advanceTimersByTimeAsync(6001);
    expect(log).toEqual(['a@2000', 'b@4000', 'c@6000', 'a@8000']);
    p.close();
  });

  it('waits for a slow probe before the next interval starts: never two probes at once', async () => {
    const log: string[] = [];
    const p = new PrimaryProber(1000);
    p.add(target('a', log, { slowMs: 2500 }));
    await vi.advanceTimersByTimeAsync(1500);
    p.add(target('b', log)); // joins while a's probe is out
    await vi.advanceTimersByTimeAsync(3500);
    // a at 1 s answers at 3.5 s; the next probe comes 1 s after that (a again: it went to the back
    // of the line before b joined), not 1 s after b joined.
    expect(log).toEqual(['a@1000', 'a@4500']);
    p.close();
  });

  it('when a probe opens the primary, every other waiting session tries it at once', async () => {
    const log: string[] = [];
    const p = new PrimaryProber(2000);
    let up = false;
    const a = target('a', log, { up: () => up });
    p.add(a);
    p.add(target('b', log));
    p.add(target('c', log));
    up = true;
    await vi.advanceTimersByTimeAsync(2000);
    expect(log).toEqual(['a@2000', 'b@2000', 'c@2000']);
    p.close();
  });

  it('primaryUp(except) asks every waiting session but the one named', async () => {
    const log: string[] = [];
    const p = new PrimaryProber(60_000);
    const a = target('a', log);
    p.add(a);
    p.add(target('b', log));
    p.primaryUp(a);
    await vi.advanceTimersByTimeAsync(0);
    expect(log).toEqual(['b@0']);
    p.close();
  });

  it('stops probing when the last session leaves, and after close', async () => {
    const log: string[] = [];
    const p = new PrimaryProber(1000);
    const a = target('a', log);
    p.add(a);
    p.remove(a);
    await vi.advanceTimersByTimeAsync(5000);
    expect(log).toEqual([]);
    p.add(a);
    p.close();
    p.add(a);
    await vi.advanceTimersByTimeAsync(5000);
    expect(log).toEqual([]);
  });
});
