import { ProviderError } from '../../port.js';

/** Exception names Transcribe uses for throttling and transient service trouble. */
const RETRYABLE_NAMES = new Set([
  'LimitExceededException',
  'ThrottlingException',
  'TooManyRequestsException',
  'InternalFailureException',
  'ServiceUnavailableException',
  'RequestTimeout',
  'TimeoutError',
]);

/**
 * Maps anything the SDK throws to a {@link ProviderError}: 4xx is not retryable except throttling
 * (429 / LimitExceededException); 5xx, service-unavailable and network failures (no HTTP status) are.
 */
export function toProviderError(err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  const e = (err ?? {}) as { name?: unknown; $metadata?: { httpStatusCode?: unknown }; $fault?: unknown; code?: unknown };
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  let retryable: boolean;
  if (RETRYABLE_NAMES.has(name) || status === 429) retryable = true;
  else if (status !== undefined) retryable = status >= 500;
  else if (name === 'CredentialsProviderError' || name.endsWith('Exception') || e.$fault === 'client') retryable = e.$fault === 'server';
  else retryable = true; // network-level: reset, refused, timeouts
  return new ProviderError(`Transcribe Medical: ${name}`, { retryable, code: name, cause: err });
}
