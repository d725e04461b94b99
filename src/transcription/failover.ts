/**
 * The failover decision of the resilient stream (resilient-stream.ts), pure: what to do after an
 * engine stream failed, given who failed, when, how, and how many attempts came before. No engine,
 * no clock (the caller passes `now`), no timers: every branch is a row in
 * test/unit/transcription/failover.test.ts.
 */
import { ProviderError } from './port.js';
import type { ResilienceOptions } from './resilience-options.js';

/** Which engine a stream belongs to. */
export type Role = 'primary' | 'fallback';

/** Where the failure happened: while opening a stream, or while it ran. */
export type Phase = 'open' | 'stream';

/** Provider codes meaning "the service is refusing or out": at open, hammering it again does not help. */
export const OUTAGE_CODES: ReadonlySet<string> = new Set(['LimitExceededException', 'ServiceUnavailableException', 'ThrottlingException', 'TooManyRequestsException']);

/** A minute without a failure refills the retry budget: a long session may reconnect many times. */
export const BUDGET_REFILL_MS = 60_000;

/** The attempt counters one session carries from failure to failure. */
export interface Attempts {
  /** Failures counted against `maxRetries` since the budget was last refilled. */
  retries: number;
  /** Failures without a final in between (the caller resets it on a final or a clean switch). */
  consecutive: number;
  /** Wall clock (ms) of the last failure; 0 before the first. */
  lastFailureAt: number;
}

export const NO_ATTEMPTS: Attempts = { retries: 0, consecutive: 0, lastFailureAt: 0 };

/** One failure, as the decision sees it. */
export interface Failure {
  role: Role;
  phase: Phase;
  retryable: boolean;
  code?: string;
}

/** What the session knows besides the failure. */
export interface DecideContext {
  hasFallback: boolean;
  /** The end of audio was asked for. */
  ending: boolean;
  /** Wall clock (ms) of this failure. */
  now: number;
}

export type DecisionOptions = Pick<ResilienceOptions, 'maxRetries' | 'backoffBaseMs' | 'backoffMaxMs' | 'failoverAfter'>;

export type Decision =
  /** Open a new stream of the engine that failed, after `delayMs`. */
  | { action: 'reconnect'; role: Role; delayMs: number }
  /** Switch from the primary to the fallback, at once. */
  | { action: 'failover'; role: 'fallback'; delayMs: 0 }
  /** The fallback cannot be opened (or failed for good): try the primary again after `delayMs`. */
  | { action: 'try_primary'; role: 'primary'; delayMs: number }
  /** Stop transcribing: the failure goes to the session. */
  | { action: 'give_up' };

/**
 * Decides what follows `failure` and returns the counters after it (the input is not changed).
 *
 * - The budget: a failure more than {@link BUDGET_REFILL_MS} after the previous one starts a fresh
 *   budget; it is spent when this failure is number `maxRetries + 1`.
 * - The delay: the first failure of a running stream (`consecutive` becomes 1) is answered at once;
 *   otherwise `backoffBaseMs * 2^(consecutive - 2)`, at most `backoffMaxMs`.
 * - Without a fallback: reconnect while retryable and within budget, else give up.
 * - Primary failed: fail over when it refused at open with an outage code, is not retryable, spent
 *   the budget or failed `failoverAfter` times in a row; else reconnect.
 * - Fallback failed while running and retryable: reconnect it. Otherwise (it cannot be opened, or
 *   failed for good): give up if the end of audio was asked for (the repair pass covers the rest),
 *   else try the primary after at least `backoffBaseMs`. The fallback is never given up on for its
 *   budget: the recording goes on and the repair pass fills the stretch in.
 */
