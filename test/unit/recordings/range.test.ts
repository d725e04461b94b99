import { describe, expect, it } from 'vitest';
import { parseRange } from '../../../src/recordings/range.js';

describe('parseRange (RFC 7233, one byte range)', () => {
  it.each([
    ['bytes=0-0', 1000, { kind: 'partial', start: 0, end: 0 }], // one byte, not the whole file
    ['bytes=5-5', 1000, { kind: 'partial', start: 5, end: 5 }],
    ['bytes=999-999', 1000, { kind: 'partial', start: 999, end: 999 }],
    ['bytes=999-', 1000, { kind: 'partial', start: 999, end: 999 }],
    ['bytes=0-', 1, { kind: 'partial', start: 0, end: 0 }],
    ['bytes=-1', 1000, { kind: 'partial', start: 999, end: 999 }],
    ['bytes=-1000', 1000, { kind: 'partial', start: 0, end: 999 }],
    ['  Bytes = 10 - 20  ', 1000, { kind: 'partial', start: 10, end: 20 }], // case and spaces are tolerated
    ['bytes=0-999', 1000, { kind: 'partial', start: 0, end: 999 }],
    ['bytes=0-1000', 1000, { kind: 'partial', start: 0, end: 999 }],
  ] as const)('%j of %i bytes → %j', (header, total, expected) => {
    expect(parseRange(header, total)).toEqual(expected);
  });

  it.each([
    ['bytes=-', 1000], // neither end: not a range
    ['xbytes=0-1', 1000],
    ['bytes=0-1x', 1000],
    ['bytes=a-b', 1000],
    ['bytes=1-0', 1000], // last before first: invalid, ignored
    ['', 1000],
  ])('%j of %i bytes is ignored: the whole resource', (header, total) => {
    expect(parseRange(header, total)).toEqual({ kind: 'full' });
  });

  it.each([
    ['bytes=1000-1000', 1000],
    ['bytes=1000-', 1000],
    ['bytes=0-', 0], // nothing to send from an empty resource
    ['bytes=-5', 0],
    ['bytes=-0', 1000],
  ])('%j of %i bytes is unsatisfiable (416)', (header, total) => {
    expect(parseRange(header, total)).toEqual({ kind: 'unsatisfiable' });
  });
});
