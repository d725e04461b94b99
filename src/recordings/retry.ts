import { setTimeout as sleep } from 'node:timers/promises';
import { isDatabaseDown } from '../lib/app-error.js';

export interface RetryPolicy {
  /** First wait after a failure. */
  baseMs: number;
  /** Longest wait between attempts. */
  maxMs: number;
  /** Give up after this many attempts; Infinity while a live session can still spool. */
  maxAttempts: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 250, maxMs: 10_000, maxAttempts: Infinity };

/** A failure that repeating cannot fix: a malformed object, a damaged spool, a protocol surprise. */
export class PermanentError extends Error {
  override readonly name: string = 'PermanentError';
}

/** S3/network failures worth repeating: network errors, timeouts, 5xx, throttling. */
export function isRetryableStorageError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof PermanentError || err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError) return false;
  if (err.name === 'AppError') return (err as Error & { retryable?: boolean }).retryable === true;
  // An error that says so itself (the object-store port's NoSuchUploadError).
  const says = (err as Error & { retryable?: unknown }).retryable;
  if (typeof says === 'boolean') return says;
  const e = err as Error & { $metadata?: { httpStatusCode?: number }; $retryable?: unknown; code?: string };
  // node-postgres errors: retry only when the database is unreachable, not on a failed statement.
  if ('severity' in e) return isDatabaseDown(err);
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 408 || status === 429 || e.name === 'SlowDown' || e.name === 'RequestTimeout';
  // No HTTP response at all: connection refused/reset, DNS, socket timeout, aborted.
  return true;
}

/**
 * Runs `fn` until it succeeds, a non-retryable error occurs, the policy's attempts run out or
 * `signal` aborts. Exponential backoff with full jitter. `onRetry` is told about each failure.
 */
export async function withRetry<T>(
  fn: () => Promise<T>,
  policy: RetryPolicy,
  hooks: { onRetry?: (err: unknown, attempt: number, waitMs: number) => void; signal?: AbortSignal } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetryableStorageError(err) || attempt >= policy.maxAttempts || hooks.signal?.aborted) throw err;
      const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt - 1, 20));
      const waitMs = Math.round(cap / 2 + (Math.random() * cap) / 2);
      hooks.onRetry?.(err, attempt, waitMs);
      await sleep(waitMs, undefined, hooks.signal ? { signal: hooks.signal } : undefined).catch(() => undefined);
      if (hooks.signal?.aborted) throw err;
    }
  }
}
