import { describe, expect, it } from 'vitest';
import { ProviderError } from '../../../src/transcription/port.js';
import { toProviderError } from '../../../src/transcription/providers/aws-transcribe-medical/errors.js';
import { APT_INSTALL_LINE, LocalEngineSetupError } from '../../../src/transcription/providers/local/index.js';
import { resolveModel } from '../../../src/transcription/providers/local/pocketsphinx.js';
import { ResultQueue } from '../../../src/transcription/result-queue.js';

const sdkError = (name: string, status?: number, fault?: 'client' | 'server') =>
  Object.assign(new Error(name), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}), ...(fault ? { $fault: fault } : {}) });

describe('toProviderError', () => {
  it.each([
    ['BadRequestException', 400, false],
    ['ConflictException', 409, false],
    ['LimitExceededException', 429, true],
    ['LimitExceededException', undefined, true],
    ['InternalFailureException', 500, true],
    ['ServiceUnavailableException', 503, true],
    ['UnrecognizedClientException', 403, false],
  ] as const)('%s (HTTP %s) → retryable=%s', (name, status, retryable) => {
    const pe = toProviderError(sdkError(name, status));
    expect(pe).toBeInstanceOf(ProviderError);
    expect(pe).toMatchObject({ retryable, code: name });
  });

  it('treats network failures without an HTTP status as retryable and modelled client faults as not', () => {
    expect(toProviderError(Object.assign(new Error('reset'), { code: 'ECONNRESET' })).retryable).toBe(true);
    expect(toProviderError(sdkError('BadRequestException', undefined, 'client')).retryable).toBe(false);
  });
});

describe('offline engine setup errors', () => {
  it('names the missing file when an alternative LM directory is wrong', () => {
    expect(() => resolveModel('/nonexistent/lm')).toThrow(LocalEngineSetupError);
    expect(() => resolveModel('/nonexistent/lm')).toThrow(/en-us\.lm\.bin/);
  });
  it('tells the exact apt-get line for the Debian packages', () => {
    expect(APT_INSTALL_LINE).toBe('sudo apt-get install -y libpocketsphinx3 pocketsphinx-en-us');
  });
});

describe('ResultQueue', () => {
  it('settles only after the consumer has drained every result', async () => {
    const q = new ResultQueue<number>();
    const got: number[] = [];
    let settled = false;
    q.push(1);
    q.push(2);
    q.close();
    const it = q[Symbol.asyncIterator]();
    const s = q.settled().then(() => (settled = true));
    got.push((await it.next()).value as number);
    await Promise.resolve();
    expect(settled).toBe(false);
    got.push((await it.next()).value as number);
    expect((await it.next()).done).toBe(true);
    await s;
    expect(got).toEqual([1, 2]);
  });

  it('delivers buffered results before a failure, then rejects settled with it', async () => {
    const q = new ResultQueue<number>();
    const err = new ProviderError('x', { retryable: true });
    q.push(1);
    q.fail(err);
    const it = q[Symbol.asyncIterator]();
    expect(await it.next()).toEqual({ value: 1, done: false });
    await expect(it.next()).rejects.toBe(err);
    await expect(q.settled()).rejects.toBe(err);
  });

  it('abort drops buffered results, wakes a waiting consumer and settles', async () => {
    const q = new ResultQueue<number>();
    const it = q[Symbol.asyncIterator]();
    const waiting = it.next();
    q.abort();
    expect(await waiting).toEqual({ value: undefined, done: true });
    q.push(5);
    expect((await it.next()).done).toBe(true);
    await q.settled();
  });
});
