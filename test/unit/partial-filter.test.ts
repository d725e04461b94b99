import { describe, expect, it } from 'vitest';
import { PartialFilter } from '../../src/dictation/partial-filter.js';
import type { TranscriptResult } from '../../src/transcription/port.js';

const p = (segmentId: string, text: string): TranscriptResult => ({ kind: 'partial', segmentId, text, startMs: 0, endMs: 100 });
const f = (segmentId: string, text: string): TranscriptResult => ({ kind: 'final', segmentId, text, startMs: 0, endMs: 100 });

/** A filter on a hand-driven clock, so the rate limit is tested without waiting. */
function harness() {
  let now = 0;
  const sent: string[] = [];
  const filter = new PartialFilter((r) => sent.push(`${r.segmentId}:${r.text}`), 5, () => now);
  return { filter, sent, advance: (ms: number) => (now += ms) };
}

describe('PartialFilter', () => {
  it('never re-sends an unchanged partial', () => {
    const { filter, sent, advance } = harness();
    filter.partial(p('a', 'chest'));
    advance(1000);
    filter.partial(p('a', 'chest'));
    advance(1000);
    filter.partial(p('a', 'chest'));
    expect(sent).toEqual(['a:chest']);
  });

  it('sends at most 5 partials a second, the latest text winning on the trailing edge', async () => {
    let now = 0;
    const sent: string[] = [];
    const filter = new PartialFilter((r) => sent.push(r.text), 5, () => now);
    for (let i = 1; i <= 20; i++) {
      filter.partial(p('a', `word${i}`)); // 20 updates within 100 ms
      now += 5;
    }
    expect(sent).toEqual(['word1']);
    now = 200;
    await new Promise((r) => setTimeout(r, 250)); // the trailing-edge timer fires
    expect(sent).toEqual(['word1', 'word20']);
    filter.close();
  });

  it('drops partials of a segment once its final arrived, and reports a repeated final', () => {
    const { filter, sent, advance } = harness();
    filter.partial(p('a', 'short of'));
    expect(filter.final(f('a', 'short of breath'))).toBe(true);
    advance(1000);
    filter.partial(p('a', 'short of breath when'));
    expect(filter.final(f('a', 'short of breath'))).toBe(false);
    expect(sent).toEqual(['a:short of']);
  });

  it('cancels a pending partial when its final arrives first', async () => {
    const { filter, sent } = harness();
    filter.partial(p('a', 'one'));
    filter.partial(p('a', 'one two')); // throttled, pending
    filter.final(f('a', 'one two three'));
    await new Promise((r) => setTimeout(r, 250));
    expect(sent).toEqual(['a:one']);
  });

  it('flushes the previous segment when a new one begins', () => {
    const { filter, sent, advance } = harness();
    filter.partial(p('a', 'one'));
    advance(50);
    filter.partial(p('a', 'one two')); // pending
    advance(50);
    filter.partial(p('b', 'next')); // a's latest goes out first
    expect(sent.slice(0, 2)).toEqual(['a:one', 'a:one two']);
    filter.close();
  });
});
