import { AppError } from '../lib/app-error.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Microsecond precision, as PostgreSQL stores it: a millisecond JS Date would skip or repeat rows.
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** An opaque keyset cursor: base64url of `createdAt|id` (createdAt with microseconds, UTC). */
export function encodeCursor(createdAt: string, id: string): string {
  return Buffer.from(`${createdAt}|${id}`, 'utf8').toString('base64url');
}

/** @throws AppError `invalid_payload` when the cursor was not made by {@link encodeCursor}. */
export function decodeCursor(cursor: string): { createdAt: string; id: string } {
  const bad = () => new AppError('invalid_payload', 'Invalid or missing: cursor.', { details: { fields: ['cursor'] } });
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(cursor)) throw bad();
  const [createdAt, id, ...rest] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (rest.length || !createdAt || !id || !TIMESTAMP.test(createdAt) || !UUID.test(id)) throw bad();
  return { createdAt, id };
}

export function isUuid(value: string): boolean {
  return UUID.test(value);
}
