import fc from 'fast-check';

/** Strings an attacker tries first: traversal, injection, markup, NUL, lone surrogates, huge. */
export const HOSTILE_STRINGS = [
  '',
  '\u0000',
  'a\u0000b',
  '\uD800',
  '\uDFFF\uD800',
  '../../etc/passwd',
  '..%2f..%2fetc%2fpasswd',
  '%2e%2e%2f',
  '%00',
  '%zz',
  "' OR '1'='1",
  "'; DROP TABLE users; --",
  '<script>alert(1)</script>',
  '__proto__',
  'constructor',
  'prototype',
  '{"__proto__":{"polluted":1}}',
  '$where',
  '${jndi:ldap://x}',
  'x'.repeat(201),
  'y'.repeat(70_000),
];

const KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'sessionId', 'seq', 'data', 'title', 'audio', 'encoding', 'lastSeq', 'username', 'password', 'role', 'disabled', 'q', 'format'];

export const key = fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 12 }));

export const hostileString = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
);

export const hostileNumber = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, -1, 0.5, 2 ** 53, 2 ** 53 + 2, -(2 ** 31), 1e308),
);

/** Any JSON-ish leaf (no binary): what an HTTP body can carry. */
export const jsonLeaf = fc.oneof(hostileString, hostileNumber, fc.boolean(), fc.constant(null));

/** Any leaf, binary included: what a Socket.IO event can carry. */
export const socketLeaf = fc.oneof(
  { weight: 4, arbitrary: jsonLeaf },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

/** Objects own-keyed `__proto__`/`constructor` the way JSON.parse makes them. */
export const pollution = fc.constantFrom(
  JSON.parse('{"__proto__":{"polluted":"yes","isAdmin":true}}') as unknown,
  JSON.parse('{"constructor":{"prototype":{"polluted":"yes"}}}') as unknown,
  JSON.parse('{"audio":{"__proto__":{"encoding":"pcm_s16le","polluted":"yes"}},"__proto__":{"sessionId":"x"}}') as unknown,
  JSON.parse('{"sessionId":{"__proto__":{"toString":"x"}},"seq":{"valueOf":1}}') as unknown,
);

/** Nesting `depth` levels deep, arrays or objects. */
export function nested(depth: number, kind: 'array' | 'object'): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = kind === 'array' ? [v] : { a: v };
  return v;
}
export const deep = fc.tuple(fc.integer({ min: 33, max: 1500 }), fc.constantFrom('array' as const, 'object' as const)).map(([d, k]) => nested(d, k));

/** A random structure over `leaf`, a few levels deep. */
export function tree(leaf: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  const { node } = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.array(tie('node'), { maxLength: 4 }),
      fc.dictionary(key, tie('node'), { maxKeys: 4 }),
    ),
  }));
  return fc.oneof({ weight: 6, arbitrary: node }, { weight: 1, arbitrary: pollution }, { weight: 1, arbitrary: deep });
}
