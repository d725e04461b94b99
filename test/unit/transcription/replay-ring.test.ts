import { describe, expect, it } from 'vitest';
import { FRAME_EPSILON_MS, ReplayRing } from '../../../src/transcription/replay-ring.js';

/** `ms` of 16 kHz s16le PCM, every byte `fill` (so frames can be told apart). */
function pcm(ms: number, fill = 0): Buffer {
  return Buffer.alloc(ms * 32, fill);
}

/** The ring's frames as [startMs, ms, first byte]. */
function frames(ring: ReplayRing): Array<[number, number, number]> {
  return [...ring].map((f) => [f.startMs, f.pcm!.length / 32, f.pcm![0]!]);
}

/** A ring holding ten 100 ms frames from `startMs`, frame i filled with i. */
function tenFrames(startMs = 0): ReplayRing {
  const ring = new ReplayRing(startMs);
  for (let i = 0; i < 10; i++) ring.push(pcm(100, i), i % 2 === 0);
  return ring;
}

describe('ReplayRing', () => {
  it('places each frame at the session time where the previous one ended, from the start offset', () => {
    const ring = new ReplayRing(5000);
    expect(ring.writtenMs).toBe(5000);
    expect(ring.startMs).toBe(5000); // empty: a replay starts at the write position
    const first = ring.push(pcm(100, 1), true);
    expect(first).toEqual({ startMs: 5000, ms: 100, pcm: pcm(100, 1), speech: true });
    ring.push(pcm(20, 2), false);
    ring.push(Buffer.alloc(16, 3), false); // 8 samples: half a millisecond
    expect(frames(ring)).toEqual([
      [5000, 100, 1],
      [5100, 20, 2],
      [5120, 0.5, 3],
    ]);
    expect(ring.writtenMs).toBe(5120.5);
    expect(ring.startMs).toBe(5000);
    expect(ring.length).toBe(3);
    expect([...ring].map((f) => f.speech)).toEqual([true, false, false]);
  });

  it('keeps a chunk\'s Opus packets as they are, at the write position, after PCM frames too', () => {
    const ring = new ReplayRing(1000);
    const head = { channels: 1, preSkip: 312, inputSampleRate: 48_000 };
    const packets = [{ data: Uint8Array.of(0x78, 1), samples48k: 960 }];
    expect(ring.pushOpus(packets, head, 200, true)).toEqual({ startMs: 1000, ms: 200, opus: { packets, head }, speech: true });
    ring.push(pcm(100, 7), false);
    const last = ring.pushOpus([], head, 60, false);
    expect(last).toEqual({ startMs: 1300, ms: 60, opus: { packets: [], head }, speech: false });
    expect([...ring].map((f) => [f.startMs, f.ms])).toEqual([
      [1000, 200],
      [1200, 100],
      [1300, 60],
    ]);
    expect(ring.writtenMs).toBe(1360);
  });

  it('keeps the frame holding the covered point and everything after it', () => {
    const ring = tenFrames();
    ring.dropCovered(250);
    expect(ring.startMs).toBe(200);
    expect(frames(ring)[0]).toEqual([200, 100, 2]);
    expect(ring.length).toBe(8);
    ring.dropCovered(250); // idempotent
    expect(ring.length).toBe(8);
    expect(ring.writtenMs).toBe(1000); // dropping never moves the write position
  });

  it(`counts a frame ending within ${FRAME_EPSILON_MS} ms past the covered point as covered, and not one ending later`, () => {
    const ring = tenFrames();
    ring.dropCovered(199 - 0.001); // frame 1 ends at 200: 1.001 ms past
    expect(ring.startMs).toBe(100);
    ring.dropCovered(199); // exactly 1 ms past: covered
    expect(ring.startMs).toBe(200);
    ring.dropCovered(300); // a final ending exactly at a frame boundary covers that frame
    expect(ring.startMs).toBe(300);
  });

  it('empties when everything is covered, and a replay then starts at the write position', () => {
    const ring = tenFrames(60_000);
    ring.dropCovered(61_000);
    expect(ring.length).toBe(0);
    expect(ring.startMs).toBe(61_000);
    ring.push(pcm(100, 9), true);
    expect(frames(ring)).toEqual([[61_000, 100, 9]]);
  });

  it('keepLast drops the oldest frames starting more than `ms` before the write position and says how much', () => {
    const ring = tenFrames();
    expect(ring.keepLast(1000)).toBe(0); // the first frame starts exactly 1000 ms back: kept
    expect(ring.length).toBe(10);
    expect(ring.keepLast(999)).toBe(100);
    expect(ring.startMs).toBe(100);
    expect(ring.keepLast(350)).toBe(600); // frames starting at 100..600 (400 ms back or more) go; 700 is 300 ms back
    expect(frames(ring)).toEqual([
      [700, 100, 7],
      [800, 100, 8],
      [900, 100, 9],
    ]);
    expect(ring.writtenMs).toBe(1000);
  });

  it('keepLast always keeps the newest frame, however long', () => {
    const ring = new ReplayRing();
    ring.push(pcm(100, 1), false);
    ring.push(pcm(5000, 2), false);
    expect(ring.keepLast(1000)).toBe(100);
    expect(frames(ring)).toEqual([[100, 5000, 2]]);
    expect(ring.keepLast(0)).toBe(0);
    expect(ring.length).toBe(1);
  });
});
