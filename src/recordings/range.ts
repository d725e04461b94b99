/** The outcome of reading a `Range` header against a resource of `total` bytes (RFC 7233). */
export type RangeResult =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

/**
 * Parses a single byte range: `bytes=a-b`, `bytes=a-`, `bytes=-n`. A missing, malformed or
 * multi-range header is ignored (the whole resource is sent, as RFC 7233 §3.1 allows); a
 * syntactically valid range that starts past the end is unsatisfiable (416).
 */
export function parseRange(header: string | undefined, total: number): RangeResult {
  if (header === undefined) return { kind: 'full' };
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return { kind: 'full' };
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return { kind: 'full' };
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0 || total === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, total - suffix), end: total - 1 };
  }
  const start = Number(a);
  const end = b === '' ? total - 1 : Number(b);
  if (b !== '' && end < start) return { kind: 'full' };
  if (start >= total) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: Math.min(end, total - 1) };
}