export function decide(failure: Failure, before: Attempts, ctx: DecideContext, o: DecisionOptions): { decision: Decision; attempts: Attempts } {
  const retries = (ctx.now - before.lastFailureAt > BUDGET_REFILL_MS ? 0 : before.retries) + 1;
  const consecutive = before.consecutive + 1;
  const attempts: Attempts = { retries, consecutive, lastFailureAt: ctx.now };
  // The first failure of a stream that was running is answered at once: the engine was fine a
  // moment ago, and every second of waiting is a second of captions the clinician does not see.
  const immediate = failure.phase === 'stream' && consecutive === 1;
  const delayMs = immediate ? 0 : Math.min(o.backoffMaxMs, o.backoffBaseMs * 2 ** Math.max(0, consecutive - 2));
  const spent = retries > o.maxRetries;
  const decision = ((): Decision => {
    if (!ctx.hasFallback) {
      if (!failure.retryable || spent) return { action: 'give_up' };
      return { action: 'reconnect', role: failure.role, delayMs };
    }
    if (failure.role === 'primary') {
      const refused = failure.phase === 'open' && OUTAGE_CODES.has(failure.code ?? '');
      if (refused || !failure.retryable || spent || consecutive >= o.failoverAfter) {
        // The fallback takes over at once: the clinician keeps getting text. `consecutive` is not
        // reset here, so while neither engine opens, the attempts after it keep backing off.
        return { action: 'failover', role: 'fallback', delayMs: 0 };
      }
      return { action: 'reconnect', role: 'primary', delayMs };
    }
    // The fallback failed. While it runs it is reopened like the primary; when it cannot be opened
    // (e.g. at its stream cap) the primary is tried again after the backoff, then the fallback,
    // and so on: the recording continues and the repair pass fills the stretch in afterwards.
    if (failure.phase === 'stream' && failure.retryable) return { action: 'reconnect', role: 'fallback', delayMs };
    // At the end of audio nobody waits for more attempts: the repair pass covers the rest.
    if (ctx.ending) return { action: 'give_up' };
    return { action: 'try_primary', role: 'primary', delayMs: Math.max(delayMs, o.backoffBaseMs) };
  })();
  return { decision, attempts };
}

/**
 * The very first stream of a session failed to open on the primary: the fallback takes over when
 * there is one and the error is retryable; otherwise the session does not start (the error goes to
 * the caller of `start()`). Not counted as an attempt.
 */
export function decideFirstOpen(failure: Pick<Failure, 'retryable'>, hasFallback: boolean): Extract<Decision, { action: 'failover' | 'give_up' }> {
  return hasFallback && failure.retryable ? { action: 'failover', role: 'fallback', delayMs: 0 } : { action: 'give_up' };
}

/** How one engine stream's results ended, as the resilient stream saw it. */
export interface StreamEndFacts {
  /** What its iteration threw; undefined when it ended cleanly. */
  error: unknown;
  /** A probe opened the primary while this (fallback) stream was finishing. */
  probed: boolean;
  /** It was ended by the idle release. */
  idleReleased: boolean;
  /** We asked it to end (session end, switch back or idle release). */
  endAsked: boolean;
  /** Why we cut it off (the watchdog), if we did. */
  cutOff?: ProviderError;
}

export type StreamEnd =
  /** Attach the primary stream the probe opened. */
  | { kind: 'switch_to_primary' }
  /** Wait for speech, then reopen the same engine. */
  | { kind: 'idle' }
  /** The end of audio was transcribed: the session's results are complete. */
  | { kind: 'finished' }
  /** A failure, to be answered by {@link decide} in `phase`. */
  | { kind: 'failed'; error: ProviderError; phase: Phase };

/**
 * Classifies the end of one stream. A clean end nobody asked for (e.g. a silent HTTP/2 drop) is a
 * retryable `stream_ended_early`; a refusal that arrived after `start()` returned (`refusedAtOpen`)
 * counts as a failure to open.
 */
export function classifyStreamEnd(f: StreamEndFacts): StreamEnd {
  if (f.probed) return { kind: 'switch_to_primary' };
  const clean = f.error === undefined && !f.cutOff;
  if (clean && f.idleReleased) return { kind: 'idle' };
  if (clean && f.endAsked) return { kind: 'finished' };
  const error = f.cutOff ?? (f.error === undefined ? new ProviderError('stream ended before the end of audio', { retryable: true, code: 'stream_ended_early' }) : asProviderError(f.error));
  return { kind: 'failed', error, phase: error.refusedAtOpen ? 'open' : 'stream' };
}

/** Any thrown value as a ProviderError; what is not one counts as retryable. */
export function asProviderError(err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  return new ProviderError((err as Error)?.message ?? 'engine failure', { retryable: true, code: (err as { code?: string })?.code ?? 'unknown', cause: err });
}
