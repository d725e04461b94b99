import { describe, expect, it } from 'vitest';
import {
  asProviderError,
  BUDGET_REFILL_MS,
  classifyStreamEnd,
  decide,
  decideFirstOpen,
  NO_ATTEMPTS,
  OUTAGE_CODES,
  type Attempts,
  type Decision,
  type Failure,
} from '../../../src/transcription/failover.js';
import { ProviderError } from '../../../src/transcription/port.js';

const NOW = 1_000_000;
/** Small numbers so every boundary is a short row: budget 3, backoff 250 doubling to 2000, failover after 2. */
const O = { maxRetries: 3, backoffBaseMs: 250, backoffMaxMs: 2000, failoverAfter: 2 };

const fail = (role: Failure['role'], phase: Failure['phase'], retryable = true, code?: string): Failure => ({ role, phase, retryable, ...(code ? { code } : {}) });
const before = (retries: number, consecutive: number, lastFailureAt = NOW - 1000): Attempts => ({ retries, consecutive, lastFailureAt });

const reconnect = (role: 'primary' | 'fallback', delayMs: number): Decision => ({ action: 'reconnect', role, delayMs });
const failover: Decision = { action: 'failover', role: 'fallback', delayMs: 0 };
const tryPrimary = (delayMs: number): Decision => ({ action: 'try_primary', role: 'primary', delayMs });
const giveUp: Decision = { action: 'give_up' };

