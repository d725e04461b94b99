import { expect } from 'vitest';

/**
 * cdktf's `Testing.setupJest()` matchers for vitest. They behave like cdktf's
 * (`toHaveResourceWithProperties` passes when some resource of the type contains every expected
 * property; keys may be camelCase or snake_case; arrays match element by element) and also accept
 * vitest's asymmetric matchers (`expect.stringContaining(...)`) at any depth, which cdktf's own
 * comparison does not.
 */
type ResourceClass = { tfResourceType: string };
type Equals = (a: unknown, b: unknown) => boolean;

const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function isAsymmetric(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'asymmetricMatch' in value;
}

/** True when `received` contains `expected` (objects: subset of keys; arrays: same length, each contains). */
export function containsDeep(expected: unknown, received: unknown, equals: Equals): boolean {
  if (isAsymmetric(expected) || typeof expected !== 'object' || expected === null) return equals(received, expected);
  if (Array.isArray(expected)) {
    return Array.isArray(received) && expected.length === received.length && expected.every((e, i) => containsDeep(e, received[i], equals));
  }
  if (typeof received !== 'object' || received === null || Array.isArray(received)) return false;
  const obj = received as Record<string, unknown>;
  return Object.entries(expected).every(([key, value]) => {
    const actual = key in obj ? obj[key] : obj[snake(key)];
    return actual !== undefined && containsDeep(value, actual, equals);
  });
}

function check(equals: Equals, section: 'resource' | 'data', received: string, type: ResourceClass, properties: Record<string, unknown>) {
  const found = Object.values((JSON.parse(received)[section] ?? {})[type.tfResourceType] ?? {});
  const pass = found.some((item) => containsDeep(properties, item, equals));
  return {
    pass,
    message: () =>
      `expected ${pass ? 'no ' : ''}${section} ${type.tfResourceType} containing ${JSON.stringify(properties)}; found ${found.length}:\n` +
      JSON.stringify(found, null, 2).slice(0, 6000),
  };
}

expect.extend({
  toHaveResourceWithProperties(received: string, type: ResourceClass, properties: Record<string, unknown> = {}) {
    return check((a, b) => this.equals(a, b), 'resource', received, type, properties);
  },
  toHaveDataSourceWithProperties(received: string, type: ResourceClass, properties: Record<string, unknown> = {}) {
    return check((a, b) => this.equals(a, b), 'data', received, type, properties);
  },
});

declare module 'vitest' {
  interface Matchers<T = any> {
    toHaveResourceWithProperties(type: ResourceClass, properties?: Record<string, unknown>): T;
    toHaveDataSourceWithProperties(type: ResourceClass, properties?: Record<string, unknown>): T;
  }
}
