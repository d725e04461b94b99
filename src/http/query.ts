import { z } from 'zod';

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * A query-string instant: `YYYY-MM-DD` (a UTC day; as an upper bound it includes that whole day) or
 * an ISO 8601 date-time with a zone. Becomes a Date; `upper` turns a day into the next midnight.
 */
export function instant(upper: boolean) {
  return z
    .string()
    .max(40)
    .refine((s) => DATE_ONLY.test(s) || /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/.test(s))
    .transform((s, ctx) => {
      const d = new Date(DATE_ONLY.test(s) ? `${s}T00:00:00Z` : s);
      if (Number.isNaN(d.getTime())) {
        ctx.addIssue({ code: 'custom', message: 'not a date' });
        return z.NEVER;
      }
      if (upper && DATE_ONLY.test(s)) d.setUTCDate(d.getUTCDate() + 1);
      return d;
    });
}

export const limitParam = z
  .string()
  .regex(/^\d{1,3}$/)
  .transform(Number)
  .pipe(z.number().int().min(1).max(100));
