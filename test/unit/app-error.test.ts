import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NOTICE_CODES } from '../../src/dictation/types.js';
import { AppError, ERROR_TABLE, errorAck, isDatabaseDown, toAppError } from '../../src/lib/app-error.js';

describe('AppError', () => {
  it('documents every code in docs/errors.md with its HTTP status', () => {
    const doc = fs.readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    for (const [code, { status }] of Object.entries(ERROR_TABLE)) {
      expect(doc, code).toMatch(new RegExp(`\\| \`${code}\` \\| ${status} \\|`));
    }
  });

  it('uses snake_case codes', () => {
    for (const code of Object.keys(ERROR_TABLE)) expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
  });

  it('serialises to the public shape and to a failed ack', () => {
    const err = new AppError('capacity_exceeded');
    expect(err.status).toBe(503);
    expect(err.toJSON()).toEqual({ error: { code: 'capacity_exceeded', message: ERROR_TABLE.capacity_exceeded.message } });
    expect(errorAck(err)).toEqual({ ok: false, error: { code: 'capacity_exceeded', message: ERROR_TABLE.capacity_exceeded.message } });
  });

  it('hides unknown errors behind internal_error and recognises a lost database', () => {
    const hidden = toAppError(new Error('SELECT secret FROM x failed'));
    expect(hidden.code).toBe('internal_error');
    expect(hidden.message).not.toContain('secret');
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(isDatabaseDown(refused)).toBe(true);
    expect(toAppError(refused).code).toBe('database_unavailable');
    expect(toAppError(new Error('Connection terminated unexpectedly')).code).toBe('database_unavailable');
  });
});

describe('session notices', () => {
  it('documents every notice code in the notices table of docs/errors.md, and nothing else there', () => {
    const doc = fs.readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Notices'));
    const documented = [...section.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.toSorted()).toEqual([...NOTICE_CODES].toSorted());
  });

  it('keeps the notices that are also error codes in ERROR_TABLE (a client switching on codes sees one meaning)', () => {
    expect(NOTICE_CODES.filter((c) => c in ERROR_TABLE).toSorted()).toEqual(['server_shutdown', 'storage_unavailable', 'transcriber_unavailable']);
  });
});
