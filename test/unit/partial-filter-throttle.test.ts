import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PartialFilter } from '../../src/dictation/partial-filter.js';
import type { TranscriptResult } from '../../src/transcription/port.js';

const p = (segmentId: string, text: string): TranscriptResult => ({ kind: 'partial', segmentId, text, startMs: 0, endMs: 100 });
const f = (segmentId: string, text: string): TranscriptResult => ({ kind: 'final', segmentId, text, startMs: 0, endMs: 100 });

beforeEach(() => {
  vi.useFakeTimers({ now: 0, toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** A filter whose clock is the fake timers' clock; `sent` records `segment:text@ms`. */
function harness(maxPerSecond?: number) {
  const sent: string[] = [];
  const emit = (r: TranscriptResult) => sent.push(`${r.segmentId}:${r.text}@${Date.now()}`);
  const filter = maxPerSecond === undefined ? new PartialFilter(emit) : new PartialFilter(emit, maxPerSecond, () => Date.now());
  return { filter, sent };
}

describe('PartialFilter throttle (fake timers)', () => {
  it('sends partials that arrive at least 200 ms apart at once, every one (5 per second by default, performance clock)', () => {
    const { filter, sent } = harness();
    for (let i = 0; i < 6; i++) {
      filter.partial(p('a', `w${i}`));
      vi.advanceTimersByTime(250);
    }
    expect(sent).toEqual(['a:w0@0', 'a:w1@250', 'a:w2@500', 'a:w3@750', 'a:w4@1000', 'a:w5@1250']);
  });

  it('holds a partial that comes too soon until exactly 200 ms after the last one sent, latest text winning', () => {
    const { filter, sent } = harness(5);
    filter.partial(p('a', 'one'));
    vi.advanceTimersByTime(50);
    filter.partial(p('a', 'one two'));
    vi.advanceTimersByTime(50);
    filter.partial(p('a', 'one two three'));
    vi.advanceTimersByTime(99);
    expect(sent).toEqual(['a:one@0']);
    vi.advanceTimersByTime(1);
    expect(sent).toEqual(['a:one@0', 'a:one two three@200']);
    vi.advanceTimersByTime(1000);
    expect(sent).toHaveLength(2);
  });

  it('sends a partial arriving exactly at the interval at once', () => {
    const { filter, sent } = harness(5);
    filter.partial(p('a', 'one'));
    vi.advanceTimersByTime(200);
    filter.partial(p('a', 'two'));
    expect(sent).toEqual(['a:one@0', 'a:two@200']);
  });

  it('keeps to at most maxPerSecond over a steady flood (2 per second: one every 500 ms)', () => {
    const { filter, sent } = harness(2);
    for (let t = 0; t < 2000; t += 20) {
      filter.partial(p('a', `t${t}`));
      vi.advanceTimersByTime(20);
    }
    vi.advanceTimersByTime(1000);
    expect(sent.map((s) => Number(s.split('@')[1]))).toEqual([0, 500, 1000, 1500, 2000]);
    expect(sent.at(-1)).toBe('a:t1980@2000');
  });

  it('drops a pending partial when the text goes back to what was last sent', () => {
    const { filter, sent } = harness(5);
    filter.partial(p('a', 'chest'));
    filter.partial(p('a', 'chest pain'));
    filter.partial(p('a', 'chest'));
    vi.advanceTimersByTime(1000);
    expect(sent).toEqual(['a:chest@0']);
  });

  it('queues behind a pending timer even when the clock says the interval has passed, so order is kept', () => {
    let now = 0;
    const sent: string[] = [];
    const filter = new PartialFilter((r) => sent.push(r.text), 5, () => now);
    filter.partial(p('a', 'one'));
    now = 50;
    filter.partial(p('a', 'one two')); // pending, timer for 150 ms
    now = 300; // the clock moved but the timer has not fired yet
    filter.partial(p('a', 'one two three'));
    expect(sent).toEqual(['one']);
    vi.advanceTimersByTime(150);
    expect(sent).toEqual(['one', 'one two three']);
  });

  it('a final for another segment leaves the pending partial alone; its own final cancels it', () => {
    const { filter, sent } = harness(5);
    filter.partial(p('a', 'one'));
    filter.partial(p('a', 'one two'));
    expect(filter.final(f('b', 'earlier'))).toBe(true);
    vi.advanceTimersByTime(200);
    expect(sent).toEqual(['a:one@0', 'a:one two@200']);
    filter.partial(p('a', 'one two three'));
    expect(filter.final(f('a', 'one two three.'))).toBe(true);
    expect(filter.final(f('a', 'one two three.'))).toBe(false);
    vi.advanceTimersByTime(1000);
    filter.partial(p('a', 'late'));
    expect(sent).toEqual(['a:one@0', 'a:one two@200']);
  });

  it('flush() sends the pending partial now and only once; close() drops it', () => {
    const { filter, sent } = harness(5);
    filter.flush();
    filter.partial(p('a', 'one'));
    filter.partial(p('a', 'one two'));
    vi.advanceTimersByTime(10);
    filter.flush();
    expect(sent).toEqual(['a:one@0', 'a:one two@10']);
    vi.advanceTimersByTime(1000);
    expect(sent).toHaveLength(2);
    filter.partial(p('a', 'x'));
    filter.partial(p('a', 'x y'));
    filter.close();
    vi.advanceTimersByTime(1000);
    expect(sent).toEqual(['a:one@0', 'a:one two@10', 'a:x@1010']);
  });

  it('sends a new segment at once after flushing the previous one, and throttles from there', () => {
    const { filter, sent } = harness(5);
    filter.partial(p('a', 'one'));
    vi.advanceTimersByTime(20);
    filter.partial(p('a', 'one two'));
    vi.advanceTimersByTime(20);
    filter.partial(p('b', 'next'));
    vi.advanceTimersByTime(200);
    expect(sent).toEqual(['a:one@0', 'a:one two@40', 'b:next@240']);
  });
});