describe('decide (failover decision of the resilient stream)', () => {
  describe('without a fallback', () => {
    it.each<[string, Failure, Attempts, Decision]>([
      ['first failure of a running stream: reconnect at once', fail('primary', 'stream'), NO_ATTEMPTS, reconnect('primary', 0)],
      ['first failure at open: reconnect after the base backoff', fail('primary', 'open'), NO_ATTEMPTS, reconnect('primary', 250)],
      ['second in a row while running: base backoff', fail('primary', 'stream'), before(1, 1), reconnect('primary', 250)],
      ['third in a row: doubled', fail('primary', 'stream'), before(1, 2), reconnect('primary', 500)],
      ['fourth in a row: doubled again', fail('primary', 'open'), before(1, 3), reconnect('primary', 1000)],
      ['fifth in a row: 2000, exactly the cap', fail('primary', 'open'), before(1, 4), reconnect('primary', 2000)],
      ['sixth in a row: 4000 capped to 2000', fail('primary', 'open'), before(1, 5), reconnect('primary', 2000)],
      ['an outage code at open is retried, not given up on', fail('primary', 'open', true, 'LimitExceededException'), NO_ATTEMPTS, reconnect('primary', 250)],
      ['not retryable: give up', fail('primary', 'stream', false, 'BadRequestException'), NO_ATTEMPTS, giveUp],
      ['not retryable at open: give up', fail('primary', 'open', false), NO_ATTEMPTS, giveUp],
      ['failure number maxRetries (3): still reconnects', fail('primary', 'stream'), before(2, 0), reconnect('primary', 0)],
      ['failure number maxRetries + 1 (4): budget spent, give up', fail('primary', 'stream'), before(3, 0), giveUp],
      ['budget spent exactly BUDGET_REFILL_MS after the last failure: not refilled yet', fail('primary', 'stream'), before(3, 0, NOW - BUDGET_REFILL_MS), giveUp],
      ['budget spent 1 ms more than BUDGET_REFILL_MS after the last failure: refilled', fail('primary', 'stream'), before(3, 0, NOW - BUDGET_REFILL_MS - 1), reconnect('primary', 0)],
    ])('%s', (_name, failure, attempts, expected) => {
      expect(decide(failure, attempts, { hasFallback: false, ending: false, now: NOW }, O).decision).toEqual(expected);
    });
  });

  describe('primary failed, with a fallback', () => {
    it.each<[string, Failure, Attempts, Decision]>([
      ['first failure mid-stream (e.g. the stream-length LimitExceeded): reconnect to the primary at once', fail('primary', 'stream', true, 'LimitExceededException'), NO_ATTEMPTS, reconnect('primary', 0)],
      ['first failure at open with a non-outage code: reconnect after the backoff', fail('primary', 'open', true, 'InternalFailureException'), NO_ATTEMPTS, reconnect('primary', 250)],
      ['second failure in a row (failoverAfter 2): fail over', fail('primary', 'stream'), before(1, 1), failover],
      ['not retryable: fail over at once', fail('primary', 'stream', false, 'BadRequestException'), NO_ATTEMPTS, failover],
      ['budget spent: fail over', fail('primary', 'stream'), before(3, 0), failover],
      ['budget spent long ago: refilled, reconnect', fail('primary', 'stream'), before(3, 0, NOW - BUDGET_REFILL_MS - 1), reconnect('primary', 0)],
      ...[...OUTAGE_CODES].map((code): [string, Failure, Attempts, Decision] => [`${code} at open: fail over at once`, fail('primary', 'open', true, code), NO_ATTEMPTS, failover]),
      ['ServiceUnavailableException mid-stream: reconnect, not fail over', fail('primary', 'stream', true, 'ServiceUnavailableException'), NO_ATTEMPTS, reconnect('primary', 0)],
    ])('%s', (_name, failure, attempts, expected) => {
      expect(decide(failure, attempts, { hasFallback: true, ending: false, now: NOW }, O).decision).toEqual(expected);
    });

    it('fails over after failoverAfter consecutive failures, not one before', () => {
      const o = { ...O, failoverAfter: 3 };
      const ctx = { hasFallback: true, ending: false, now: NOW };
      expect(decide(fail('primary', 'stream'), before(1, 1), ctx, o).decision).toEqual(reconnect('primary', 250));
      expect(decide(fail('primary', 'stream'), before(2, 2), ctx, o).decision).toEqual(failover);
    });

    it('decides the same for the primary whether or not the end of audio was asked for', () => {
      const ending = { hasFallback: true, ending: true, now: NOW };
      expect(decide(fail('primary', 'stream'), NO_ATTEMPTS, ending, O).decision).toEqual(reconnect('primary', 0));
      expect(decide(fail('primary', 'open', true, 'ThrottlingException'), NO_ATTEMPTS, ending, O).decision).toEqual(failover);
    });
  });

  describe('fallback failed', () => {
    it.each<[string, Failure, Attempts, boolean, Decision]>([
      ['first failure while running: reconnect to the fallback at once', fail('fallback', 'stream'), NO_ATTEMPTS, false, reconnect('fallback', 0)],
      ['third in a row while running: reconnect to the fallback after the doubled backoff', fail('fallback', 'stream'), before(1, 2), false, reconnect('fallback', 500)],
      ['while running with the budget spent: still reconnect (the fallback is never given up for its budget)', fail('fallback', 'stream'), before(9, 0), false, reconnect('fallback', 0)],
      ['while running at the end of audio: reconnect to finish the last words', fail('fallback', 'stream'), NO_ATTEMPTS, true, reconnect('fallback', 0)],
      ['cannot be opened: try the primary after the backoff', fail('fallback', 'open'), before(1, 1), false, tryPrimary(250)],
      ['cannot be opened, fifth in a row: try the primary after 2000', fail('fallback', 'open'), before(1, 4), false, tryPrimary(2000)],
      ['not retryable while running, first failure: try the primary, never sooner than the base backoff', fail('fallback', 'stream', false), NO_ATTEMPTS, false, tryPrimary(250)],
      ['cannot be opened with the budget spent: try the primary anyway', fail('fallback', 'open'), before(9, 0), false, tryPrimary(250)],
      ['cannot be opened at the end of audio: give up (the repair pass covers the rest)', fail('fallback', 'open'), NO_ATTEMPTS, true, giveUp],
      ['not retryable at the end of audio: give up', fail('fallback', 'stream', false), NO_ATTEMPTS, true, giveUp],
    ])('%s', (_name, failure, attempts, ending, expected) => {
      expect(decide(failure, attempts, { hasFallback: true, ending, now: NOW }, O).decision).toEqual(expected);
    });
  });

  describe('the counters it returns', () => {
    it('counts the failure against the budget and the run, stamps it, and leaves the input alone', () => {
      const input = before(2, 1);
      const { attempts } = decide(fail('primary', 'stream'), input, { hasFallback: false, ending: false, now: NOW }, O);
      expect(attempts).toEqual({ retries: 3, consecutive: 2, lastFailureAt: NOW });
      expect(input).toEqual(before(2, 1));
    });

    it('restarts the budget (not the run) after more than BUDGET_REFILL_MS without failure', () => {
      expect(decide(fail('primary', 'stream'), before(7, 4, NOW - BUDGET_REFILL_MS - 1), { hasFallback: true, ending: false, now: NOW }, O).attempts).toEqual({ retries: 1, consecutive: 5, lastFailureAt: NOW });
      expect(decide(fail('primary', 'stream'), before(7, 4, NOW - BUDGET_REFILL_MS), { hasFallback: true, ending: false, now: NOW }, O).attempts).toEqual({ retries: 8, consecutive: 5, lastFailureAt: NOW });
    });

    it('spends a budget of 8 (the default) on the 9th failure within a minute of each other, without a fallback', () => {
      const o = { ...O, maxRetries: 8 };
      let attempts = NO_ATTEMPTS;
      const decisions: string[] = [];
      for (let i = 1; i <= 9; i++) {
        const r = decide(fail('primary', 'stream'), { ...attempts, consecutive: 0 }, { hasFallback: false, ending: false, now: NOW + i * 30_000 }, o);
        attempts = r.attempts;
        decisions.push(r.decision.action);
      }
      expect(decisions).toEqual([...Array(8).fill('reconnect'), 'give_up']);
    });
  });
});

