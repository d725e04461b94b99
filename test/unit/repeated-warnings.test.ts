import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import { RepeatedWarnings } from '../../src/lib/repeated-warnings.js';
import { LogCapture } from '../support/log-capture.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('RepeatedWarnings', () => {
  it('writes the first of a message at once and the rest as one line with their count when the window closes', () => {
    vi.useFakeTimers();
    const logs = new LogCapture();
    const w = new RepeatedWarnings(createLogger({ level: 'info' }, logs), 1000);
    for (let i = 0; i < 50; i++) w.warn({ userId: `u${i}` }, 'user_session_limit_reached');
    w.warn({ other: 1 }, 'engine_start_failed');
    expect(logs.entries.map((e) => [e.msg, e.userId ?? e.other, e.repeated])).toEqual([
      ['user_session_limit_reached', 'u0', undefined],
      ['engine_start_failed', 1, undefined],
    ]);
    vi.advanceTimersByTime(1000);
    expect(logs.entries.slice(2)).toEqual([expect.objectContaining({ level: 'warn', msg: 'user_session_limit_reached', userId: 'u49', repeated: 49, windowMs: 1000 })]);
    // A new window starts with a line of its own; a window without repeats adds nothing.
    w.warn({ userId: 'u50' }, 'user_session_limit_reached');
    vi.advanceTimersByTime(5000);
    expect(logs.entries.slice(3).map((e) => [e.userId, e.repeated])).toEqual([['u50', undefined]]);
  });

  it('close() writes pending counts at once', () => {
    const logs = new LogCapture();
    const w = new RepeatedWarnings(createLogger({ level: 'info' }, logs), 60_000);
    w.warn({}, 'socket_auth_lookup_failed');
    w.warn({}, 'socket_auth_lookup_failed');
    w.warn({}, 'socket_auth_lookup_failed');
    w.close();
    expect(logs.entries.map((e) => e.repeated)).toEqual([undefined, 2]);
  });
});
