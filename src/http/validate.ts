import type { z } from 'zod';
import { AppError } from '../lib/app-error.js';
import { containsNul } from '../lib/text.js';

/**
 * Validates untrusted input against a schema.
 * @throws AppError `invalid_payload` naming the fields at fault (never echoing their values), also
 *   for a NUL character anywhere in the input (PostgreSQL cannot store one) or nesting past 32 levels.
 */
export function parseBody<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  if (containsNul(input)) throw new AppError('invalid_payload', 'Text must not contain NUL characters or nest deeper than 32 levels.', { details: { fields: ['(body)'] } });
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || '(body)'))].slice(0, 10);
    throw new AppError('invalid_payload', `Invalid or missing: ${fields.join(', ')}.`, { details: { fields } });
  }
  return parsed.data;
}