describe('decideFirstOpen', () => {
  it.each([
    [true, true, failover],
    [true, false, giveUp],
    [false, true, giveUp],
    [false, false, giveUp],
  ] as const)('retryable=%s, fallback=%s', (retryable, hasFallback, expected) => {
    expect(decideFirstOpen({ retryable }, hasFallback)).toEqual(expected);
  });
});

describe('classifyStreamEnd', () => {
  const watchdog = new ProviderError('no result', { retryable: true, code: 'stream_stalled' });
  const refused = new ProviderError('429', { retryable: true, code: 'LimitExceededException', refusedAtOpen: true });
  const base = { error: undefined as unknown, probed: false, idleReleased: false, endAsked: false };

  it('switches to the primary when a probe opened it, whatever the fallback stream ended with', () => {
    expect(classifyStreamEnd({ ...base, probed: true, endAsked: true })).toEqual({ kind: 'switch_to_primary' });
    expect(classifyStreamEnd({ ...base, probed: true, error: new Error('x') })).toEqual({ kind: 'switch_to_primary' });
  });

  it('an idle release that ended cleanly waits for speech, even though its end was asked for', () => {
    expect(classifyStreamEnd({ ...base, idleReleased: true, endAsked: true })).toEqual({ kind: 'idle' });
  });

  it('a clean end that was asked for finishes the session', () => {
    expect(classifyStreamEnd({ ...base, endAsked: true })).toEqual({ kind: 'finished' });
  });

  it('a clean end nobody asked for is a retryable stream_ended_early while running', () => {
    const end = classifyStreamEnd(base);
    expect(end).toMatchObject({ kind: 'failed', phase: 'stream' });
    expect(end.kind === 'failed' && [end.error.code, end.error.retryable]).toEqual(['stream_ended_early', true]);
  });

  it('a stream the watchdog cut off failed with the watchdog error, not the abort it caused, even when asked to end', () => {
    expect(classifyStreamEnd({ ...base, cutOff: watchdog, error: new Error('aborted') })).toEqual({ kind: 'failed', error: watchdog, phase: 'stream' });
    expect(classifyStreamEnd({ ...base, cutOff: watchdog, endAsked: true })).toEqual({ kind: 'failed', error: watchdog, phase: 'stream' });
    expect(classifyStreamEnd({ ...base, cutOff: watchdog, idleReleased: true })).toEqual({ kind: 'failed', error: watchdog, phase: 'stream' });
  });

  it('a refusal that arrived after start() returned counts as a failure to open', () => {
    expect(classifyStreamEnd({ ...base, error: refused })).toEqual({ kind: 'failed', error: refused, phase: 'open' });
  });

  it('an error thrown while ending is still a failure', () => {
    expect(classifyStreamEnd({ ...base, endAsked: true, error: refused })).toMatchObject({ kind: 'failed' });
  });
});

describe('asProviderError', () => {
  it('keeps a ProviderError and makes anything else a retryable one with its code', () => {
    const pe = new ProviderError('x', { retryable: false, code: 'c' });
    expect(asProviderError(pe)).toBe(pe);
    const reset = asProviderError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    expect([reset.message, reset.retryable, reset.code]).toEqual(['socket hang up', true, 'ECONNRESET']);
    const odd = asProviderError(undefined);
    expect([odd.message, odd.retryable, odd.code]).toEqual(['engine failure', true, 'unknown']);
  });
});
